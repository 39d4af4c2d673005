using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.Monitoring.Tests;

public sealed class PlaygroundSessionsTests : IDisposable
{
    private const string SinkBase = "http://127.0.0.1:5000/base";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly InMemoryEventLog _log;
    private readonly FakePlaygroundWebhooks _webhooks = new();
    private readonly MonitoringOptions _options = new() { MaxPlaygroundSessions = 2, PlaygroundSessionTimeout = TimeSpan.FromMinutes(10) };
    private readonly PlaygroundSessions _sessions;

    public PlaygroundSessionsTests()
    {
        _log = new InMemoryEventLog(_time);
        var hub = new Hub(_log, new StaticOptions<LimitsOptions>(new LimitsOptions()), new StaticOptions<IdempotencyOptions>(new IdempotencyOptions()), _time);
        _sessions = new PlaygroundSessions(_webhooks, _log, hub, new StaticOptions<MonitoringOptions>(_options), _time, NullLogger<PlaygroundSessions>.Instance);
    }

    public void Dispose() => _sessions.Dispose();

    [Fact]
    public async Task Create_RegistersAWebhookToTheSink_MarkedLocalBeforeItExists()
    {
        var session = await _sessions.CreateAsync("demo", SinkBase, CancellationToken.None);

        Assert.StartsWith("pg_", session.Id, StringComparison.Ordinal);
        Assert.Equal(("demo", PlaygroundSessions.ReceiptsTopicPrefix + "." + session.Id), (session.Topic, session.ReceiptsTopic));
        var endpoint = _webhooks.Endpoints[session.WebhookId];
        Assert.Equal(SinkBase + "/playground/sink/" + session.Id, endpoint.Url);
        Assert.Equal(["demo"], endpoint.Topics);
        Assert.Equal(_log.HeadSeq, endpoint.Progress.AfterSeq);
        Assert.Equal(endpoint.Url, _webhooks.Local[endpoint.Id]);
        Assert.Equal(["mark " + endpoint.Id, "create " + endpoint.Id], _webhooks.Calls);
        Assert.Same(session, _sessions.Find(session.Id));
        Assert.Equal(1, _sessions.Count);
    }

    [Fact]
    public async Task Create_OverMaxPlaygroundSessions_IsUnavailable_AndABadTopicIsInvalid()
    {
        await _sessions.CreateAsync("a", SinkBase, CancellationToken.None);
        await _sessions.CreateAsync("b", SinkBase, CancellationToken.None);

        var full = await Assert.ThrowsAsync<SwitchboardException>(() => _sessions.CreateAsync("c", SinkBase, CancellationToken.None));
        Assert.Equal((SwitchboardErrorKind.Unavailable, "too-many-playgrounds"), (full.Kind, full.Code));

        var invalid = await Assert.ThrowsAsync<SwitchboardException>(() => _sessions.CreateAsync("no spaces", SinkBase, CancellationToken.None));
        Assert.Equal(SwitchboardErrorKind.Invalid, invalid.Kind);
        Assert.Equal(2, _webhooks.Endpoints.Count);
    }

    [Fact]
    public async Task Receive_PublishesAReceipt_AndAnUnknownSessionIsFalse()
    {
        var session = await _sessions.CreateAsync("demo", SinkBase, CancellationToken.None);
        var delivery = """{"seq":7,"topic":"demo","data":{"hello":"world"}}"""u8.ToArray();

        Assert.False(await _sessions.ReceiveAsync("pg_unknown", "msg_1", 100, delivery, CancellationToken.None));
        Assert.True(await _sessions.ReceiveAsync(session.Id, "msg_1", 123, delivery, CancellationToken.None));

        var receipt = Assert.Single((await _log.ReadAsync(TopicFilter.Parse(session.ReceiptsTopic), 0, 10)).Events);
        Assert.Equal(PlaygroundSessions.ReceiptType, receipt.Type);
        using var data = JsonDocument.Parse(receipt.Data);
        var root = data.RootElement;
        Assert.Equal(("msg_1", delivery.Length, 123, 7L), (root.GetProperty("webhookId").GetString(), root.GetProperty("bodyBytes").GetInt32(),
            root.GetProperty("headerBytes").GetInt32(), root.GetProperty("seq").GetInt64()));
        Assert.Equal("world", root.GetProperty("data").GetProperty("hello").GetString());
    }

