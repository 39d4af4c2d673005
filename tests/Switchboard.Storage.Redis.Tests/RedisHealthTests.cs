using System.Net;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// <c>/v1/health</c> stays 200 (liveness) but says whether the store takes writes; <c>/v1/health/ready</c> answers the
/// store's fault while it does not, and 200 again once it does, with no write needed to find out.
/// </summary>
public sealed class RedisHealthTests
{
    [Fact]
    public async Task RedisDown_HealthSaysUnavailable_ReadinessIs503Problem_AndBothRecoverWithRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(redis, $"hub{Guid.NewGuid():N}:");
        using var client = node.CreateClient();
        await AssertReadyAsync(client);

        await redis.StopAsync();
        await Waiting.EventuallyAsync(async () => await HealthAsync(client, "unavailable"));
        using (var ready = await client.GetAsync("v1/health/ready").Within())
        {
            var text = await ready.Content.ReadAsStringAsync();
            Assert.True(ready.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)ready.StatusCode} {text}");
            Assert.Equal("application/problem+json", ready.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(ready.Headers.RetryAfter);
            using var problem = JsonDocument.Parse(text);
            Assert.Equal("store-unavailable", problem.RootElement.GetProperty("code").GetString());
            Assert.Equal("unavailable", problem.RootElement.GetProperty("store").GetString());
        }

        await redis.StartAgainAsync();
        await Waiting.EventuallyAsync(async () => await AssertReadyAsync(client));
    }

    [Fact]
    public async Task RedisAtMaxMemory_HealthSaysFull_ReadinessIs507_AndRecoversWithoutAPublish()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(redis, $"hub{Guid.NewGuid():N}:");
        using var client = node.CreateClient();
        await client.PublishAsync("orders", "0");
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ConfigSetAsync("maxmemory-policy", "noeviction");
        await server.ConfigSetAsync("maxmemory", "1");

        using (var refused = await client.PostAsync("v1/topics/orders/events", new StringContent("""{"data":1}""", Encoding.UTF8, "application/json")).Within())
        {
            Assert.Equal(HttpStatusCode.InsufficientStorage, refused.StatusCode);
        }

        await HealthAsync(client, "full");
        using (var ready = await client.GetAsync("v1/health/ready").Within())
        {
            Assert.Equal(HttpStatusCode.InsufficientStorage, ready.StatusCode);
            Assert.Equal("application/problem+json", ready.Content.Headers.ContentType?.MediaType);
            Assert.Contains("\"store\":\"full\"", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Room again: readiness finds out by its own probe, not by waiting for a client's write.
        await server.ConfigSetAsync("maxmemory", "0");
        await Waiting.EventuallyAsync(async () => await AssertReadyAsync(client));
    }

    private static async Task<bool> HealthAsync(HttpClient client, string store)
    {
        using var health = await client.GetAsync("v1/health").Within();
        var text = await health.Content.ReadAsStringAsync();
        Assert.True(health.StatusCode == HttpStatusCode.OK, $"liveness answered {(int)health.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        Assert.Equal(store, document.RootElement.GetProperty("store").GetString());
        Assert.Equal(store == "ok" ? "ok" : "degraded", document.RootElement.GetProperty("status").GetString());
        return true;
    }

    private static async Task<bool> AssertReadyAsync(HttpClient client)
    {
        using var ready = await client.GetAsync("v1/health/ready").Within();
        var text = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == HttpStatusCode.OK, $"readiness answered {(int)ready.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        Assert.Equal("ok", document.RootElement.GetProperty("store").GetString());
        return await HealthAsync(client, "ok");
    }
}
