using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>Webhooks on three nodes: one delivers, every node answers the webhook API, each event arrives once.</summary>
public sealed class MultiNodeWebhookTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static void AllowLoopbackReceivers(SwitchboardOptions options)
    {
        options.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
        options.Webhooks.AllowHttp = true;
    }

    [Fact]
    public async Task ThreeNodesRunningDispatchers_DeliverEachEventOnce_AndEveryNodeAnswersTheApi()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var nodes = await Nodes.StartAsync(redis.Server, configure: AllowLoopbackReceivers);
        var leaders = Enumerable.Range(1, 3).Where(n => Leadership(nodes[n]).IsLeader);
        await Waiting.UntilAsync(() => leaders.Count() == 1, "one node to take the webhook lease");

        // Created through whichever node the client reached; a node that does not deliver forwards it.
        var follower = Enumerable.Range(1, 3).First(n => !Leadership(nodes[n]).IsLeader);
        using var api = nodes[follower].CreateClient();
        using var created = await api.PostAsync("v1/webhooks", Json($$"""{"url":"{{receiver.Url}}","topics":["orders"]}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        const int Count = 60;
        for (var i = 0; i < Count; i++)
        {
            using var client = nodes[i % 3 + 1].CreateClient();
            using var published = await client.PostAsync("v1/topics/orders/events", Json($$$"""{"data":{"n":{{{i}}}}}"""));
            Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        }

        // Every node reports the same endpoint, with all deliveries done; only then is the receiver's count final.
        for (var n = 1; n <= 3; n++)
        {
            using var client = nodes[n].CreateClient();
            await Waiting.UntilAsync(() => Delivered(client, id) == Count, $"node {n} to report {Count} deliveries", TimeSpan.FromSeconds(30));
        }

        var seqs = receiver.Received.Select(r => r.Seq).ToList();
        Assert.Equal(Count, seqs.Distinct().Count());
        Assert.Equal(Count, seqs.Count); // no duplicates in the steady state
    }

    [Fact]
    public async Task WhenTheDeliveringNodeStops_AnotherTakesTheLease_AndDeliversTheRest()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(204, Delay: TimeSpan.FromMilliseconds(50));
        await using var nodes = await Nodes.StartAsync(redis.Server, configure: AllowLoopbackReceivers);
        await Waiting.UntilAsync(() => Enumerable.Range(1, 3).Count(n => Leadership(nodes[n]).IsLeader) == 1, "one node to take the webhook lease");
        var leader = Enumerable.Range(1, 3).Single(n => Leadership(nodes[n]).IsLeader);
        var survivor = Enumerable.Range(1, 3).First(n => n != leader);

        using var api = nodes[survivor].CreateClient();
        using var created = await api.PostAsync("v1/webhooks", Json($$"""{"url":"{{receiver.Url}}","topics":["orders"],"maxInFlight":1}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        const int Count = 40;
        for (var i = 0; i < Count; i++)
        {
            using var published = await api.PostAsync("v1/topics/orders/events", Json($$$"""{"data":{"n":{{{i}}}}}"""));
            Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        }

        await Waiting.UntilAsync(() => receiver.Received.Count >= 5, "some deliveries before the stop");
        await nodes.StopAsync(leader);

        await Waiting.UntilAsync(() => receiver.Received.Select(r => r.Seq).Distinct().Count() == Count,
            "every event to arrive after another node took over", TimeSpan.FromSeconds(60));
        Assert.Contains(Enumerable.Range(1, 3), n => n != leader && Leadership(nodes[n]).IsLeader);
    }

    private static Switchboard.Webhooks.IWebhookLeadership Leadership(HubServer node) =>
        node.App.Services.GetRequiredService<Switchboard.Webhooks.IWebhookLeadership>();

    private static int Delivered(HttpClient client, string id)
    {
        using var response = client.GetAsync($"v1/webhooks/{id}").GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
        {
            return -1; // a node taking over answers 503 for a moment
        }

        return JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement.GetProperty("counts").GetProperty("delivered").GetInt32();
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
