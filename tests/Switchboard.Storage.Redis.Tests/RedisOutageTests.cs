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

        // The refused job submit and config change left nothing behind: their retries make one job and one version,
        // each with exactly one event in the log.
        using var submit = new HttpRequestMessage(HttpMethod.Post, "v1/jobs") { Content = Json("""{"type":"resize","input":{}}""") };
        submit.Headers.Add("Idempotency-Key", "resize-1");
        using var submitted = await client.SendAsync(submit).Within();
        var job = await Assert202Async(submitted);
        Assert.Equal(1, await CountEventsAsync(client, $"jobs.{job.GetProperty("id").GetString()}", "job.queued"));
        using var put = await client.PutAsync("v1/config/shop", Json("""{"theme":"dark"}""")).Within();
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        Assert.Equal(1, await CountEventsAsync(client, "config.shop", "config.changed"));
    }

    /// <summary>
    /// Redis has room for about one copy of an app's first config version (1 MiB) but not for the version with its
    /// <c>config.changed</c> event, which carries the values too: the writer is told 507 store-full, neither the version
    /// nor its event is stored, and the retry once Redis has room stores both, the event once.
    /// </summary>
    [Fact]
    public async Task RedisFullForAConfigVersionAndItsEvent_ThePutIsStoreFull_AndItsRetryLogsOneEvent()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(redis, $"hub{Guid.NewGuid():N}:", LargeWrites);
        using var client = node.CreateClient();
        var values = $$"""{"banner":"{{new string('x', Size)}}"}""";

        await using var admin = await AdminAsync(redis);
        await admin.FillUpToAsync(Size * 3 / 2);
        using var refused = await client.PutAsync("v1/config/shop", Json(values)).Within(TimeSpan.FromSeconds(30));
        await AssertStoreFullAsync(refused);
        // Nothing of the version was stored: the store's history (not only the node's memory) has no version.
        using (var history = await client.GetAsync("v1/config/shop/history").Within())
        {
            var text = await history.Content.ReadAsStringAsync();
            Assert.True(history.StatusCode == HttpStatusCode.NotFound || !text.Contains("\"version\"", StringComparison.Ordinal),
                $"{(int)history.StatusCode}: {text[..Math.Min(text.Length, 300)]}");
        }

        Assert.Equal(0, await CountEventsAsync(client, "config.shop", "config.changed"));

        await admin.RoomAsync();
        using var retry = await client.PutAsync("v1/config/shop", Json(values)).Within();
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(1, JsonDocument.Parse(await retry.Content.ReadAsStringAsync()).RootElement.GetProperty("version").GetInt64());
        Assert.Equal(1, await CountEventsAsync(client, "config.shop", "config.changed"));
    }

    /// <summary>
    /// Redis has room for about one copy of a job's result (1 MiB) but not for the succeeded job with its
    /// <c>job.succeeded</c> event, which carries the result too: the worker is told 507 store-full, the job stays
    /// running (no watcher of the job's topic misses a change the store has), and the retry completes it with one
    /// event. The submit, claim and every other job change take the same path: the job and its event in one commit.
    /// </summary>
    [Fact]
    public async Task RedisFullForAJobChangeAndItsEvent_TheCompletionIsStoreFull_AndItsRetryLogsOneEvent()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(redis, $"hub{Guid.NewGuid():N}:", LargeWrites);
        using var client = node.CreateClient();
        using var submitted = await client.PostAsync("v1/jobs", Json("""{"type":"render","input":{}}""")).Within();
        var id = (await Assert202Async(submitted)).GetProperty("id").GetString()!;
        using var claim = await client.PostAsync("v1/queues/render/claim", Json("""{"worker":"w1"}""")).Within();
        var claimText = await claim.Content.ReadAsStringAsync();
        Assert.True(claim.StatusCode == HttpStatusCode.OK, claimText);
        var lease = JsonDocument.Parse(claimText).RootElement.GetProperty("leaseId").GetString();
        var completion = $$$"""{"leaseId":"{{{lease}}}","result":{"frame":"{{{new string('x', Size)}}}"}}""";

        await using var admin = await AdminAsync(redis);
        await admin.FillUpToAsync(Size * 3 / 2);
        using var refused = await client.PostAsync($"v1/jobs/{id}/complete", Json(completion)).Within(TimeSpan.FromSeconds(30));
        await AssertStoreFullAsync(refused);
        Assert.Equal("running", JsonDocument.Parse(await client.GetStringAsync($"v1/jobs/{id}")).RootElement.GetProperty("status").GetString());
        Assert.Equal(0, await CountEventsAsync(client, $"jobs.{id}", "job.succeeded"));

        await admin.RoomAsync();
        using var retry = await client.PostAsync($"v1/jobs/{id}/complete", Json(completion)).Within();
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("succeeded", JsonDocument.Parse(await client.GetStringAsync($"v1/jobs/{id}")).RootElement.GetProperty("status").GetString());
        Assert.Equal(1, await CountEventsAsync(client, $"jobs.{id}", "job.succeeded"));
        Assert.Equal(1, await CountEventsAsync(client, $"jobs.{id}", "job.queued"));
    }

    /// <summary>A presence subscribe whose join Redis refuses for memory is refused as store_full, not store_unavailable; it joins once Redis has room.</summary>
    [Fact]
    public async Task RedisAtMaxMemory_APresenceSubscribeIsStoreFull_AndJoinsWhenItHasRoom()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(redis, $"hub{Guid.NewGuid():N}:");
        await using var alice = await PresenceSocket.ConnectAsync(node.BaseAddress, "alice");

        await using var admin = await AdminAsync(redis);
        await admin.Server.ConfigSetAsync("maxmemory", "1");
        var reply = await alice.RequestAsync("""{"op":"subscribe","id":"s1","topics":["chat.lobby"],"presence":true}""");
        Assert.Equal("error", reply.GetProperty("op").GetString());
        Assert.Equal("store_full", reply.GetProperty("code").GetString());

        await admin.RoomAsync();
        Assert.Equal(["alice"], await alice.JoinAsync("s2", "chat.lobby"));
    }

    // Large, so that what else the hub writes meanwhile is small beside the room left.
    private const int Size = 1024 * 1024;

    /// <summary>Room for settings, job results and events of <see cref="Size"/>.</summary>
    private static void LargeWrites(SwitchboardOptions options)
    {
        options.Limits.MaxEventBytes = 2 * Size;
        options.Limits.MaxBatchBytes = 4 * Size;
        options.Config.MaxBytes = 2 * Size;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> Assert202Async(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task AssertStoreFullAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.InsufficientStorage, $"expected 507, got {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:switchboard:problem:store-full", JsonDocument.Parse(text).RootElement.GetProperty("type").GetString());
    }

    /// <summary>The events of <paramref name="type"/> on <paramref name="topic"/> in the log (matching <paramref name="match"/>), read from its start.</summary>
    private static async Task<int> CountEventsAsync(HttpClient client, string topic, string type, Func<JsonElement, bool>? match = null)
    {
        using var response = await client.GetAsync($"v1/events?topic={topic}&after=earliest&limit=1000").Within();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("events").EnumerateArray()
            .Count(e => e.GetProperty("type").GetString() == type && (match is null || match(e)));
    }

    private static async Task<RedisAdmin> AdminAsync(RedisServer redis)
    {
        var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var admin = new RedisAdmin(connection);
        await admin.Server.ConfigSetAsync("maxmemory-policy", "noeviction");
        return admin;
    }

    /// <summary>An admin connection that sets Redis' maxmemory.</summary>
    private sealed class RedisAdmin(StackExchange.Redis.ConnectionMultiplexer connection) : IAsyncDisposable
    {
        public StackExchange.Redis.IServer Server { get; } = connection.GetServer(connection.GetEndPoints()[0]);

        /// <summary>Leaves Redis <paramref name="room"/> bytes before it refuses writes.</summary>
        public async Task FillUpToAsync(long room)
        {
            var info = await Server.InfoAsync("memory");
            var used = long.Parse(info.SelectMany(g => g).Single(p => p.Key == "used_memory").Value, System.Globalization.CultureInfo.InvariantCulture);
            await Server.ConfigSetAsync("maxmemory", (used + room).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        /// <summary>Lifts the limit: Redis has room again.</summary>
        public Task RoomAsync() => Server.ConfigSetAsync("maxmemory", "0");

        public async ValueTask DisposeAsync() => await connection.DisposeAsync();
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
