using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// Claim order on the Redis store, over real HTTP, with the hub on a fake clock: a job whose lease expired is claimed
/// again before the backlog it was ahead of, and a retry after a backoff takes its place at its due time.
/// </summary>
public sealed class RedisJobOrderTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task ExpiredLease_UnderABacklog_IsClaimedNext_ThenTheBacklogInSubmitOrder()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time);
        using var client = server.CreateClient();
        var submitted = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            submitted.Add(await SubmitAsync(client, i));
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        var (crashed, _) = (await ClaimAsync(client, """{"worker":"w1","leaseSeconds":30}"""))!.Value;
        Assert.Equal(submitted[0], crashed);

        time.Advance(TimeSpan.FromSeconds(31));
        await Waiting.UntilAsync(() => StatusAsync(client, crashed).GetAwaiter().GetResult() == "queued", "the expired job to be queued again");

        var claimed = new List<string>();
        while (await ClaimAsync(client) is { } claim)
        {
            claimed.Add(claim.Id);
        }

        Assert.Equal(submitted, claimed);
    }

    [Fact]
    public async Task RetryAfterABackoff_IsPlacedAtItsDueTime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time);
        using var client = server.CreateClient();
        var a = await SubmitAsync(client, 0);
        var (claimed, lease) = (await ClaimAsync(client))!.Value;
        Assert.Equal(a, claimed);
        using (var fail = await client.PostAsync($"v1/jobs/{a}/fail", Json($$"""{"leaseId":"{{lease}}","error":"boom"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, fail.StatusCode);
        }

        time.Advance(TimeSpan.FromMilliseconds(500));
        var b = await SubmitAsync(client, 1);
        time.Advance(TimeSpan.FromMilliseconds(1000));
        var c = await SubmitAsync(client, 2);

        Assert.Equal(b, (await ClaimAsync(client))!.Value.Id);
        Assert.Equal(a, (await ClaimAsync(client))!.Value.Id);
        Assert.Equal(c, (await ClaimAsync(client))!.Value.Id);
    }

    private Task<HubServer> StartAsync(FakeTimeProvider time) =>
        HubServer.StartAsync(
            o =>
            {
                o.Jobs.LeaseCheckInterval = TimeSpan.FromMilliseconds(20);
                o.Jobs.RetryBackoff = TimeSpan.FromSeconds(1);
            },
            services: s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(time)),
            redis: o =>
            {
                o.Configuration = redis.Server.Configuration;
                o.KeyPrefix = $"hub{Guid.NewGuid():N}:";
                o.OperationTimeout = TimeSpan.FromSeconds(2);
            });

    private static async Task<string> SubmitAsync(HttpClient client, int n)
    {
        using var response = await client.PostAsync("v1/jobs", Json($$$"""{"type":"render","input":{"n":{{{n}}}}}""")).Within();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<(string Id, string LeaseId)?> ClaimAsync(HttpClient client, string body = "{}")
    {
        using var response = await client.PostAsync("v1/queues/render/claim?wait=0", Json(body)).Within();
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var root = JsonDocument.Parse(text).RootElement;
        return (root.GetProperty("job").GetProperty("id").GetString()!, root.GetProperty("leaseId").GetString()!);
    }

    private static async Task<string> StatusAsync(HttpClient client, string id) =>
        JsonDocument.Parse(await client.GetStringAsync($"v1/jobs/{id}")).RootElement.GetProperty("status").GetString()!;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
