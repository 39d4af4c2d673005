using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>
/// Webhook partitions move at run time (nodes sharing a store): the dispatcher loads a gained partition's endpoints,
/// stops and stores a lost one's before releasing it, and the API and the metrics read the endpoints meanwhile.
/// </summary>
public sealed class WebhookPartitionMoveTests
{
    [Fact]
    public async Task PartitionsComingAndGoing_WhileTheEndpointsAreListed_NeverCorruptTheList()
    {
        var partitions = new SwitchablePartitions(2);
        await using var server = await StartAsync(partitions);
        var dispatcher = server.App.Services.GetRequiredService<WebhookDispatcher>();
        using var client = server.CreateClient();
        partitions.Grant(0);
        partitions.Grant(1);
        await Waiting.UntilAsync(() => dispatcher.RouteOf(0).IsThisNode && dispatcher.RouteOf(1).IsThisNode, "the dispatcher to load both partitions");
        const int Endpoints = 64;
        for (var i = 0; i < Endpoints; i++)
        {
            await client.CreateWebhookAsync($$"""{"url":"http://127.0.0.1:9/hook/{{i}}","topics":["orders.{{i}}"]}""");
        }

        var inOne = dispatcher.List().Count(v => dispatcher.PartitionOf(v.Endpoint.Id) == 1);
        Assert.InRange(inOne, 1, Endpoints - 1); // new endpoints go to both partitions

        // Readers list the endpoints without pause (as GET /v1/webhooks and the endpoints gauge do) while partition 0 comes and goes.
        using var stop = new CancellationTokenSource();
        var lists = 0L;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var count = dispatcher.List().Count;
                Assert.True(count is >= 0 and <= Endpoints, $"listed {count} endpoints");
                Interlocked.Increment(ref lists);
            }
        })).ToArray();

        for (var flip = 0; flip < 40; flip++)
        {
            await partitions.RevokeAsync(0).Within(); // completes once the dispatcher released it
            Assert.Equal(inOne, dispatcher.List().Count);
            partitions.Grant(0);
            await Waiting.UntilAsync(() => dispatcher.List().Count == Endpoints, "the gained partition's endpoints to load");
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers).Within(); // rethrows what a reader saw
        Assert.True(Interlocked.Read(ref lists) > 100, $"the readers listed only {lists} times");
    }

    [Fact]
    public async Task ALostPartition_StoresWhereEachEndpointStood_BeforeItIsReleased_AndItsEndpointsAnswer503()
    {
        var partitions = new SwitchablePartitions(1);
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await StartAsync(partitions);
        var dispatcher = server.App.Services.GetRequiredService<WebhookDispatcher>();
        var store = server.App.Services.GetRequiredService<IWebhookStore>();
        using var client = server.CreateClient();
        partitions.Grant(0);
        await Waiting.UntilAsync(() => dispatcher.RouteOf(0).IsThisNode, "the dispatcher to load the partition");
        var id = (await client.CreateWebhookAsync(receiver, "orders")).Id();
        for (var i = 0; i < 20; i++)
        {
            await client.PublishAsync("orders", $$$"""{"data":{"n":{{{i}}}}}""");
        }

        await Waiting.UntilAsync(() => receiver.Received.Count == 20, "20 deliveries");
        await partitions.RevokeAsync(0).Within();

        // What the next holder would load: the cursor past every delivered event.
        var stored = (await store.LoadAsync()).Endpoints.Single(e => e.Id == id);
        Assert.Equal(receiver.Received.Max(r => r.Seq), stored.Progress.AfterSeq);
        Assert.Equal(20, stored.Progress.Delivered);
        Assert.Null(dispatcher.Find(id));

        // Nobody serves the partition now: the API says so, with a retry hint, for the endpoint and for a new one.
        using var get = await client.GetAsync($"v1/webhooks/{id}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, get.StatusCode);
        Assert.Contains("webhooks-unavailable", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotNull(get.Headers.RetryAfter);
        using var create = await client.PostAsync("v1/webhooks", new StringContent($$"""{"url":"{{receiver.Url}}","topics":["orders"]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, create.StatusCode);

        // Gained again, it carries on from the stored cursor: nothing is sent twice.
        partitions.Grant(0);
        await Waiting.UntilAsync(() => dispatcher.Find(id) is not null, "the endpoint to load again");
        await client.PublishAsync("orders", """{"data":{"n":20}}""");
        await Waiting.UntilAsync(() => receiver.Received.Count == 21, "the 21st delivery");
        Assert.Equal(21, receiver.Received.Select(r => r.Seq).Distinct().Count());
    }

    [Fact]
    public void ThePartitionOfAnId_IsStableAndSpread()
    {
        Assert.Equal(0, WebhookPartitioning.PartitionOf("wh_anything", 1));
        var ids = Enumerable.Range(0, 3_200).Select(_ => WebhookDispatcher.NewEndpointId()).ToList();
        Assert.All(ids, id => Assert.Equal(WebhookPartitioning.PartitionOf(id, 32), WebhookPartitioning.PartitionOf(new string(id.AsSpan()), 32)));
        var counts = ids.GroupBy(id => WebhookPartitioning.PartitionOf(id, 32)).Select(g => g.Count()).ToList();
        Assert.Equal(32, counts.Count);
        Assert.All(counts, c => Assert.InRange(c, 50, 150)); // 100 expected in each
    }

    private static Task<HubServer> StartAsync(SwitchablePartitions partitions) =>
        HubServer.StartAsync(WebhookKit.Options(), services: s =>
        {
            s.RemoveAll<IWebhookPartitions>();
            s.AddSingleton<IWebhookPartitions>(partitions);
        });

    /// <summary>Partition leases the test hands out and takes back, all on this node.</summary>
    private sealed class SwitchablePartitions(int count) : IWebhookPartitions
    {
        private readonly Channel<WebhookPartitionLease> _grants = Channel.CreateUnbounded<WebhookPartitionLease>();
        private readonly ConcurrentDictionary<int, (WebhookPartitionLease Lease, CancellationTokenSource Lost)> _held = new();

        public bool IsShared => true;

        public int Count => count;

        public WebhookPartitionHolder HolderOf(int partition) => _held.ContainsKey(partition) ? WebhookPartitionHolder.ThisNode : WebhookPartitionHolder.Nobody;

        public IAsyncEnumerable<WebhookPartitionLease> LeasesAsync(CancellationToken cancellationToken) => _grants.Reader.ReadAllAsync(cancellationToken);

        public void Grant(int partition)
        {
            var lost = new CancellationTokenSource();
            var lease = new WebhookPartitionLease(partition, lost.Token);
            _held[partition] = (lease, lost);
            _grants.Writer.TryWrite(lease);
        }

        /// <summary>Takes the partition back; completes when the dispatcher says its workers stopped and stored their progress.</summary>
        public async Task RevokeAsync(int partition)
        {
            Assert.True(_held.TryRemove(partition, out var held));
            await held.Lost.CancelAsync();
            await held.Lease.Released;
        }
    }
}
