using System.Net;
using System.Net.Http.Headers;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Jobs;

/// <summary>Submitting and following a job: validation, idempotency, ETag and long polls, 303 to the result.</summary>
public sealed class JobApiTests
{
    [Theory]
    [InlineData("""{"input":{}}""", "invalid-job-type")]
    [InlineData("""{"type":"bad type","input":{}}""", "invalid-job-type")]
    [InlineData("""{"type":7}""", "invalid-body")]
    [InlineData("""{"type":"share","inptu":{}}""", "invalid-body")]
    [InlineData("""{"type":"share","maxAttempts":0}""", "invalid-body")]
    [InlineData("""{"type":"share","maxAttempts":"3"}""", "invalid-body")]
    [InlineData("""{"type":"share","idempotencyKey":5}""", "invalid-body")]
    [InlineData("""{"type":"share",""", "malformed-json")]
    [InlineData("""[1]""", "invalid-body")]
    public async Task Submit_RejectsBadInput_WithAProblem(string body, string code)
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/jobs", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
        Assert.Null(await client.ClaimAsync("share", wait: 0));
    }

    [Fact]
    public async Task Submit_Answers202_WithLocationRetryAfterAndTheJob()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/jobs", """{"type":"share","input":{"post":"hello"}}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = HubApi.Parse(await response.Content.ReadAsStringAsync());
        var id = job.GetProperty("id").GetString()!;
        Assert.StartsWith("job_", id);
        Assert.Equal($"/v1/jobs/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter!.Delta);
        Assert.Equal("queued", job.GetProperty("status").GetString());
        Assert.Equal(0, job.GetProperty("attempts").GetInt32());
        Assert.False(job.TryGetProperty("progress", out _));
        Assert.Equal("queued", await client.StatusAsync(id));
    }

    [Fact]
    public async Task UnknownJob_Is404_AndWrongMethodIs405()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        await (await client.GetAsync("v1/jobs/job_nope")).AssertProblemAsync(HttpStatusCode.NotFound, "job-not-found");
        await (await client.DeleteAsync("v1/jobs/job_nope")).AssertProblemAsync(HttpStatusCode.NotFound, "job-not-found");
        await (await client.GetAsync("v1/jobs/job_nope/result")).AssertProblemAsync(HttpStatusCode.NotFound, "job-not-found");
        await (await client.WorkerAsync("job_nope", "heartbeat", "x")).AssertProblemAsync(HttpStatusCode.NotFound, "job-not-found");
        await (await client.GetAsync("v1/jobs")).AssertProblemAsync(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        await (await client.GetAsync("v1/queues/share/claim")).AssertProblemAsync(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        await (await client.PostAsync("v1/queues/bad%20type/claim", "{}")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-job-type");
        await (await client.PostAsync("v1/queues/share/claim?wait=abc", "{}")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-wait");
        await (await client.GetAsync("v1/jobs/job_nope?redirect=maybe")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-query");
    }

    [Fact]
    public async Task WorkerCalls_RejectBadBodies_WithProblems()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        await client.SubmitAsync();
        var claimed = (await client.ClaimAsync())!;

        await (await client.PostAsync($"v1/jobs/{claimed.Id}/heartbeat", "{}")).AssertProblemAsync(HttpStatusCode.BadRequest, "missing-lease");
        await (await client.WorkerAsync(claimed.Id, "progress", claimed.LeaseId, "\"percent\":101")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "progress", claimed.LeaseId)).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "progress", claimed.LeaseId, "\"output\":5")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "fail", claimed.LeaseId, "\"retryable\":\"yes\"")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "heartbeat", claimed.LeaseId, "\"leaseSeconds\":-1")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "complete", "someone-elses-lease", "\"result\":1")).AssertProblemAsync(HttpStatusCode.Conflict, "lease-lost");
        Assert.Equal("running", await client.StatusAsync(claimed.Id));
    }

    [Theory]
    // Request bodies are source-generated DTOs that refuse unknown members; names are exact (no case folding),
    // numbers are JSON numbers, and null is a wrong value except where it means "not given" (input, result, percent, output).
    [InlineData("""{"Type":"share"}""", "invalid-body")]
    [InlineData("""{"type":null}""", "invalid-body")]
    [InlineData("""{"type":"share","maxAttempts":null}""", "invalid-body")]
    [InlineData("""{"type":"share","maxAttempts":2.5}""", "invalid-body")]
    [InlineData("""{"type":"share","idempotencyKey":null}""", "invalid-body")]
    [InlineData("""{"priority":1,"input":{}}""", "invalid-body")]
    [InlineData("""{"type":"share","input":{},"extra":null}""", "invalid-body")]
    public async Task Submit_RefusesWhatTheRequestTypeDoesNotHave(string body, string code)
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/jobs", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
    }

    [Theory]
    [InlineData("""{"complete":5}""", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("""{"complete":"job_x"}""", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("""{"complete":{}}""", HttpStatusCode.BadRequest, "missing-lease")]
    [InlineData("""{"complete":{"id":"job_x"}}""", HttpStatusCode.BadRequest, "missing-lease")]
    [InlineData("""{"complete":{"leaseId":"l"}}""", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("""{"complete":{"id":"","leaseId":"l"}}""", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("""{"complete":{"id":7,"leaseId":"l"}}""", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("""{"complete":{"id":"a.b","leaseId":"l"}}""", HttpStatusCode.BadRequest, "invalid-job-id")]
    [InlineData("""{"complete":{"id":"job x","leaseId":"l"}}""", HttpStatusCode.BadRequest, "invalid-job-id")]
    [InlineData("""{"complete":{"id":"job_x","leaseId":"l","reslt":1}}""", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("""{"complete":{"id":"job_x","leaseId":"l","result":"\ud800"}}""", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("""{"compelte":{"id":"job_x","leaseId":"l"}}""", HttpStatusCode.BadRequest, "invalid-body")]
    public async Task ClaimWithComplete_RefusesBadCompletions_AndClaimsNothing(string body, HttpStatusCode status, string code)
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;

        using var response = await client.PostAsync("v1/queues/share/claim?wait=0", body);

        await response.AssertProblemAsync(status, code);
        Assert.Equal("queued", await client.StatusAsync(id));
    }

    [Fact]
    public async Task ClaimWithComplete_Null_IsAPlainClaim()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;

        Assert.Equal(id, (await client.ClaimAsync(wait: 0, body: """{"complete":null}"""))!.Id);
    }

    [Fact]
    public async Task Submit_NullInput_IsTheJsonNull()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/jobs", """{"type":"share","input":null,"maxAttempts":2}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        using var claimed = await client.PostAsync("v1/queues/share/claim?wait=0", "{}");
        var job = HubApi.Parse(await claimed.Content.ReadAsStringAsync()).GetProperty("job");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, job.GetProperty("input").ValueKind);
        Assert.Equal(2, job.GetProperty("maxAttempts").GetInt32());
    }

    [Fact]
    public async Task WorkerCalls_RefuseUnknownMembers_AndNulls_AndKeepTheMissingLeaseFirst()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        await client.SubmitAsync();

        // The claim's body too: an unknown member, a null worker, a lease given as a string.
        await (await client.PostAsync("v1/queues/share/claim?wait=0", """{"workerName":"w"}""")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.PostAsync("v1/queues/share/claim?wait=0", """{"worker":null}""")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.PostAsync("v1/queues/share/claim?wait=0", """{"leaseSeconds":"30"}""")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        var claimed = (await client.ClaimAsync())!;

        foreach (var action in new[] { "heartbeat", "progress", "complete", "fail" })
        {
            await (await client.WorkerAsync(claimed.Id, action, claimed.LeaseId, "\"lease\":1")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
            await (await client.WorkerAsync(claimed.Id, action, claimed.LeaseId, "\"LeaseId\":\"x\"")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
            await (await client.PostAsync($"v1/jobs/{claimed.Id}/{action}", """{"leaseId":null}""")).AssertProblemAsync(HttpStatusCode.BadRequest, "missing-lease");
        }

        // A member of the wrong type without a lease is still a missing lease, as it always was.
        await (await client.PostAsync($"v1/jobs/{claimed.Id}/heartbeat", """{"leaseSeconds":"x"}""")).AssertProblemAsync(HttpStatusCode.BadRequest, "missing-lease");
        await (await client.PostAsync($"v1/jobs/{claimed.Id}/progress", """{"leaseId":5,"percent":"x"}""")).AssertProblemAsync(HttpStatusCode.BadRequest, "missing-lease");
        await (await client.WorkerAsync(claimed.Id, "heartbeat", claimed.LeaseId, "\"leaseSeconds\":null")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "fail", claimed.LeaseId, "\"retryable\":null")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "fail", claimed.LeaseId, "\"error\":null")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        await (await client.WorkerAsync(claimed.Id, "progress", claimed.LeaseId, "\"percent\":12.5")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
        Assert.Equal("running", await client.StatusAsync(claimed.Id));

        // Null percent or output is the same as leaving it out.
        using var progressed = await client.WorkerAsync(claimed.Id, "progress", claimed.LeaseId, "\"percent\":null,\"output\":\"chunk\"");
        Assert.Equal(HttpStatusCode.OK, progressed.StatusCode);
        using var completed = await client.WorkerAsync(claimed.Id, "complete", claimed.LeaseId, "\"result\":null");
        Assert.Equal(HttpStatusCode.OK, completed.StatusCode);
        Assert.Equal("succeeded", await client.StatusAsync(claimed.Id));
    }

    [Fact]
    public async Task IdempotentSubmit_ReturnsTheExistingJob_FromHeaderOrBody()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        const string Body = """{"type":"share","input":{"post":"once"}}""";

        using var first = await client.PostAsync("v1/jobs", Body, idempotencyKey: "share-42");
        using var again = await client.PostAsync("v1/jobs", Body, idempotencyKey: "share-42");
        using var inBody = await client.PostAsync("v1/jobs", """{"type":"share","input":{"post":"once"},"idempotencyKey":"share-42"}""");
        using var different = await client.PostAsync("v1/jobs", """{"type":"share","input":{"post":"other"}}""", idempotencyKey: "share-42");

        var id = HubApi.Parse(await first.Content.ReadAsStringAsync()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(id, HubApi.Parse(await again.Content.ReadAsStringAsync()).GetProperty("id").GetString());
        Assert.Equal(id, HubApi.Parse(await inBody.Content.ReadAsStringAsync()).GetProperty("id").GetString());
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        await different.AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.NotNull(await client.ClaimAsync(wait: 0));
        Assert.Null(await client.ClaimAsync(wait: 0)); // one job, not three
    }

    [Fact]
    public async Task IdempotentSubmit_StillFindsTheJob_AfterItFinished()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        using var first = await client.PostAsync("v1/jobs", """{"type":"share","input":1}""", idempotencyKey: "k");
        var claimed = (await client.ClaimAsync())!;
        await client.WorkerOkAsync(claimed.Id, "complete", claimed.LeaseId, "\"result\":2");

        using var again = await client.PostAsync("v1/jobs", """{"type":"share","input":1}""", idempotencyKey: "k");

        var job = HubApi.Parse(await again.Content.ReadAsStringAsync());
        Assert.Equal(claimed.Id, job.GetProperty("id").GetString());
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Get_SupportsETag_AndTheLongPollReturnsWhenTheStatusChanges()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        using var first = await client.GetAsync($"v1/jobs/{id}");
        var etag = first.Headers.ETag!;

        using var notModified = await SendAsync(client, $"v1/jobs/{id}", etag);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        var poll = SendAsync(client, $"v1/jobs/{id}?wait=30", etag);
        Assert.False(poll.IsCompleted, "the long poll answered before anything changed");
        var claimed = (await client.ClaimAsync())!;
        using var changed = await poll.Within();

        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag);
        Assert.Equal("running", HubApi.Parse(await changed.Content.ReadAsStringAsync()).GetProperty("status").GetString());

        // Progress is a change too.
        var progressPoll = SendAsync(client, $"v1/jobs/{id}?wait=30", changed.Headers.ETag!);
        await client.WorkerOkAsync(id, "progress", claimed.LeaseId, "\"percent\":40");
        using var progressed = await progressPoll.Within();
        Assert.Equal(40, HubApi.Parse(await progressed.Content.ReadAsStringAsync()).GetProperty("progress").GetInt32());
    }

    [Fact]
    public async Task LongPoll_WithoutIfNoneMatch_IsHeldUntilTheJobChanges_AndAFinishedJobAnswersAtOnce()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;

        var poll = client.GetAsync($"v1/jobs/{id}?wait=30");
        await client.ClaimAsync();
        using var changed = await poll.Within(TimeSpan.FromSeconds(40));
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        // Held from the state at the request (queued), so it answers with the change, not with what stood.
        Assert.Equal("running", HubApi.Parse(await changed.Content.ReadAsStringAsync()).GetProperty("status").GetString());

        using var canceled = await client.DeleteAsync($"v1/jobs/{id}");
        using var final = await client.GetAsync($"v1/jobs/{id}?wait=30").Within(TimeSpan.FromSeconds(15));
        Assert.Equal("canceled", HubApi.Parse(await final.Content.ReadAsStringAsync()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task LongPoll_Answers304_AtTheTimeout_WhenNothingChanged()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        using var first = await client.GetAsync($"v1/jobs/{id}");

        var started = System.Diagnostics.Stopwatch.StartNew();
        using var response = await SendAsync(client, $"v1/jobs/{id}?wait=0.3", first.Headers.ETag!);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(250), $"answered after {started.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Redirect_Is303ToTheResult_OnceSucceeded_AndTheResultRevalidatesWith304()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = server.BaseAddress };
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;

        using (var running = await client.GetAsync($"v1/jobs/{id}?redirect=true"))
        {
            Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        }

        await (await client.GetAsync($"v1/jobs/{id}/result")).AssertProblemAsync(HttpStatusCode.Conflict, "job-not-succeeded");
        var claimed = (await client.ClaimAsync())!;
        await client.WorkerOkAsync(id, "complete", claimed.LeaseId, """ "result":{"url":"https://example.com/p/1"} """);

        using var redirect = await client.GetAsync($"v1/jobs/{id}?redirect=true");
        Assert.Equal(HttpStatusCode.SeeOther, redirect.StatusCode);
        Assert.Equal($"/v1/jobs/{id}/result", redirect.Headers.Location!.OriginalString);
        using var result = await client.GetAsync($"v1/jobs/{id}/result");
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        Assert.Equal("""{"url":"https://example.com/p/1"}""", await result.Content.ReadAsStringAsync());
        using (var unchanged = await SendAsync(client, $"v1/jobs/{id}/result", result.Headers.ETag!))
        {
            Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
            Assert.Equal(result.Headers.ETag, unchanged.Headers.ETag);
            Assert.Empty(await unchanged.Content.ReadAsByteArrayAsync());
        }

        using (var other = await SendAsync(client, $"v1/jobs/{id}/result", new EntityTagHeaderValue("\"someone-else\"")))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        var job = await client.GetJobAsync(id);
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal("https://example.com/p/1", job.GetProperty("result").GetProperty("url").GetString());
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string path, EntityTagHeaderValue etag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.IfNoneMatch.Add(etag);
        return await client.SendAsync(request).Within();
    }
}
