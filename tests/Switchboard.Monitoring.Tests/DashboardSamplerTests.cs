using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Topics;
using Switchboard.Webhooks;

namespace Switchboard.Monitoring.Tests;

public sealed class DashboardSamplerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly InMemoryEventLog _log;
    // The host's meter factory, so the webhook instruments share the delivery instruments' meter, as in the hub.
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly SwitchboardMetrics _metrics;
    private readonly Switchboard.Webhooks.WebhookMetrics _webhookMetrics;
    private readonly FakeWebhooks _webhooks = new();
    private readonly FakeJobs _jobs = new();
    private readonly DashboardSampler _sampler;

    public DashboardSamplerTests()
    {
        _log = new InMemoryEventLog(_time);
        var meters = _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        _metrics = new SwitchboardMetrics(meters);
        _webhookMetrics = new Switchboard.Webhooks.WebhookMetrics(meters);
        _sampler = new DashboardSampler(_metrics, _log, _webhooks, _jobs, new StaticOptions<MonitoringOptions>(new MonitoringOptions()), _time,
            NullLogger<DashboardSampler>.Instance);
    }

    public void Dispose()
    {
        _sampler.Dispose();
        _services.Dispose();
    }

    [Fact]
    public async Task Sample_PublishedRate_IsPerSecondOfTheFakeClock()
    {
        _metrics.Published(10);
        _time.Advance(TimeSpan.FromSeconds(2));
        using (var first = await SampleAsync())
        {
            Assert.Equal(2000, first.RootElement.GetProperty("intervalMs").GetDouble());
            Assert.Equal(10, first.RootElement.GetProperty("published").GetProperty("total").GetInt64());
            Assert.Equal(5, first.RootElement.GetProperty("published").GetProperty("rate").GetDouble());
            Assert.Equal(_time.GetUtcNow(), first.RootElement.GetProperty("time").GetDateTimeOffset());
        }

        _metrics.Published(4);
        _time.Advance(TimeSpan.FromSeconds(1));
        using var second = await SampleAsync();
        Assert.Equal(14, second.RootElement.GetProperty("published").GetProperty("total").GetInt64());
        Assert.Equal(4, second.RootElement.GetProperty("published").GetProperty("rate").GetDouble());
    }

    [Fact]
    public async Task Sample_Deliveries_ArePerTransport_LiveOnesWithLatency_OldOnesAsCatchUp()
    {
        var now = _time.GetUtcNow();
        var live = new EventRecord("e", 1, "orders", "m", now.AddMilliseconds(-5), "1"u8.ToArray());
        var old = new EventRecord("e", 2, "orders", "m", now.AddHours(-1), "1"u8.ToArray());
        _metrics.Delivered(DeliveryTransport.Sse, [live, old], now, liveSince: now.AddSeconds(-1));
        _metrics.Delivered(DeliveryTransport.WebSocket, live, now, liveSince: now.AddSeconds(-1));
        _metrics.BytesWritten(DeliveryTransport.Sse, 300);
        _time.Advance(TimeSpan.FromSeconds(1));

        using var snapshot = await SampleAsync();
        var transports = snapshot.RootElement.GetProperty("transports");
        Assert.Equal(["short_poll", "long_poll", "sse", "websocket", "webhook"], transports.EnumerateObject().Select(p => p.Name));
        var sse = transports.GetProperty("sse");
        Assert.Equal(2, sse.GetProperty("delivered").GetInt64());
        Assert.Equal(1, sse.GetProperty("catchUp").GetInt64());
        Assert.Equal(1, sse.GetProperty("samples").GetInt64());
        Assert.Equal(300, sse.GetProperty("bytes").GetInt64());
        Assert.InRange(sse.GetProperty("p50").GetDouble(), 5.0, 6.25);
        Assert.Equal(JsonValueKind.Null, transports.GetProperty("short_poll").GetProperty("p50").ValueKind);
        var delivered = snapshot.RootElement.GetProperty("delivered");
        Assert.Equal((3L, 1L), (delivered.GetProperty("total").GetInt64(), delivered.GetProperty("catchUp").GetInt64()));
    }

    [Fact]
    public async Task Sample_CountsOpenConnections_AndPolls()
    {
        _metrics.ConnectionOpened(DeliveryTransport.Sse);
        _metrics.ConnectionOpened(DeliveryTransport.Sse);
        _metrics.ConnectionClosed(DeliveryTransport.Sse);
        _metrics.ConnectionOpened(DeliveryTransport.WebSocket);
        _metrics.PollAnswered(longPoll: false, PollOutcome.Events);
        _metrics.PollAnswered(longPoll: true, PollOutcome.Empty);
        _metrics.PollAnswered(longPoll: true, PollOutcome.NotModified);

        using var snapshot = await SampleAsync();
        var connections = snapshot.RootElement.GetProperty("connections");
        Assert.Equal((1L, 1L, 0L), (connections.GetProperty("sse").GetInt64(), connections.GetProperty("websocket").GetInt64(), connections.GetProperty("long_poll").GetInt64()));
        var polls = snapshot.RootElement.GetProperty("polls");
        Assert.Equal((1L, 2L, 1L, 1L), (polls.GetProperty("short").GetInt64(), polls.GetProperty("long").GetInt64(),
            polls.GetProperty("empty").GetInt64(), polls.GetProperty("notModified").GetInt64()));
    }

    [Fact]
    public async Task Sample_TopicTable_RanksTheBusiestSinceStart_WithoutItsOwnSnapshots()
    {
        await _log.AppendAsync([new EventDraft("before.start", "m", "1"u8.ToArray())]);
        using var sampler = new DashboardSampler(_metrics, _log, _webhooks, _jobs, new StaticOptions<MonitoringOptions>(new MonitoringOptions()), _time,
            NullLogger<DashboardSampler>.Instance);
        await _log.AppendAsync([.. Enumerable.Range(0, 3).Select(_ => new EventDraft("orders", "m", "1"u8.ToArray())), new EventDraft("users", "m", "1"u8.ToArray()),
            new EventDraft(DashboardSampler.Topic, DashboardSampler.SnapshotType, "{}"u8.ToArray())]);
        _time.Advance(TimeSpan.FromSeconds(1));

        using var snapshot = JsonDocument.Parse(await sampler.SampleAsync());
        var topics = snapshot.RootElement.GetProperty("topics").EnumerateArray().Select(t => (t.GetProperty("topic").GetString(), t.GetProperty("total").GetInt64())).ToList();
        Assert.Equal([("orders", 3L), ("users", 1L)], topics);
        Assert.Equal(5, snapshot.RootElement.GetProperty("eventsScanned").GetInt64());
        Assert.Equal(6, snapshot.RootElement.GetProperty("store").GetProperty("head").GetInt64());
    }

    [Fact]
    public async Task Sample_Webhooks_ListTroubleFirst_WithoutCredentialsInUrls()
    {
        _webhooks.List.Add(new WebhookEndpointHealth("wh_busy", "https://example.com/busy", WebhookStatus.Active, "closed", 0, null, 9, 1, 50, 9, 0));
        _webhooks.List.Add(new WebhookEndpointHealth("wh_open", "https://user:secret@example.com/hook?token=abc", WebhookStatus.Active, "open", 4, "timeout", 0, 4, 3, 0, 0));
        _webhooks.List.Add(new WebhookEndpointHealth("wh_idle", "https://example.com/idle", WebhookStatus.Paused, null, 0, null, 0, 0, 0, 2, 1));
        _webhookMetrics.Attempted(200);
        _webhookMetrics.Attempted(500);
        _webhookMetrics.Attempted(null);

        using var snapshot = await SampleAsync();
        var webhooks = snapshot.RootElement.GetProperty("webhooks");
        Assert.Equal((1L, 1L, 1L, 3), (webhooks.GetProperty("success").GetInt64(), webhooks.GetProperty("httpError").GetInt64(),
            webhooks.GetProperty("noResponse").GetInt64(), webhooks.GetProperty("endpointCount").GetInt32()));
        var endpoints = webhooks.GetProperty("endpoints").EnumerateArray().ToList();
        Assert.Equal(["wh_open", "wh_busy", "wh_idle"], endpoints.Select(e => e.GetProperty("id").GetString()));
        Assert.Equal("https://example.com/hook", endpoints[0].GetProperty("url").GetString());
        Assert.Equal(("open", "timeout", 0.0), (endpoints[0].GetProperty("circuit").GetString(), endpoints[0].GetProperty("lastError").GetString(),
            endpoints[0].GetProperty("successRate").GetDouble()));
        Assert.Equal(0.9, endpoints[1].GetProperty("successRate").GetDouble());
        Assert.Equal((JsonValueKind.Null, JsonValueKind.Null, "paused"), (endpoints[2].GetProperty("circuit").ValueKind,
            endpoints[2].GetProperty("successRate").ValueKind, endpoints[2].GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Sample_Jobs_SplitQueuedAndRunning()
    {
        _jobs.Depths.AddRange([("pdf", 1), ("mail", 3)]);
        _jobs.Unfinished = 6;

        using var snapshot = await SampleAsync();
        var jobs = snapshot.RootElement.GetProperty("jobs");
        Assert.Equal((4, 2), (jobs.GetProperty("queued").GetInt32(), jobs.GetProperty("running").GetInt32()));
        Assert.Equal(["mail", "pdf"], jobs.GetProperty("queues").EnumerateArray().Select(q => q.GetProperty("queue").GetString()));
    }

    [Fact]
    public async Task Loop_PublishesSnapshots_OnlyWhileWatched_AndForTheLingerAfter()
    {
        await _sampler.StartAsync(CancellationToken.None);
        try
        {
            // Nobody watching: snapshots are taken (the loop runs) but none is appended.
            await TickAsync();
            await TickAsync();
            Assert.Equal(0, await SnapshotsAsync());

            var watching = _sampler.Watch();
            Assert.Equal(1, _sampler.Watchers);
            await Eventually.UntilAsync(async () => await SnapshotsAsync() > 0, "a snapshot while watched", () => _time.Advance(TimeSpan.FromSeconds(1)));
            var first = (await _log.ReadAsync(TopicFilter.Parse(DashboardSampler.Topic), 0, 10)).Events[0];
            Assert.Equal(DashboardSampler.SnapshotType, first.Type);
            using (var data = JsonDocument.Parse(first.Data))
            {
                Assert.True(data.RootElement.TryGetProperty("published", out _));
            }

            // Just left: a reconnecting page must find no hole, so snapshots continue for a while.
            watching.Dispose();
            watching.Dispose();
            Assert.Equal(0, _sampler.Watchers);
            var left = await SnapshotsAsync();
            await TickAsync();
            await TickAsync();
            Assert.True(await SnapshotsAsync() > left, "snapshots continue during the linger");

            // Long gone: an idle hub writes nothing.
            _time.Advance(TimeSpan.FromSeconds(31));
            await TickAsync();
            await TickAsync();
            var quiet = await SnapshotsAsync();
            await TickAsync();
            await TickAsync();
            Assert.Equal(quiet, await SnapshotsAsync());
        }
        finally
        {
            await _sampler.StopAsync(CancellationToken.None);
        }
    }

    private async Task<JsonDocument> SampleAsync() => JsonDocument.Parse(await _sampler.SampleAsync());

    private async ValueTask<int> SnapshotsAsync() => (await _log.ReadAsync(TopicFilter.Parse(DashboardSampler.Topic), 0, 1000)).Events.Count;

    /// <summary>Moves the fake clock until the loop has taken one more snapshot (each reads the job queues once).</summary>
    private async Task TickAsync()
    {
        var before = _jobs.Reads;
        await Eventually.UntilAsync(() => _jobs.Reads > before, "the next snapshot", () => _time.Advance(TimeSpan.FromSeconds(1)));
    }
}
