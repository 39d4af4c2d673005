using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>While Redis is down, every path answers what it can from memory or a 503 problem with Retry-After; never a 500.</summary>
public sealed class RedisOutageTests
{
    private static readonly (string Method, string Path, string? Body)[] Requests =
    [
        ("POST", "v1/topics/orders/events", """{"data":1}"""),
        ("POST", "v1/events", """[{"topic":"orders","data":1}]"""),
        ("GET", "v1/events?topic=orders&after=earliest", null),
        ("POST", "v1/jobs", """{"type":"resize","input":{}}"""),
        ("GET", "v1/jobs/missing", null),
        ("POST", "v1/queues/resize/claim", """{"worker":"w1"}"""),
        ("PUT", "v1/config/shop", """{"theme":"dark"}"""),
        ("GET", "v1/config/shop", null),
        ("GET", "v1/config/shop/history", null),
        ("POST", "v1/webhooks", """{"url":"http://127.0.0.1:9/hook","topics":["orders"]}"""),
        ("GET", "v1/webhooks", null),
        ("POST", "v1/keys", """{"name":"ops","scopes":["admin"]}"""),
        ("GET", "v1/keys", null),
        ("GET", "v1/health", null),
    ];

    [Fact]
    public async Task RedisDown_EveryPathAnswers503WithRetryAfter_OrServesFromMemory_NeverA500()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(redis, $"hub{Guid.NewGuid():N}:");
        using var client = node.CreateClient();
        await client.PublishAsync("orders", "0");
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("switchboard.v1");
        await socket.ConnectAsync(new UriBuilder(node.BaseAddress) { Scheme = "ws", Path = "/v1/ws" }.Uri, CancellationToken.None).Within();

        await redis.StopAsync();
        // The stored API-key count on the auth path is cached for a few seconds: keep asking until it has been re-read.
        var outage = System.Diagnostics.Stopwatch.StartNew();
        var unavailable = 0;
        var rounds = 0;
        while (rounds < 2 || outage.Elapsed < TimeSpan.FromSeconds(7))
        {
            rounds++;
            foreach (var (method, path, body) in Requests)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                if (body is not null)
                {
                    request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }

                using var response = await client.SendAsync(request).Within(TimeSpan.FromSeconds(30));
                var text = await response.Content.ReadAsStringAsync();
                var status = (int)response.StatusCode;
                Assert.True(status < 500 || status == 503, $"{method} {path} answered {status}: {text}");
                // (A new WebSocket is refused the same way before the upgrade: the caller cannot be resolved without the store.)
                if (status == 503)
                {
                    unavailable++;
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                    Assert.True(response.Headers.RetryAfter is not null, $"{method} {path}: 503 without Retry-After");
                    Assert.Contains("store-unavailable", text, StringComparison.Ordinal);
                }
            }
        }

        Assert.True(unavailable > 0, "no request noticed that Redis is down");

        // A WebSocket opened before the outage: its publish gets an error op, and the connection stays open.
        var answer = await RequestAsync(socket, """{"op":"publish","id":"p1","topic":"chat.lobby","data":1}""");
        Assert.Equal("error", answer.GetProperty("op").GetString());
        Assert.Equal("store_unavailable", answer.GetProperty("code").GetString());
        Assert.Equal("pong", (await RequestAsync(socket, """{"op":"ping","id":"x"}""")).GetProperty("op").GetString());

        // And when Redis is back, so is the hub.
        await redis.StartAgainAsync();
        await Waiting.EventuallyAsync(async () =>
        {
            using var response = await client.TryPublishAsync("orders", "2");
            return response.StatusCode == HttpStatusCode.Created ? true : throw new InvalidOperationException($"{(int)response.StatusCode}");
        });
    }

    [Fact]
    public async Task RedisAtMaxMemory_EveryWriteIsStoreFull_507_AndWritesResumeWhenItHasRoom()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(redis, $"hub{Guid.NewGuid():N}:", options =>
        {
            options.Webhooks.AllowHttp = true;
            options.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
        });
        using var client = node.CreateClient();
        await client.PublishAsync("orders", "0");
        using var hook = await client.PostAsync("v1/webhooks", new StringContent("""{"url":"http://127.0.0.1:9/orders","topics":["orders"]}""", Encoding.UTF8, "application/json"));
        var hookText = await hook.Content.ReadAsStringAsync();
        Assert.True(hook.StatusCode == HttpStatusCode.Created, hookText);
        var hookId = JsonDocument.Parse(hookText).RootElement.GetProperty("id").GetString();

        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ConfigSetAsync("maxmemory-policy", "noeviction");
        await server.ConfigSetAsync("maxmemory", "1");
        (string Method, string Path, string Body)[] writes =
        [
            ("POST", "v1/topics/orders/events", """{"data":1}"""),
            ("POST", "v1/jobs", """{"type":"resize","input":{}}"""),
            ("PUT", "v1/config/shop", """{"theme":"dark"}"""),
            ("POST", "v1/keys", """{"name":"ops","scopes":["admin"]}"""),
            ("POST", "v1/webhooks", """{"url":"http://127.0.0.1:9/orders","topics":["orders"]}"""),
            ("PATCH", $"v1/webhooks/{hookId}", """{"topics":["orders","refunds"]}"""),
        ];
        foreach (var (method, path, body) in writes)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request).Within(TimeSpan.FromSeconds(30));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.InsufficientStorage, $"{method} {path} answered {(int)response.StatusCode}: {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("store-full", text, StringComparison.Ordinal);
        }

        await server.ConfigSetAsync("maxmemory", "0");
        using var again = await client.PostAsync("v1/topics/orders/events", new StringContent("""{"data":2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }

    private static async Task<JsonElement> RequestAsync(ClientWebSocket socket, string message)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, CancellationToken.None).Within();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None).Within(TimeSpan.FromSeconds(30));
            var reply = JsonDocument.Parse(buffer.AsMemory(0, received.Count)).RootElement.Clone();
            if (reply.GetProperty("op").GetString() is "error" or "pong" or "ack")
            {
                return reply;
            }
        }
    }
}
