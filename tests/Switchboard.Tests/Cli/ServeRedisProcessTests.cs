using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

/// <summary><c>switchboard serve --store redis --redis host:port</c>: three processes, one hub, as the operations guide starts them.</summary>
public sealed class ServeRedisProcessTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ThreeServeProcesses_OnOneRedis_AreOneHub()
    {
        var nodes = new List<ServerProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--store", "redis", "--redis", _redis.Configuration));
            }

            Assert.All(nodes, node => Assert.Contains("store: redis at " + _redis.Configuration, node.Output, StringComparison.Ordinal));
            using var http1 = new HttpClient { BaseAddress = nodes[0].BaseAddress };
            using var http2 = new HttpClient { BaseAddress = nodes[1].BaseAddress };
            using var http3 = new HttpClient { BaseAddress = nodes[2].BaseAddress };
            await using var stream = await SseReader.OpenAsync(http2, "v1/stream?topic=orders");
            // The cursor first, so the held poll waits from before the publish wherever it lands in time.
            var cursor = JsonDocument.Parse(await http3.GetStringAsync("v1/events?topic=orders")).RootElement.GetProperty("cursor").GetString();
            var poll = http3.GetStringAsync($"v1/events?topic=orders&after={cursor}&wait=30");

            using var published = await http1.PostAsJsonAsync("v1/topics/orders/events", new { data = new { id = 1 } });
            Assert.Equal(HttpStatusCode.Created, published.StatusCode);

            System.Net.ServerSentEvents.SseItem<string>? item;
            do
            {
                item = await stream.NextAsync();
            }
            while (item is { } i && string.IsNullOrEmpty(i.Data));
            Assert.Equal(1, JsonDocument.Parse(item!.Value.Data).RootElement.GetProperty("data").GetProperty("id").GetInt32());
            var events = JsonDocument.Parse(await poll.Within()).RootElement.GetProperty("events");
            Assert.Equal(1, events[0].GetProperty("data").GetProperty("id").GetInt32());
            Assert.False(File.Exists(Path.Combine(_directory.Path, "switchboard.db")), "a Redis node must not create a SQLite file");
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task KillingTheNodeThatDeliversWebhooks_MidDelivery_LosesNothing_AnotherNodeDeliversAfterTheLeaseExpires()
    {
        await using var receiver = await Switchboard.Testing.Webhooks.WebhookReceiver.StartAsync();
        receiver.Respond = _ => new Switchboard.Testing.Webhooks.ReceiverAnswer(204, Delay: TimeSpan.FromMilliseconds(100));
        var environment = new Dictionary<string, string>
        {
            ["Switchboard__Redis__WebhookLeaseDuration"] = "00:00:02",
            ["Switchboard__Webhooks__AllowedNetworks__0"] = "127.0.0.0/8",
            ["Switchboard__Webhooks__AllowHttp"] = "true",
            ["Switchboard__Webhooks__RetrySchedule__0"] = "00:00:01",
        };
        var nodes = new List<ServerProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await ServerProcess.StartAsync(_directory.Path, environment, "--urls", "http://127.0.0.1:0", "--store", "redis", "--redis", _redis.Configuration));
            }

            await Waiting.UntilAsync(() => nodes.Count(n => n.Output.Contains("now delivers webhooks", StringComparison.Ordinal)) == 1, "one node to take the webhook lease");
            var leader = nodes.Single(n => n.Output.Contains("now delivers webhooks", StringComparison.Ordinal));
            var survivors = nodes.Where(n => n != leader).ToList();
            using var api = new HttpClient { BaseAddress = survivors[0].BaseAddress };
            using var created = await api.PostAsJsonAsync("v1/webhooks", new { url = receiver.Url, topics = new[] { "orders" }, maxInFlight = 1 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);

            const int Count = 30;
            for (var i = 0; i < Count; i++)
            {
                using var published = await api.PostAsJsonAsync("v1/topics/orders/events", new { data = new { n = i } });
                Assert.Equal(HttpStatusCode.Created, published.StatusCode);
            }

            await Waiting.UntilAsync(() => receiver.Received.Count >= 3, "a few deliveries before the crash");
            leader.Kill();
            await Waiting.UntilAsync(() => receiver.Received.Select(r => r.Seq).Distinct().Count() == Count,
                "every event to arrive once another node holds the expired lease", TimeSpan.FromSeconds(60));
            Assert.Contains(survivors, n => n.Output.Contains("now delivers webhooks", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }
}
