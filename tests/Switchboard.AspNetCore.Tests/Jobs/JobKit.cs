using System.Net;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Jobs;

/// <summary>A claimed job as a worker sees it.</summary>
internal sealed record Claimed(JsonElement Job, string LeaseId)
{
    public string Id => Job.GetProperty("id").GetString()!;
}

/// <summary>Helpers for the jobs API, over real HTTP.</summary>
internal static class JobKit
{
    /// <summary>Fast leases and retries, so lifecycle tests take milliseconds.</summary>
    public static Action<SwitchboardOptions> Options(Action<SwitchboardOptions>? more = null) => o =>
    {
        o.Jobs.LeaseCheckInterval = TimeSpan.FromMilliseconds(20);
        o.Jobs.RetryBackoff = TimeSpan.FromMilliseconds(50);
        o.Sse.HeartbeatInterval = TimeSpan.FromSeconds(1);
        more?.Invoke(o);
    };

    public static async Task<JsonElement> SubmitAsync(this HttpClient client, string type = "share", string input = """{"post":"hi"}""", string extra = "")
    {
        using var response = await client.PostAsync("v1/jobs", $$"""{"type":"{{type}}","input":{{input}}{{extra}}}""");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"Expected 202, got {(int)response.StatusCode}: {text}");
        return HubApi.Parse(text);
    }

    public static async Task<JsonElement> GetJobAsync(this HttpClient client, string id)
    {
        using var response = await client.GetAsync($"v1/jobs/{id}").Within();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        return HubApi.Parse(text);
    }

    public static async Task<string> StatusAsync(this HttpClient client, string id) => (await client.GetJobAsync(id)).GetProperty("status").GetString()!;

    /// <summary>Claims with a long poll; null on 204.</summary>
    public static async Task<Claimed?> ClaimAsync(this HttpClient client, string type = "share", double wait = 5, string body = "{}")
    {
        using var response = await client.PostAsync(FormattableString.Invariant($"v1/queues/{type}/claim?wait={wait}"), body);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200 or 204, got {(int)response.StatusCode}: {text}");
        var root = HubApi.Parse(text);
        return new Claimed(root.GetProperty("job"), root.GetProperty("leaseId").GetString()!);
    }

    /// <summary>A worker call (heartbeat, progress, complete, fail) with the lease id added to <paramref name="members"/>.</summary>
    public static Task<HttpResponseMessage> WorkerAsync(this HttpClient client, string id, string action, string leaseId, string members = "") =>
        client.PostAsync($"v1/jobs/{id}/{action}", $$"""{"leaseId":"{{leaseId}}"{{(members.Length > 0 ? "," + members : "")}}}""");

    public static async Task<JsonElement> WorkerOkAsync(this HttpClient client, string id, string action, string leaseId, string members = "")
    {
        using var response = await client.WorkerAsync(id, action, leaseId, members);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200 for {action}, got {(int)response.StatusCode}: {text}");
        return HubApi.Parse(text);
    }

    public static Task UntilStatusAsync(this HttpClient client, string id, string status) =>
        Waiting.UntilAsync(() => client.StatusAsync(id).GetAwaiter().GetResult() == status, $"job {id} to be {status}");
}
