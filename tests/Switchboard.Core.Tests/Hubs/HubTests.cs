using Switchboard.Testing;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.Core.Tests.Hubs;

public sealed class HubTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly InMemoryEventLog _log;
    private readonly Hub _hub;

    public HubTests()
    {
        _log = new InMemoryEventLog(_time);
        _hub = new Hub(_log, new FixedOptions<LimitsOptions>(new LimitsOptions()), new FixedOptions<IdempotencyOptions>(new IdempotencyOptions()), _time);
    }

    [Fact]
    public void ResolveStart_DefaultsToLatest()
    {
        _log.AppendAsync([new EventDraft("a", "m", "1"u8.ToArray())]);
        Assert.Equal(new StartPosition(1, null, _log.Epoch), _hub.ResolveStart(null, TopicFilter.Parse("a")));
        Assert.Equal(new StartPosition(1, null, _log.Epoch), _hub.ResolveStart("latest", TopicFilter.Parse("a")));
        Assert.Equal(new StartPosition(0, null, _log.Epoch), _hub.ResolveStart("earliest", TopicFilter.Parse("a")));
        Assert.Equal(_hub.FormatCursor(1), _hub.ResolveStart(null, TopicFilter.Parse("a")).Cursor);
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("earliest")]
    [InlineData("cursor")]
    public async Task AHistoryReplacedBetweenResolvingTheStartAndReading_IsAGap_NotAReadOfTheNewHistoryFromAnOldSeq(string after)
    {
        var log = new ReplaceableEpochLog(_log);
        var hub = new Hub(log, new FixedOptions<LimitsOptions>(new LimitsOptions()), new FixedOptions<IdempotencyOptions>(new IdempotencyOptions()), _time);
        await log.AppendAsync([new EventDraft("a", "m", "1"u8.ToArray()), new EventDraft("a", "m", "2"u8.ToArray())]);
        var filter = TopicFilter.Parse("a");
        var start = hub.ResolveStart(after == "cursor" ? hub.FormatCursor(1) : after, filter);
        Assert.Null(start.Reset);

        log.Replace();
        var read = await hub.ReadAsync(filter, start, 10, TimeSpan.Zero);
        Assert.True(read.Gap is { HistoryLost: true }, $"read {read.Events.Count} events, gap {read.Gap}");
        using var tail = hub.OpenTail(filter, start);
        Assert.Equal(Switchboard.Subscriptions.TailStepKind.Gap, (await tail.ReadAsync()).Kind);
    }

    private sealed class ReplaceableEpochLog(IEventLog inner) : Switchboard.Testing.Log.DelegatingEventLog(inner)
    {
        private string? _replaced;

        public override string Epoch => _replaced ?? Inner.Epoch;

        public void Replace() => _replaced = Switchboard.Cursors.Cursor.NewEpoch();
    }

    [Fact]
    public void ResolveStart_ForeignEpoch_IsAResetToEarliest()
    {
        var start = _hub.ResolveStart("0123456789abcdef.5", TopicFilter.Parse("a"));
        Assert.Equal(ResetReason.EpochChanged, start.Reset?.Reason);
        Assert.Equal(_hub.FormatCursor(0), start.Reset?.Cursor);
    }

    [Fact]
    public void ResolveStart_CursorAheadOfTheLog_IsAReset()
    {
        var start = _hub.ResolveStart(_hub.FormatCursor(99), TopicFilter.Parse("a"));
        Assert.Equal(ResetReason.CursorAhead, start.Reset?.Reason);
    }

    [Fact]
    public void ResolveStart_Malformed_Is400()
    {
        var problem = Assert.Throws<SwitchboardException>(() => _hub.ResolveStart("nope", TopicFilter.Parse("a")));
        Assert.Equal((SwitchboardErrorKind.Invalid, "invalid-cursor"), (problem.Kind, problem.Code));
    }

    [Theory]
    [InlineData(null, "message")]
    [InlineData("order.created", "order.created")]
    public void NormalizeType_DefaultsAndKeeps(string? type, string expected) => Assert.Equal(expected, _hub.NormalizeType(type));

    [Theory]
    [InlineData("switchboard.ping", "reserved-type")]
    [InlineData("", "invalid-type")]
    [InlineData("a\nb", "invalid-type")]
    public void NormalizeType_Rejects(string type, string code) =>
        Assert.Equal(code, Assert.Throws<SwitchboardException>(() => _hub.NormalizeType(type)).Code);

    [Fact]
    public void ParseFilter_RejectsNoneTooManyAndInvalid()
    {
        Assert.Equal("missing-topic", Assert.Throws<SwitchboardException>(() => _hub.ParseFilter([])).Code);
        Assert.Equal("too-many-patterns", Assert.Throws<SwitchboardException>(() => _hub.ParseFilter(Enumerable.Range(0, 33).Select(i => (string?)$"t{i}").ToArray())).Code);
        Assert.Equal("invalid-pattern", Assert.Throws<SwitchboardException>(() => _hub.ParseFilter(["a.>.b"])).Code);
    }

    [Fact]
    public async Task ReadAsync_Waiting_ReturnsWhenAMatchingEventArrives()
    {
        var read = _hub.ReadAsync(TopicFilter.Parse("wanted"), 0, 10, TimeSpan.FromMinutes(1));
        await _log.AppendAsync([new EventDraft("other", "m", "1"u8.ToArray())]);
        Assert.False(read.IsCompleted);

        await _log.AppendAsync([new EventDraft("wanted", "m", "2"u8.ToArray())]);
        var result = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("2", Encoding.UTF8.GetString(Assert.Single(result.Events).Data.Span));
    }

    [Fact]
    public async Task ReadAsync_Waiting_EndsEmptyWhenTheWaitPasses()
    {
        var read = _hub.ReadAsync(TopicFilter.Parse("wanted"), 0, 10, TimeSpan.FromSeconds(30));
        Assert.False(read.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(31));
        var result = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(result.Events);
    }

    [Fact]
    public async Task PublishAsync_SameKeyDifferentRequest_Is422()
    {
        await _hub.PublishAsync([new EventDraft("a", "m", "1"u8.ToArray())], "k", [1]);
        var problem = await Assert.ThrowsAsync<SwitchboardException>(() => _hub.PublishAsync([new EventDraft("a", "m", "2"u8.ToArray())], "k", [2]));
        Assert.Equal((SwitchboardErrorKind.Mismatch, "idempotency-key-reused"), (problem.Kind, problem.Code));
    }


    [Fact]
    public async Task Stop_EndsTheTailsThatStopWithTheHub_AndWakesNoOneElseForGood()
    {
        var filter = TopicFilter.Parse("a");
        using var stream = _hub.OpenTail(filter, 0, new Switchboard.Subscriptions.TailOptions { StopWithHub = true });
        using var worker = _hub.OpenTail(filter, 0);
        var held = _hub.ReadAsync(filter, 0, 10, TimeSpan.FromMinutes(5));
        var streaming = stream.NextAsync().AsTask();
        var working = worker.NextAsync().AsTask();
        await Waiting.UntilAsync(() => _log.Subscriptions.Count == 3, "the stream, the worker and the held poll wait");

        _hub.Stop();

        var ended = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => streaming.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(_hub.Stopping, ended.CancellationToken);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held.WaitAsync(TimeSpan.FromSeconds(10)));

        // The worker was woken too, found nothing, and waits on: it still gets the next event.
        Assert.False(working.IsCompleted);
        await _log.AppendAsync([new EventDraft("a", "m", "1"u8.ToArray())]);
        var step = await working.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(step.Events);

        _hub.Stop(); // twice is harmless
        Assert.True(_hub.Stopping.IsCancellationRequested);
    }
}
