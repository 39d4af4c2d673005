using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Switchboard.Testing.Jobs;

/// <summary>
/// A worker's network retry of a complete or fail that went through (its answer lost) must not look like a failure:
/// the same call with the same lease and the same outcome answers 200 with the job as it stands; another outcome with
/// that lease stays <c>409 lease-lost</c>. Run over HTTP against a hub on each job store.
/// </summary>
public static class RepeatedWorkerCalls
{
    /// <param name="client">The worker's hub.</param>
    /// <param name="retry">Where its retries go (another node of the hub, behind a load balancer); the same by default.</param>
    public static async Task RepeatedCompleteAndFail_AreAnsweredWithTheJob_AnotherOutcomeIsLeaseLost(HttpClient client, HttpClient? retry = null)
    {
        retry ??= client;
        var type = "retry" + Guid.NewGuid().ToString("N")[..8];

        // complete, twice: the same job, one job.succeeded event.
        var (id, lease) = await SubmitAndClaimAsync(client, type);
        var first = await PostAsync(client, $"v1/jobs/{id}/complete", new { leaseId = lease, result = new { url = "https://x/1" } }, HttpStatusCode.OK);
        var again = await PostAsync(retry, $"v1/jobs/{id}/complete", new { leaseId = lease, result = new { url = "https://x/1" } }, HttpStatusCode.OK);
        Assert.Equal("succeeded", again.GetProperty("status").GetString());
        Assert.Equal(first.GetProperty("updatedAt").GetString(), again.GetProperty("updatedAt").GetString());
        Assert.Equal(first.GetProperty("result").GetRawText(), again.GetProperty("result").GetRawText());
        var other = await PostAsync(client, $"v1/jobs/{id}/complete", new { leaseId = lease, result = new { url = "https://x/2" } }, HttpStatusCode.Conflict);
        Assert.Equal("lease-lost", other.GetProperty("code").GetString());
        var failed = await PostAsync(client, $"v1/jobs/{id}/fail", new { leaseId = lease, error = "boom", retryable = false }, HttpStatusCode.Conflict);
        Assert.Equal("lease-lost", failed.GetProperty("code").GetString());
        var stranger = await PostAsync(client, $"v1/jobs/{id}/complete", new { leaseId = "not-the-lease", result = new { url = "https://x/1" } }, HttpStatusCode.Conflict);
        Assert.Equal("lease-lost", stranger.GetProperty("code").GetString());
        Assert.Equal(1, await CountEventsAsync(client, id, "job.succeeded"));

        // fail (permanent), twice: the same failed job; completing it with that lease afterwards is another outcome.
        (id, lease) = await SubmitAndClaimAsync(client, type);
        var failedOnce = await PostAsync(client, $"v1/jobs/{id}/fail", new { leaseId = lease, error = "boom", retryable = false }, HttpStatusCode.OK);
        var failedTwice = await PostAsync(retry, $"v1/jobs/{id}/fail", new { leaseId = lease, error = "boom", retryable = false }, HttpStatusCode.OK);
        Assert.Equal("failed", failedTwice.GetProperty("status").GetString());
        Assert.Equal(failedOnce.GetProperty("updatedAt").GetString(), failedTwice.GetProperty("updatedAt").GetString());
        await PostAsync(client, $"v1/jobs/{id}/fail", new { leaseId = lease, error = "another", retryable = false }, HttpStatusCode.Conflict);
        await PostAsync(client, $"v1/jobs/{id}/complete", new { leaseId = lease, result = 1 }, HttpStatusCode.Conflict);
        Assert.Equal(1, await CountEventsAsync(client, id, "job.failed"));

        // A retryable fail, twice: queued once for its retry, not a second attempt burned.
        (id, lease) = await SubmitAndClaimAsync(client, type);
        var retried = await PostAsync(client, $"v1/jobs/{id}/fail", new { leaseId = lease, error = "flaky", retryable = true }, HttpStatusCode.OK);
        var retriedAgain = await PostAsync(retry, $"v1/jobs/{id}/fail", new { leaseId = lease, error = "flaky", retryable = true }, HttpStatusCode.OK);
        Assert.Equal("queued", retried.GetProperty("status").GetString());
        Assert.Equal(retried.GetProperty("updatedAt").GetString(), retriedAgain.GetProperty("updatedAt").GetString());
        Assert.Equal(1, await CountEventsAsync(client, id, "job.queued", after: "job.running"));
    }

    private static async Task<(string Id, string Lease)> SubmitAndClaimAsync(HttpClient client, string type)
    {
        var submitted = await PostAsync(client, "v1/jobs", new { type, input = new { n = 1 } }, HttpStatusCode.Accepted);
        var id = submitted.GetProperty("id").GetString()!;
        var claim = await PostAsync(client, $"v1/queues/{type}/claim", new { worker = "w1" }, HttpStatusCode.OK);
        Assert.Equal(id, claim.GetProperty("job").GetProperty("id").GetString());
        return (id, claim.GetProperty("leaseId").GetString()!);
    }

    private static async Task<JsonElement> PostAsync(HttpClient client, string path, object body, HttpStatusCode expected)
    {
        using var response = await client.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json")).WaitAsync(Waiting.DefaultTimeout);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path}: {(int)response.StatusCode} {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Events of <paramref name="type"/> on the job's topic (after the first <paramref name="after"/>, when given).</summary>
    private static async Task<int> CountEventsAsync(HttpClient client, string id, string type, string? after = null)
    {
        using var page = JsonDocument.Parse(await client.GetStringAsync($"v1/events?topic=jobs.{id}&after=earliest&limit=1000").WaitAsync(Waiting.DefaultTimeout));
        var types = page.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToList();
        if (after is not null)
        {
            types = types.SkipWhile(t => t != after).Skip(1).ToList();
        }

        return types.Count(t => t == type);
    }
}
