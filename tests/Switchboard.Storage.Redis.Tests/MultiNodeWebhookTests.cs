using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.BadInput;
using Switchboard.Storage.Redis;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// Webhooks on several nodes: the endpoints' partitions are shared over the live nodes, each endpoint is delivered
/// by exactly one node, every node answers the webhook API, and partitions move when nodes join or leave.
/// </summary>
public sealed class MultiNodeWebhookTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const int Partitions = 8;

    private static void AllowLoopbackReceivers(SwitchboardOptions options)
    {
        options.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
        options.Webhooks.AllowHttp = true;
    }

    private static void FastLeases(RedisStoreOptions options)
    {
        options.WebhookLeaseDuration = TimeSpan.FromSeconds(2);
        options.WebhookPartitions = Partitions;
    }

    [Fact]
    public async Task ThreeNodes_ShareThePartitions_EachEndpointIsDeliveredByOneNode_AndEveryNodeAnswersTheApi()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, configure: AllowLoopbackReceivers, redisOptions: FastLeases);
        await Waiting.UntilAsync(() => Balanced(nodes, 3), "the partitions to be shared over the three nodes", TimeSpan.FromSeconds(30));

        // All created through one node: they still spread over the nodes, because each goes to a partition drawn at random.
        using var api = nodes[1].CreateClient();
        await using var endpoints = await Receivers.CreateAsync(api, 12);
        var ids = endpoints.Ids;

        // Exactly one node runs each endpoint, and more than one node runs some.
        var owners = ids.Select(id => Enumerable.Range(1, 3).Where(n => Dispatcher(nodes[n]).Find(id) is not null).ToList()).ToList();
        Assert.All(owners, o => Assert.Single(o));
        Assert.True(owners.Select(o => o[0]).Distinct().Count() > 1, $"every endpoint landed on node {owners[0][0]}: " + string.Join(", ", ids.Select(id => Dispatcher(nodes[1]).PartitionOf(id))) + " routes " + string.Join(", ", Enumerable.Range(0, Partitions).Select(p => Dispatcher(nodes[1]).RouteOf(p))));

        const int Count = 40;
        for (var i = 0; i < Count; i++)
        {
            using var client = nodes[i % 3 + 1].CreateClient();
            await client.PublishAsync("orders", $$"""{"n":{{i}}}""");
        }

        // Every node lists every endpoint, and reports each one's deliveries, wherever it runs.
        for (var n = 1; n <= 3; n++)
        {
            using var client = nodes[n].CreateClient();
            var node = n;
            await Waiting.UntilAsync(() => ids.All(id => Delivered(client, id) == Count), $"node {node} to report {Count} deliveries for every endpoint", TimeSpan.FromSeconds(30));
            Assert.Equal(ids.Order(StringComparer.Ordinal), (await ListAsync(client)).Order(StringComparer.Ordinal));
        }

        foreach (var receiver in endpoints.All)
        {
            Assert.Equal(Count, receiver.Received.Select(r => r.Seq).Distinct().Count());
            Assert.Equal(Count, receiver.Received.Count); // each event once: one node delivers the endpoint
        }
    }

    [Fact]
    public async Task ANodeJoining_TakesItsShare_ByHandOver_AndNoEventIsLostOrRepeated()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2, configure: AllowLoopbackReceivers, redisOptions: FastLeases);
        await Waiting.UntilAsync(() => Balanced(nodes, 2), "the partitions to be shared over two nodes", TimeSpan.FromSeconds(30));
        using var api = nodes[1].CreateClient();
        // Endpoints land in partitions by their random ids; with 24, the chance that none falls in the third node's
        // share (about 11 of 32 partitions) is (21/32)^24, under 1 in 20,000; with 8 it would be about 1 in 30.
        await using var endpoints = await Receivers.CreateAsync(api, 24, maxInFlight: 1);
        foreach (var receiver in endpoints.All)
        {
            // Slow enough that each endpoint lags behind the log, so a cursor stored late would be re-sent from.
            receiver.Respond = _ => new ReceiverAnswer(204, Delay: TimeSpan.FromMilliseconds(30));
        }

        // Events keep coming while the third node joins and the other two hand partitions over to it.
        var published = 0;
        using var stop = new CancellationTokenSource();
        var publishing = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && published < 150)
            {
                await api.PublishAsync("orders", $$"""{"n":{{published}}}""");
                published++;
            }
        });
        var third = await Nodes.StartNodeAsync(redis.Server, nodes.Prefix, AllowLoopbackReceivers, redisOptions: FastLeases);
        await using (third)
        {
            var all = new[] { nodes[1], nodes[2], third };
            await Waiting.UntilAsync(() => Balanced(all), "the third node to take its share of the partitions", TimeSpan.FromSeconds(30));
            await stop.CancelAsync();
            await publishing.Within();
            Assert.Contains(endpoints.Ids, id => Dispatcher(third).Find(id) is not null);

            await Waiting.UntilAsync(() => endpoints.All.All(r => r.Received.Count >= published), $"{published} deliveries to each endpoint", TimeSpan.FromSeconds(60));
            foreach (var receiver in endpoints.All)
            {
                // A message id twice would be a repeat: a hand-over stops the workers before freeing the lease.
                Assert.Equal(published, receiver.Received.Select(r => r.Id).Distinct().Count());
                Assert.Equal(published, receiver.Received.Count);
            }
        }
    }

    [Fact]
    public async Task WhenANodeStops_ItsPartitionsMove_AndTheOthersDeliverTheRest()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, configure: AllowLoopbackReceivers, redisOptions: FastLeases);
        await Waiting.UntilAsync(() => Balanced(nodes, 3), "the partitions to be shared over the three nodes", TimeSpan.FromSeconds(30));
        using var api = nodes[1].CreateClient();
        await using var endpoints = await Receivers.CreateAsync(api, 6, maxInFlight: 1);
        foreach (var receiver in endpoints.All)
        {
            receiver.Respond = _ => new ReceiverAnswer(204, Delay: TimeSpan.FromMilliseconds(20));
        }

        // Stop a node that runs at least one endpoint, mid-delivery.
        var leaving = Enumerable.Range(1, 3).First(n => endpoints.Ids.Any(id => Dispatcher(nodes[n]).Find(id) is not null));
        var survivor = Enumerable.Range(1, 3).First(n => n != leaving);
        using var client = nodes[survivor].CreateClient();
        const int Count = 30;
        for (var i = 0; i < Count; i++)
        {
            await client.PublishAsync("orders", $$"""{"n":{{i}}}""");
        }

        await Waiting.UntilAsync(() => endpoints.All.Sum(r => r.Received.Count) >= 10, "some deliveries before the stop");
        await nodes.StopAsync(leaving);

        await Waiting.UntilAsync(() => endpoints.All.All(r => r.Received.Select(w => w.Id).Distinct().Count() == Count),
            "every event to reach every endpoint after the partitions moved", TimeSpan.FromSeconds(60));
        var remaining = Enumerable.Range(1, 3).Where(n => n != leaving).Select(n => nodes[n]).ToArray();
        await Waiting.UntilAsync(() => Balanced(remaining), "the two survivors to hold every partition", TimeSpan.FromSeconds(30));
        Assert.All(endpoints.Ids, id => Assert.Single(remaining, node => Dispatcher(node).Find(id) is not null));
    }

    [Fact]
    public async Task HeadOnTheList_AnswersLikeGet_ThoughTheListGathersEveryNode()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2, redisOptions: FastLeases);
        await Waiting.UntilAsync(() => Balanced(nodes, 2), "the partitions to be shared over two nodes", TimeSpan.FromSeconds(30));
        using var api = nodes[1].CreateClient();
        await CreateHeldByAsync(api, nodes[2]);

        // The other node's part is fetched with GET even for a HEAD: its HEAD answer has no body to gather.
        using var head = await api.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/webhooks")).Within();
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("application/json", head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task AForwardedCall_KeepsNonAsciiHeaderValues_AndABrokenBodyIsTheClientsFault_NotANodeAway()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2, redisOptions: FastLeases);
        await Waiting.UntilAsync(() => Balanced(nodes, 2), "the partitions to be shared over two nodes", TimeSpan.FromSeconds(30));
        using var api = nodes[1].CreateClient();
        var id = await CreateHeldByAsync(api, nodes[2]); // so node 1 forwards every call about it

        // RawHttp writes header values as Latin-1 characters, so "\u00C3\u00A9" goes out as the UTF-8 bytes of "é".
        var utf8 = await RawHttp.SendAsync(nodes[1], "GET", $"/v1/webhooks/{id}", headers: [("Idempotency-Key", "\u00C3\u00A9"), ("Accept", "application/json, \u00C3\u00A9")]);
        Assert.True(utf8.Status == 200, utf8.Describe());
        Assert.Equal(id, utf8.Json().GetProperty("id").GetString());

        var broken = await RawHttp.SendAsync(nodes[1], "PATCH", $"/v1/webhooks/{id}", Encoding.ASCII.GetBytes("zz\r\n{}\r\n0\r\n\r\n"), "application/json",
            [("Transfer-Encoding", "chunked")]);
        Assert.True(broken.Status == 400 && broken.MediaType == "application/problem+json", broken.Describe());
        Assert.Equal("bad-request", broken.Json().GetProperty("code").GetString());

        var tooLarge = await RawHttp.SendAsync(nodes[1], "PATCH", $"/v1/webhooks/{id}",
            Encoding.ASCII.GetBytes($$"""{"description":"{{new string('d', 70 * 1024)}}"}"""), "application/json");
        Assert.True(tooLarge.Status == 413, tooLarge.Describe());
        Assert.Equal("payload-too-large", tooLarge.Json().GetProperty("code").GetString());

        // A good body still goes through, to the node that holds the endpoint.
        var patched = await RawHttp.SendAsync(nodes[1], "PATCH", $"/v1/webhooks/{id}", Encoding.UTF8.GetBytes("""{"description":"après"}"""), "application/json");
        Assert.True(patched.Status == 200, patched.Describe());
        Assert.Equal("après", Dispatcher(nodes[2]).Find(id)!.Endpoint.Description);
    }

    [Fact]
    public async Task AClientSendingTheForwardingHeader_IsRefused_AndGetsNoSayInRouting()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2, redisOptions: FastLeases);
        await Waiting.UntilAsync(() => Balanced(nodes, 2), "the partitions to be shared over two nodes", TimeSpan.FromSeconds(30));
        using var api = nodes[1].CreateClient();
        var id = await CreateHeldByAsync(api, nodes[2]);
        var before = await ListAsync(api);

        // "1" once marked a call as forwarded: the list was then this node's alone, and a create went to the named partition.
        var otherHubsMark = "0." + Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(System.Security.Cryptography.HMACSHA256.HashData(new byte[32], "0"u8));
        foreach (var forged in new[] { "1", "-1.AAAA", "0.", otherHubsMark })
        {
            var list = await RawHttp.SendAsync(nodes[1], "GET", "/v1/webhooks", headers: [("X-Switchboard-Forwarded", forged)]);
            Assert.True(list.Status == 403 && list.MediaType == "application/problem+json", $"{forged}: {list.Describe()}");
            var create = await RawHttp.SendAsync(nodes[1], "POST", "/v1/webhooks",
                Encoding.UTF8.GetBytes("""{"url":"https://93.184.215.14/hook","topics":["never.delivered"]}"""), "application/json",
                [("X-Switchboard-Forwarded", forged), ("X-Switchboard-Webhook-Partition", "0")]);
            Assert.True(create.Status == 403 && create.MediaType == "application/problem+json", $"{forged}: {create.Describe()}");
        }

        // The nodes' own forwarding still works: the list gathers both nodes, and calls about the other node's endpoint go there.
        Assert.Equal(before.Order(StringComparer.Ordinal), (await ListAsync(api)).Order(StringComparer.Ordinal));
        Assert.Contains(id, before);
        using var one = await api.GetAsync($"v1/webhooks/{id}").Within();
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
    }

    /// <summary>Creates endpoints through <paramref name="api"/> until one lands in a partition <paramref name="holder"/> holds.</summary>
    private static async Task<string> CreateHeldByAsync(HttpClient api, HubServer holder)
    {
        for (var attempt = 0; attempt < 64; attempt++)
        {
            using var created = await api.PostAsync("v1/webhooks", Json("""{"url":"https://93.184.215.14/hook","topics":["never.delivered"]}""")).Within();
            var text = await created.Content.ReadAsStringAsync();
            Assert.True(created.StatusCode == HttpStatusCode.Created, text);
            var id = JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
            if (Dispatcher(holder).Find(id) is not null)
            {
                return id;
            }
        }

        throw new Xunit.Sdk.XunitException("64 new endpoints all landed on the other node");
    }

    /// <summary>One receiver per endpoint (a message id names an event, not an endpoint), all on topic <c>orders</c>.</summary>
    private sealed class Receivers : IAsyncDisposable
    {
        public List<WebhookReceiver> All { get; } = [];

        public List<string> Ids { get; } = [];

        public static async Task<Receivers> CreateAsync(HttpClient api, int count, int maxInFlight = 10)
        {
            var receivers = new Receivers();
            for (var i = 0; i < count; i++)
            {
                var receiver = await WebhookReceiver.StartAsync();
                receivers.All.Add(receiver);
                receivers.Ids.Add(await MultiNodeWebhookTests.CreateAsync(api, receiver, "orders", maxInFlight));
            }

            return receivers;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var receiver in All)
            {
                await receiver.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Every partition held by exactly one of the nodes, each node within one of an even share, and every node knowing
    /// where each partition is served.
    /// </summary>
    private static bool Balanced(Nodes nodes, int count) => Balanced([.. Enumerable.Range(1, count).Select(n => nodes[n])]);

    private static bool Balanced(IReadOnlyList<HubServer> nodes)
    {
        var held = nodes.Select(n => Enumerable.Range(0, Partitions).Where(p => Dispatcher(n).RouteOf(p).IsThisNode).ToList()).ToList();
        var fair = (Partitions + nodes.Count - 1) / nodes.Count;
        return held.Sum(h => h.Count) == Partitions && held.SelectMany(h => h).Distinct().Count() == Partitions && held.All(h => h.Count >= fair - 1 && h.Count <= fair)
            && nodes.All(n => Enumerable.Range(0, Partitions).All(p => Dispatcher(n).RouteOf(p) is { IsThisNode: true } or { Address.Length: > 0 }));
    }

    private static WebhookDispatcher Dispatcher(HubServer node) => node.App.Services.GetRequiredService<WebhookDispatcher>();

    private static async Task<string> CreateAsync(HttpClient api, WebhookReceiver receiver, string topic, int maxInFlight = 10)
    {
        using var created = await api.PostAsync("v1/webhooks", Json($$"""{"url":"{{receiver.Url}}","topics":["{{topic}}"],"maxInFlight":{{maxInFlight}}}""")).Within();
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<List<string>> ListAsync(HttpClient client)
    {
        using var response = await client.GetAsync("v1/webhooks").Within();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return [.. JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!)];
    }

    private static int Delivered(HttpClient client, string id)
    {
        using var response = client.GetAsync($"v1/webhooks/{id}").GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
        {
            return -1; // a partition changing nodes answers 503 for a moment
        }

        return JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement.GetProperty("counts").GetProperty("delivered").GetInt32();
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
