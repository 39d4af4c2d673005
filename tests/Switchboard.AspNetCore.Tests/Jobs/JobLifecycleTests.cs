using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Jobs;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Jobs;

/// <summary>The work queue over HTTP: leases, retries, cancellation, concurrency, in-process handlers.</summary>
public sealed class JobLifecycleTests
{
    [Fact]
    public async Task RepeatedCompleteOrFail_WithTheSameLeaseAndOutcome_IsAnsweredWithTheJob_OnSqlite()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        await Switchboard.Testing.Jobs.RepeatedWorkerCalls.RepeatedCompleteAndFail_AreAnsweredWithTheJob_AnotherOutcomeIsLeaseLost(client);
    }

    [Fact]
    public async Task Claim_Answers204_WhenNothingCameWithinTheWait_AndWakesWhenAJobArrives()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();

        Assert.Null(await client.ClaimAsync(wait: 0.1));

        var claim = client.ClaimAsync(wait: 30);
        var submitted = await client.SubmitAsync(input: """{"post":"wake"}""");
        var claimed = await claim.Within();

        Assert.NotNull(claimed);
        Assert.Equal(submitted.GetProperty("id").GetString(), claimed.Id);
        Assert.Equal("running", claimed.Job.GetProperty("status").GetString());
        Assert.Equal(1, claimed.Job.GetProperty("attempts").GetInt32());
        Assert.Equal("wake", claimed.Job.GetProperty("input").GetProperty("post").GetString());
    }

    [Fact]
    public async Task Claims_TakeJobsOfTheirTypeOnly_OldestFirst()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var a = (await client.SubmitAsync("share")).GetProperty("id").GetString();
        var other = (await client.SubmitAsync("resize")).GetProperty("id").GetString();
        var b = (await client.SubmitAsync("share")).GetProperty("id").GetString();

        Assert.Equal(a, (await client.ClaimAsync("share", wait: 0))!.Id);
        Assert.Equal(b, (await client.ClaimAsync("share", wait: 0))!.Id);
        Assert.Null(await client.ClaimAsync("share", wait: 0));
        Assert.Equal(other, (await client.ClaimAsync("resize", wait: 0))!.Id);
    }

    [Fact]
    public async Task ExpiredLease_ReturnsTheJobToTheQueue_AndTheOldLeaseIsRefused()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var crashed = (await client.ClaimAsync(body: """{"worker":"w1","leaseSeconds":0.2}"""))!;

        // The worker "crashes": no heartbeat. The sweep requeues the job, and another worker gets it.
        var second = (await client.ClaimAsync(wait: 10, body: """{"worker":"w2"}"""))!;

        Assert.Equal(id, second.Id);
        Assert.Equal(2, second.Job.GetProperty("attempts").GetInt32());
        Assert.NotEqual(crashed.LeaseId, second.LeaseId);
        Assert.Equal("lease-expired", second.Job.GetProperty("error").GetProperty("code").GetString());
        await (await client.WorkerAsync(id, "heartbeat", crashed.LeaseId)).AssertProblemAsync(HttpStatusCode.Conflict, "lease-lost");
        await (await client.WorkerAsync(id, "complete", crashed.LeaseId, "\"result\":1")).AssertProblemAsync(HttpStatusCode.Conflict, "lease-lost");
        await client.WorkerOkAsync(id, "complete", second.LeaseId, "\"result\":2");
        Assert.Equal(2, (await client.GetJobAsync(id)).GetProperty("result").GetInt32());
    }

    [Fact]
    public async Task Heartbeats_KeepTheLease()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync(body: """{"leaseSeconds":2}"""))!;

        // Heartbeat well inside the lease for about two and a half lease lengths; the job never goes back to the queue.
        // A round here takes about 0.1 s (the claim's wait), so even a loaded machine stays far inside the 2 s lease.
        var until = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < until)
        {
            var lease = await client.WorkerOkAsync(id, "heartbeat", claimed.LeaseId, "\"leaseSeconds\":2");
            Assert.Equal(claimed.LeaseId, lease.GetProperty("leaseId").GetString());
            Assert.Null(await client.ClaimAsync(wait: 0.1));
        }

        Assert.Equal("running", await client.StatusAsync(id));
        Assert.Equal(1, (await client.GetJobAsync(id)).GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task ABareHeartbeatOrProgress_ExtendsByTheClaimedLength_NotTheDefault()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync(body: """{"leaseSeconds":600}"""))!;

        // The default lease is 30 s: a renewal cut to it would expire within a minute, not in about ten.
        var before = DateTimeOffset.UtcNow;
        var beat = await client.WorkerOkAsync(id, "heartbeat", claimed.LeaseId);
        Assert.InRange(beat.GetProperty("leaseExpiresAt").GetDateTimeOffset() - before, TimeSpan.FromSeconds(590), TimeSpan.FromSeconds(610));

        await client.WorkerOkAsync(id, "progress", claimed.LeaseId, "\"percent\":10");
        Assert.Null(await client.ClaimAsync(wait: 0));
        var shorter = await client.WorkerOkAsync(id, "heartbeat", claimed.LeaseId, "\"leaseSeconds\":120");
        Assert.InRange(shorter.GetProperty("leaseExpiresAt").GetDateTimeOffset() - before, TimeSpan.FromSeconds(110), TimeSpan.FromSeconds(130));
        var again = await client.WorkerOkAsync(id, "heartbeat", claimed.LeaseId);
        Assert.InRange(again.GetProperty("leaseExpiresAt").GetDateTimeOffset() - before, TimeSpan.FromSeconds(110), TimeSpan.FromSeconds(130));
    }

    [Fact]
    public async Task LeaseExpiry_OnTheLastAttempt_FailsTheJob()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync(extra: ",\"maxAttempts\":1")).GetProperty("id").GetString()!;
        await client.ClaimAsync(body: """{"leaseSeconds":0.1}""");

        await client.UntilStatusAsync(id, "failed");

        Assert.Equal("lease-expired", (await client.GetJobAsync(id)).GetProperty("error").GetProperty("code").GetString());
        Assert.Null(await client.ClaimAsync(wait: 0));
    }

    [Fact]
    public async Task RetryableFailures_AreRetriedWithBackoff_UntilMaxAttempts_ThenFailed()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(o => o.Jobs.RetryBackoff = TimeSpan.FromMilliseconds(300)));
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync(extra: ",\"maxAttempts\":3")).GetProperty("id").GetString()!;

        // Measured from before the failure is sent: the server cannot start the backoff earlier than that, however
        // long its answer takes to come back on a loaded machine.
        var failureSent = DateTime.UtcNow;
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var claimed = (await client.ClaimAsync(wait: 10))!;
            Assert.Equal(attempt, claimed.Job.GetProperty("attempts").GetInt32());
            if (attempt > 1)
            {
                // The backoff doubles: 300 ms before the 2nd attempt, 600 ms before the 3rd.
                var backoff = TimeSpan.FromMilliseconds(300 * (1 << (attempt - 2)));
                var waited = DateTime.UtcNow - failureSent;
                Assert.True(waited >= backoff - TimeSpan.FromMilliseconds(50), $"attempt {attempt} came {waited.TotalMilliseconds} ms after the failure was sent");
            }

            failureSent = DateTime.UtcNow;
            var after = await client.WorkerOkAsync(id, "fail", claimed.LeaseId, $$""" "error":"smtp timeout {{attempt}}","retryable":true """);
            Assert.Equal(attempt < 3 ? "queued" : "failed", after.GetProperty("status").GetString());
        }

        var job = await client.GetJobAsync(id);
        Assert.Equal("failed", job.GetProperty("status").GetString());
        Assert.Equal(3, job.GetProperty("attempts").GetInt32());
        Assert.Equal("smtp timeout 3", job.GetProperty("error").GetProperty("detail").GetString());
        Assert.Equal("urn:switchboard:problem:job-failed", job.GetProperty("error").GetProperty("type").GetString());
        Assert.Null(await client.ClaimAsync(wait: 1));
    }

    [Fact]
    public async Task PermanentFailure_FailsAtOnce_WithTheWorkersProblem()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync())!;

        await client.WorkerOkAsync(id, "fail", claimed.LeaseId, """ "error":{"type":"https://example.com/bad-post","title":"Post rejected","detail":"too long"},"retryable":false """);

        var job = await client.GetJobAsync(id);
        Assert.Equal("failed", job.GetProperty("status").GetString());
        Assert.Equal("Post rejected", job.GetProperty("error").GetProperty("title").GetString());
        Assert.Null(await client.ClaimAsync(wait: 0.2));
    }

    [Fact]
    public async Task Cancel_OfARunningJob_IsSeenByTheWorker_AtItsNextHeartbeatOrProgress()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync())!;
        await client.WorkerOkAsync(id, "progress", claimed.LeaseId, "\"percent\":10");

        using var cancel = await client.DeleteAsync($"v1/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("canceled", HubApi.Parse(await cancel.Content.ReadAsStringAsync()).GetProperty("status").GetString());
        await (await client.WorkerAsync(id, "heartbeat", claimed.LeaseId)).AssertProblemAsync(HttpStatusCode.Conflict, "job-canceled");
        await (await client.WorkerAsync(id, "progress", claimed.LeaseId, "\"percent\":20")).AssertProblemAsync(HttpStatusCode.Conflict, "job-canceled");
        await (await client.WorkerAsync(id, "complete", claimed.LeaseId, "\"result\":1")).AssertProblemAsync(HttpStatusCode.Conflict, "job-canceled");
        Assert.Equal("canceled", await client.StatusAsync(id));
        using var again = await client.DeleteAsync($"v1/jobs/{id}");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode); // canceling twice is harmless
    }

    [Fact]
    public async Task Cancel_OfAQueuedJob_TakesItOutOfTheQueue_AndAFinishedJobCannotBeCanceled()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var queued = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        using (var cancel = await client.DeleteAsync($"v1/jobs/{queued}"))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        Assert.Null(await client.ClaimAsync(wait: 0.2));

        var done = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync())!;
        await client.WorkerOkAsync(done, "complete", claimed.LeaseId, "\"result\":true");
        await (await client.DeleteAsync($"v1/jobs/{done}")).AssertProblemAsync(HttpStatusCode.Conflict, "job-finished");
        await (await client.WorkerAsync(done, "complete", claimed.LeaseId, "\"result\":false")).AssertProblemAsync(HttpStatusCode.Conflict, "lease-lost");
    }

    [Theory]
    [InlineData(false, 16)]
    [InlineData(true, 8)]
    public async Task ConcurrentWorkers_RunEveryJobExactlyOnce(bool completeWithNextClaim, int claimers)
    {
        const int Jobs = 200;
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var submitted = new List<string>();
        for (var i = 0; i < Jobs; i++)
        {
            submitted.Add((await client.SubmitAsync(input: i.ToString(System.Globalization.CultureInfo.InvariantCulture))).GetProperty("id").GetString()!);
        }

        var claims = new ConcurrentBag<string>();
        var workers = Enumerable.Range(0, claimers).Select(w => Task.Run(async () =>
        {
            using var worker = server.CreateClient();
            var claimed = await worker.ClaimAsync(wait: 0.5, body: $$"""{"worker":"w{{w}}"}""");
            while (claimed is not null)
            {
                claims.Add(claimed.Id);
                if (completeWithNextClaim)
                {
                    // The loop a worker runs back to back: each claim completes the job before it.
                    claimed = await worker.ClaimAsync(wait: 0.5,
                        body: $$$"""{"worker":"w{{{w}}}","complete":{"id":"{{{claimed.Id}}}","leaseId":"{{{claimed.LeaseId}}}","result":["w{{{w}}}"]}}""");
                }
                else
                {
                    await worker.WorkerOkAsync(claimed.Id, "complete", claimed.LeaseId, $"\"result\":[\"w{w}\"]");
                    claimed = await worker.ClaimAsync(wait: 0.5, body: $$"""{"worker":"w{{w}}"}""");
                }
            }
        }));
        await Task.WhenAll(workers).Within(TimeSpan.FromSeconds(60));

        Assert.Equal(Jobs, claims.Count);
        Assert.Equal(submitted.Order(), claims.Order());
        foreach (var id in submitted)
        {
            var job = await client.GetJobAsync(id);
            Assert.Equal(("succeeded", 1), (job.GetProperty("status").GetString(), job.GetProperty("attempts").GetInt32()));
        }

        using var result = await client.GetAsync($"v1/jobs/{submitted[0]}/result");
        Assert.StartsWith("[\"w", await result.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClaimWithComplete_IsRefusedWhole_WhenTheCompletionIs()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var first = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var second = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync(wait: 0))!;

        using (var wrongLease = await client.PostAsync("v1/queues/share/claim?wait=0", $$$"""{"complete":{"id":"{{{first}}}","leaseId":"nope"}}"""))
        {
            await wrongLease.AssertProblemAsync(HttpStatusCode.Conflict, "lease-lost");
        }

        using (var unknown = await client.PostAsync("v1/queues/share/claim?wait=0", """{"complete":{"id":"job_nope","leaseId":"x"}}"""))
        {
            await unknown.AssertProblemAsync(HttpStatusCode.NotFound, "job-not-found");
        }

        // Nothing was claimed by the refused calls: the second job is still first in line, the first still runs.
        Assert.Equal("running", await client.StatusAsync(first));
        Assert.Equal("queued", await client.StatusAsync(second));
        var next = await client.ClaimAsync(wait: 0, body: $$$"""{"complete":{"id":"{{{first}}}","leaseId":"{{{claimed.LeaseId}}}"}}""");
        Assert.Equal(second, next!.Id);
        Assert.Equal("succeeded", await client.StatusAsync(first));
        using var result = await client.GetAsync($"v1/jobs/{first}/result");
        Assert.Equal("null", await result.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ClaimWithComplete_WhenTheQueueIsEmpty_CompletesAndAnswers204()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync(wait: 0))!;

        Assert.Null(await client.ClaimAsync(wait: 0.1, body: $$$"""{"complete":{"id":"{{{id}}}","leaseId":"{{{claimed.LeaseId}}}","result":[1,2]}}"""));

        Assert.Equal("succeeded", await client.StatusAsync(id));
        using var result = await client.GetAsync($"v1/jobs/{id}/result");
        Assert.Equal("[1,2]", await result.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task InProcessHandler_RunsJobsFromTheSameQueue_WithProgressAndRetries()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), services: s => s.AddJobHandler<FlakyUpperHandler>("upper", concurrency: 2));
        using var client = server.CreateClient();

        var id = (await client.SubmitAsync("upper", "\"hello\"")).GetProperty("id").GetString()!;
        await client.UntilStatusAsync(id, "succeeded");

        var job = await client.GetJobAsync(id);
        Assert.Equal("HELLO", job.GetProperty("result").GetString());
        Assert.Equal(2, job.GetProperty("attempts").GetInt32()); // the first attempt threw, and was retried
        Assert.Equal(100, job.GetProperty("progress").GetInt32());
    }

    [Fact]
    public async Task InProcessHandler_IsCanceled_WhenTheJobIs()
    {
        await using var server = await HubServer.StartAsync(
            JobKit.Options(o => o.Jobs.LeaseDuration = TimeSpan.FromMilliseconds(300)),
            services: s => s.AddJobHandler<WaitForeverHandler>("forever"));
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync("forever", "null")).GetProperty("id").GetString()!;
        await client.UntilStatusAsync(id, "running");

        using var cancel = await client.DeleteAsync($"v1/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        await Waiting.UntilAsync(() => WaitForeverHandler.Canceled.Contains(id), "the handler's token to fire");
        Assert.Equal("canceled", await client.StatusAsync(id));
    }

    [Fact]
    public async Task Jobs_SurviveARestart_OfTheHub()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "switchboard.db");
        string queued, running, done;
        await using (var server = await HubServer.StartAsync(JobKit.Options(), sqlitePath: path))
        {
            using var client = server.CreateClient();
            done = (await client.SubmitAsync()).GetProperty("id").GetString()!;
            var claimed = (await client.ClaimAsync())!;
            await client.WorkerOkAsync(done, "complete", claimed.LeaseId, "\"result\":\"ok\"");
            running = (await client.SubmitAsync()).GetProperty("id").GetString()!;
            await client.ClaimAsync(body: """{"leaseSeconds":0.3}""");
            queued = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        }

        await using (var server = await HubServer.StartAsync(JobKit.Options(), sqlitePath: path))
        {
            using var client = server.CreateClient();
            Assert.Equal("succeeded", await client.StatusAsync(done));
            Assert.Equal("ok", (await client.GetJobAsync(done)).GetProperty("result").GetString());

            // The running job's worker is gone with the old process: its lease runs out and it is claimed again. Which
            // of the two comes first depends on whether the lease ran out during the restart (a requeued job keeps its
            // place by submit time), so only the pair is fixed.
            var first = (await client.ClaimAsync(wait: 10))!;
            var second = (await client.ClaimAsync(wait: 10))!;
            Assert.Equal(new[] { queued, running }.Order(), new[] { first.Id, second.Id }.Order());
            var reclaimed = first.Id == running ? first : second;
            Assert.Equal(2, reclaimed.Job.GetProperty("attempts").GetInt32());
            Assert.Equal(1, (first.Id == queued ? first : second).Job.GetProperty("attempts").GetInt32());
        }
    }

    private sealed class FlakyUpperHandler : IJobHandler
    {
        public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
        {
            await context.ReportProgressAsync(50, "half", cancellationToken);
            if (context.Attempt == 1)
            {
                throw new InvalidOperationException("flaky");
            }

            await context.ReportProgressAsync(100, cancellationToken: cancellationToken);
            return JsonSerializer.SerializeToElement(context.Input.GetString()!.ToUpperInvariant());
        }
    }

    private sealed class WaitForeverHandler : IJobHandler
    {
        public static readonly ConcurrentBag<string> Canceled = [];

        public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Canceled.Add(context.Id);
                throw;
            }

            return null;
        }
    }
}