    [Fact]
    public async Task Receive_ADeliveryWhoseDataWouldTakeTheReceiptOverTheEventLimit_IsReceiptedWithoutItsData()
    {
        var hub = new Hub(_log, new StaticOptions<LimitsOptions>(new LimitsOptions { MaxEventBytes = 1024 }), new StaticOptions<IdempotencyOptions>(new IdempotencyOptions()), _time);
        using var sessions = new PlaygroundSessions(_webhooks, _log, hub, new StaticOptions<MonitoringOptions>(_options), _time, NullLogger<PlaygroundSessions>.Instance);
        var session = await sessions.CreateAsync("demo", SinkBase, CancellationToken.None);
        var small = """{"seq":1,"topic":"demo","data":"fits"}"""u8.ToArray();
        var large = System.Text.Encoding.UTF8.GetBytes($$"""{"seq":2,"topic":"demo","data":"{{new string('x', 1000)}}"}""");

        Assert.True(await sessions.ReceiveAsync(session.Id, "msg_1", 10, small, CancellationToken.None));
        Assert.True(await sessions.ReceiveAsync(session.Id, "msg_2", 10, large, CancellationToken.None));

        var receipts = (await _log.ReadAsync(TopicFilter.Parse(session.ReceiptsTopic), 0, 10)).Events;
        Assert.Equal(2, receipts.Count);
        Assert.All(receipts, receipt => Assert.True(receipt.Data.Length <= 1024, $"a receipt of {receipt.Data.Length} bytes"));
        using (var first = JsonDocument.Parse(receipts[0].Data))
        {
            Assert.Equal("fits", first.RootElement.GetProperty("data").GetString());
            Assert.False(first.RootElement.TryGetProperty("dataOmitted", out _));
        }

        using var second = JsonDocument.Parse(receipts[1].Data);
        Assert.False(second.RootElement.TryGetProperty("data", out _));
        Assert.True(second.RootElement.GetProperty("dataOmitted").GetBoolean());
        Assert.Equal((large.Length, 2L), (second.RootElement.GetProperty("bodyBytes").GetInt32(), second.RootElement.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task End_DeletesTheWebhookAndItsMark_Once()
    {
        var session = await _sessions.CreateAsync("demo", SinkBase, CancellationToken.None);

        Assert.True(await _sessions.EndAsync(session.Id, CancellationToken.None));
        Assert.False(await _sessions.EndAsync(session.Id, CancellationToken.None));

        Assert.Empty(_webhooks.Endpoints);
        Assert.Empty(_webhooks.Local);
        Assert.Null(_sessions.Find(session.Id));
    }

    [Fact]
    public async Task Run_DeletesEndpointsLeftByAPreviousRun_ExpiresIdleSessions_AndStopEndsTheRest()
    {
        _webhooks.LeftByAPreviousRun.Add("wh_left");
        var idle = await _sessions.CreateAsync("idle", SinkBase, CancellationToken.None);
        var busy = await _sessions.CreateAsync("busy", SinkBase, CancellationToken.None);

        await _sessions.StartAsync(CancellationToken.None);
        await Eventually.UntilAsync(() => _webhooks.LeftByAPreviousRun.Count == 0, "the leftover endpoint to be deleted");

        // The sweep runs every 30 s; past the timeout only the untouched session is ended.
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromMinutes(10); elapsed += TimeSpan.FromSeconds(30))
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            _sessions.Touch(busy);
        }

        await Eventually.UntilAsync(() => _sessions.Find(idle.Id) is null, "the idle session to expire", () => _time.Advance(TimeSpan.FromSeconds(30)));
        Assert.NotNull(_sessions.Find(busy.Id));
        Assert.False(_webhooks.Endpoints.ContainsKey(idle.WebhookId));

        await _sessions.StopAsync(CancellationToken.None);
        Assert.Equal(0, _sessions.Count);
        Assert.Empty(_webhooks.Endpoints);
    }
}
