using System.Net;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.AspNetCore.Tests.Webhooks;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;

namespace Switchboard.AspNetCore.Tests.Monitoring;

/// <summary>The instruments, read through a <see cref="System.Diagnostics.Metrics.MeterListener"/> while real clients use a real hub.</summary>
public sealed class MetricsTests
{
    private const int N = 5;

    [Fact]
    public async Task PublishN_EveryTransport_CountsPublishedDeliveredLatencyAndBytesByTransport()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var metrics = new MetricsRecorder(server);
        using var client = server.CreateClient();
        await client.CreateWebhookAsync(receiver, "orders");

        await using var sse = await SseReader.OpenAsync(client, "v1/stream?topic=orders");
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("s", ["orders"]);
        var cursor = JsonDocument.Parse(await client.GetStringAsync("v1/events?topic=orders")).RootElement.GetProperty("cursor").GetString();
        using var heldPoll = client.GetAsync($"v1/events?topic=orders&after={cursor}&wait=30&limit=1000");

        await Waiting.UntilAsync(() => metrics.Sum("switchboard.connections", "transport=long_poll") == 1, "the long poll to be held");
        Assert.Equal(1, metrics.Sum("switchboard.connections", "transport=sse"));
        Assert.Equal(1, metrics.Sum("switchboard.connections", "transport=websocket"));

        await client.PublishManyAsync("orders", N, perBatch: 1);
        await sse.TakeAsync(N);
        await socket.EventsAsync("s", N);
        await Waiting.UntilAsync(() => receiver.Received.Count == N, "the webhook deliveries");
        using (var held = await heldPoll.Within())
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        using var shortPoll = await client.GetAsync($"v1/events?topic=orders&after={cursor}");
        Assert.Equal(N, JsonDocument.Parse(await shortPoll.Content.ReadAsStringAsync()).RootElement.GetProperty("events").GetArrayLength());

        Assert.Equal(N, metrics.Sum("switchboard.events.published"));
        Assert.Equal(N, metrics.Count("switchboard.store.append.duration"));
        Assert.Equal(N, metrics.Sum("switchboard.store.commit.batch_size"));
        Assert.Equal(N, metrics.Sum("switchboard.events.delivered", "transport=sse"));
        Assert.Equal(N, metrics.Sum("switchboard.events.delivered", "transport=websocket"));
        Assert.Equal(N, metrics.Sum("switchboard.events.delivered", "transport=short_poll"));
        await Waiting.UntilAsync(() => metrics.Sum("switchboard.events.delivered", "transport=webhook") == N, "the webhook deliveries to be counted");
        Assert.Equal(N, metrics.Sum("switchboard.webhook.attempts", "outcome=success"));
        Assert.InRange(metrics.Sum("switchboard.events.delivered", "transport=long_poll"), 1, N);

        // One latency per delivered event, and all of them small: these were live deliveries.
        foreach (var transport in new[] { "sse", "websocket", "short_poll", "webhook" })
        {
            Assert.Equal(N, metrics.Count("switchboard.delivery.latency", $"transport={transport}"));
            Assert.InRange(metrics.Sum("switchboard.delivery.latency", $"transport={transport}") / N, 0, 10);
            Assert.True(metrics.Sum("switchboard.bytes.written", $"transport={transport}") > N * 20, $"bytes over {transport}");
        }

        Assert.Equal(1, metrics.Sum("switchboard.poll.requests", "kind=long", "outcome=events"));
        Assert.Equal(1, metrics.Sum("switchboard.poll.requests", "kind=short", "outcome=events"));

        // The held poll let go; the others are still open.
        Assert.Equal(0, metrics.Sum("switchboard.connections", "transport=long_poll"));
        Assert.Equal(1, metrics.Gauge("switchboard.webhook.endpoints", "state=active"));
    }

    [Fact]
    public async Task ShortPoll_WithMatchingETag_CountsNotModified_AndClosedStreamsLeaveTheGauge()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var metrics = new MetricsRecorder(server);
        using var client = server.CreateClient();
        using var first = await client.GetAsync("v1/events?topic=quiet");
        var etag = first.Headers.ETag!.ToString();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/events?topic=quiet");
        request.Headers.TryAddWithoutValidation("If-None-Match", etag);
        using var second = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);

        Assert.Equal(1, metrics.Sum("switchboard.poll.requests", "kind=short", "outcome=empty"));
        Assert.Equal(1, metrics.Sum("switchboard.poll.requests", "kind=short", "outcome=not_modified"));
        Assert.Equal(0, metrics.Sum("switchboard.events.delivered"));

        var sse = await SseReader.OpenAsync(client, "v1/stream?topic=quiet");
        await Waiting.UntilAsync(() => metrics.Sum("switchboard.connections", "transport=sse") == 1, "the stream to count");
        await sse.DisposeAsync();
        await Waiting.UntilAsync(() => metrics.Sum("switchboard.connections", "transport=sse") == 0, "the closed stream to leave the gauge");
    }

    [Fact]
    public async Task Jobs_QueuedAndFinished_AreCountedByStatusAndQueue()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var metrics = new MetricsRecorder(server);
        using var client = server.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            using var submitted = await client.PostAsync("v1/jobs", """{"type":"resize","input":{}}""");
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        }

        Assert.Equal(3, metrics.Gauge("switchboard.jobs.queue.depth", "queue=resize"));
        Assert.Equal(3, metrics.Gauge("switchboard.jobs", "status=queued"));

        using var claimed = await client.PostAsync("v1/queues/resize/claim", "{}");
        var claim = JsonDocument.Parse(await claimed.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2, metrics.Gauge("switchboard.jobs.queue.depth", "queue=resize"));
        Assert.Equal(1, metrics.Gauge("switchboard.jobs", "status=running"));

        var id = claim.GetProperty("job").GetProperty("id").GetString();
        var lease = claim.GetProperty("leaseId").GetString();
        using var completed = await client.PostAsync($"v1/jobs/{id}/complete", $$"""{"leaseId":"{{lease}}","result":1}""");
        Assert.Equal(HttpStatusCode.OK, completed.StatusCode);
        Assert.Equal(1, metrics.Sum("switchboard.jobs.finished", "status=succeeded"));
        Assert.Equal(0, metrics.Gauge("switchboard.jobs", "status=running"));
    }
}
