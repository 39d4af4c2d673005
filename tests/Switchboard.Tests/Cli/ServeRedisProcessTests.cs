using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

/// <summary><c>switchboard serve --store redis --redis host:port</c>: three processes, one hub, as the operations guide starts them.</summary>
public sealed partial class ServeRedisProcessTests : IAsyncLifetime, IDisposable
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
    public async Task KillingANodeThatDeliversWebhooks_MidDelivery_LosesNothing_ItsPartitionsMoveToTheOthers()
    {
        const int Partitions = 8;
        var environment = new Dictionary<string, string>
        {
            ["Switchboard__Redis__WebhookLeaseDuration"] = "00:00:02",
            ["Switchboard__Redis__WebhookPartitions"] = Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Switchboard__Webhooks__AllowedNetworks__0"] = "127.0.0.0/8",
            ["Switchboard__Webhooks__AllowHttp"] = "true",
            ["Switchboard__Webhooks__RetrySchedule__0"] = "00:00:01",
        };
        var nodes = new List<ServerProcess>();
        var receivers = new List<Switchboard.Testing.Webhooks.WebhookReceiver>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await ServerProcess.StartAsync(_directory.Path, environment, "--urls", "http://127.0.0.1:0", "--store", "redis", "--redis", _redis.Configuration));
            }

            await Waiting.UntilAsync(() => nodes.All(n => Held(n).Count > 0) && nodes.Sum(n => Held(n).Count) == Partitions,
                "the three nodes to share the webhook partitions", TimeSpan.FromSeconds(30));

            // One receiver per endpoint (a message id names an event, not an endpoint), created through one node.
            using var api = new HttpClient { BaseAddress = nodes[0].BaseAddress };
            var ids = new List<string>();
            for (var i = 0; i < 6; i++)
            {
                var receiver = await Switchboard.Testing.Webhooks.WebhookReceiver.StartAsync();
                receiver.Respond = _ => new Switchboard.Testing.Webhooks.ReceiverAnswer(204, Delay: TimeSpan.FromMilliseconds(50));
                receivers.Add(receiver);
                using var created = await api.PostAsJsonAsync("v1/webhooks", new { url = receiver.Url, topics = new[] { "orders" }, maxInFlight = 1 });
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                ids.Add(JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!);
            }

            const int Count = 30;
            for (var i = 0; i < Count; i++)
            {
                using var published = await api.PostAsJsonAsync("v1/topics/orders/events", new { data = new { n = i } });
                Assert.Equal(HttpStatusCode.Created, published.StatusCode);
            }

            // Kill the node that delivers the first endpoint, once it is under way.
            var partition = Switchboard.Webhooks.WebhookPartitioning.PartitionOf(ids[0], Partitions);
            var victim = nodes.Single(n => Held(n).Contains(partition));
            await Waiting.UntilAsync(() => receivers[0].Received.Count >= 3, "a few deliveries to the first endpoint before the crash");
            victim.Kill();
            var survivors = nodes.Where(n => n != victim).ToList();

            await Waiting.UntilAsync(() => receivers.All(r => r.Received.Select(w => w.Id).Distinct().Count() == Count),
                "every event to reach every endpoint once the dead node's leases expired", TimeSpan.FromSeconds(60));
            await Waiting.UntilAsync(() => survivors.Sum(n => Held(n).Count) == Partitions, "the survivors to hold every partition", TimeSpan.FromSeconds(30));
            Assert.Contains(survivors, n => Held(n).Contains(partition));

            // Every survivor still answers the webhook API for every endpoint.
            foreach (var survivor in survivors)
            {
                using var client = new HttpClient { BaseAddress = survivor.BaseAddress };
                foreach (var id in ids)
                {
                    await Waiting.UntilAsync(() => Status(client, $"v1/webhooks/{id}") == HttpStatusCode.OK, $"{id} to be served");
                }
            }
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            foreach (var receiver in receivers)
            {
                await receiver.DisposeAsync();
            }
        }
    }

    private static HttpStatusCode Status(HttpClient client, string path)
    {
        using var response = client.GetAsync(path).GetAwaiter().GetResult();
        return response.StatusCode;
    }

    /// <summary>The partitions a node delivers now, from what it logged: gained, then lost or handed over.</summary>
    private static HashSet<int> Held(ServerProcess node)
    {
        var held = new HashSet<int>();
        foreach (System.Text.RegularExpressions.Match line in PartitionLine().Matches(node.Output))
        {
            var partition = int.Parse(line.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (line.Groups[1].Value == "now delivers")
            {
                held.Add(partition);
            }
            else
            {
                held.Remove(partition);
            }
        }

        return held;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(now delivers|lost|hands) webhook partition (\d+)")]
    private static partial System.Text.RegularExpressions.Regex PartitionLine();
}
