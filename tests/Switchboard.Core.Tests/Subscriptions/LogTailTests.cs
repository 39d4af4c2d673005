using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Subscriptions;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Core.Tests.Subscriptions;

public sealed class LogTailTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-01T00:00:00Z"));
    private readonly InMemoryEventLog _log;
    private readonly TailClock _clock;

    public LogTailTests()
    {
        _log = new InMemoryEventLog(_time);
        _clock = new TailClock(_time, TimeSpan.FromMilliseconds(100));
    }

    public void Dispose() => _clock.Dispose();

    [Fact]
    public async Task Next_EventsAlreadyThere_ReturnsThemWithoutRegistering()
    {
        await Append("a", "b", "a");
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0);

        var step = await tail.NextAsync();

        Assert.Equal(TailStepKind.Events, step.Kind);
        Assert.Equal([1L, 3L], step.Events.Select(e => e.Seq));
        Assert.Equal(3, tail.AfterSeq);
        Assert.Equal(0, _log.Subscriptions.Count); // a reader that found events never touched the index
    }

    [Fact]
    public async Task Next_Waits_ForAMatchingAppendOnly()
    {
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0);
        var next = tail.NextAsync().AsTask();
        await Waiting.UntilAsync(() => _log.Subscriptions.Count == 1, "the tail registers to wait");

        await Append("b");
        Assert.Equal(0, tail.Waiter.Wakes); // another topic's commit does not wake it
        Assert.False(next.IsCompleted);

        await Append("a");
        var step = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([2L], step.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task Next_AppendBetweenReadAndWait_IsNotMissed()
    {
        var racing = new RacingLog(_log, () => Append("a"));
        using var tail = new LogTail(racing, TopicFilter.Parse("a"), 0);

        var step = await tail.NextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(racing.Fired);
        Assert.Equal([1L], step.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task Next_Quiet_ReturnsIdleWithinTheInterval()
    {
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0, new TailOptions { IdleInterval = TimeSpan.FromSeconds(15) }, _clock);
        var next = tail.NextAsync().AsTask();
        await Waiting.UntilAsync(() => _clock.Pending == 1, "the tail asks the clock for its idle deadline");

        _time.Advance(TimeSpan.FromSeconds(14));
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(TailStepKind.Idle, (await next.WaitAsync(TimeSpan.FromSeconds(10))).Kind);
    }

    [Fact]
    public async Task Next_Deadline_Ends()
    {
        var deadline = _time.GetUtcNow() + TimeSpan.FromSeconds(30);
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0, new TailOptions { Deadline = deadline, IdleInterval = TimeSpan.FromSeconds(20) }, _clock);

        var first = tail.NextAsync().AsTask();
        await Waiting.UntilAsync(() => _clock.Pending >= 1, "a deadline is queued");
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(TailStepKind.Idle, (await first.WaitAsync(TimeSpan.FromSeconds(10))).Kind);

        var second = tail.NextAsync().AsTask();
        await Waiting.UntilAsync(() => _clock.Pending >= 1, "the deadline is queued");
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(TailStepKind.Ended, (await second.WaitAsync(TimeSpan.FromSeconds(10))).Kind);
    }

    [Fact]
    public async Task Next_TrimmedHistory_ReportsTheGapAndMovesOn()
    {
        await Append("a", "a", "a");
        await _log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 1 }), _time.GetUtcNow());
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0);

        var gap = await tail.NextAsync();
        Assert.Equal(TailStepKind.Gap, gap.Kind);
        Assert.Equal(2, gap.Gap!.RestartAfterSeq);
        Assert.Equal(2, tail.AfterSeq);

        var events = await tail.NextAsync();
        Assert.Equal([3L], events.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task Next_Cancelled_Throws()
    {
        using var cancel = new CancellationTokenSource();
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0);
        var next = tail.NextAsync(cancel.Token).AsTask();
        await Waiting.UntilAsync(() => _log.Subscriptions.Count == 1, "the tail waits");

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next.WaitAsync(TimeSpan.FromSeconds(10)));
        tail.Dispose();
        Assert.Equal(0, _log.Subscriptions.Count);
    }

    [Fact]
    public async Task Next_OneTokenAcrossManyWaits_ACancelAfterThemStillEndsTheWait()
    {
        using var cancel = new CancellationTokenSource();
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0);
        for (var i = 1; i <= 3; i++)
        {
            var waiting = tail.NextAsync(cancel.Token).AsTask();
            await Waiting.UntilAsync(() => _log.Subscriptions.Count == 1, "the tail waits");
            await Append("a");
            var step = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal([(long)i], step.Events.Select(e => e.Seq));
        }

        var last = tail.NextAsync(cancel.Token).AsTask();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => last.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Next_CancelledWhileReading_DoesNotWait()
    {
        using var cancel = new CancellationTokenSource();
        var log = new CancellingLog(_log, cancel);
        using var tail = new LogTail(log, TopicFilter.Parse("a"), 0);
        var first = tail.NextAsync(cancel.Token).AsTask();
        await Waiting.UntilAsync(() => _log.Subscriptions.Count == 1, "the tail waits");
        await Append("a");
        Assert.Single((await first.WaitAsync(TimeSpan.FromSeconds(10))).Events);

        log.CancelOnNextRead = true; // the token is registered from the first wait; the cancel lands after the read's Arm

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tail.NextAsync(cancel.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task TryNext_NothingThere_ReturnsNullWithTheWaiterArmedForMatchingAppendsOnly()
    {
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0);

        var trying = tail.TryNextAsync();
        Assert.True(trying.IsCompletedSuccessfully); // an empty ring read completes at once, so waiting allocates nothing
        Assert.Null(await trying);
        Assert.Equal(1, _log.Subscriptions.Count);

        var wait = tail.Waiter.WaitAsync().AsTask();
        await Append("b");
        Assert.False(wait.IsCompleted); // another topic's commit does not wake it
        await Append("a");
        await wait.WaitAsync(TimeSpan.FromSeconds(10));

        var step = await tail.TryNextAsync();
        Assert.NotNull(step);
        Assert.Equal([2L], step.Value.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task TryNext_StoreReadGoesAsynchronous_GivesTheSameSteps()
    {
        var log = new YieldingLog(_log);
        using var tail = new LogTail(log, TopicFilter.Parse("a"), 0, new TailOptions { IdleInterval = TimeSpan.FromSeconds(15) }, _clock);

        Assert.Null(await tail.TryNextAsync()); // registered, read again, and found nothing: wait
        Assert.Equal(1, _log.Subscriptions.Count);
        Assert.Equal(2, log.Reads);

        var wait = tail.Waiter.WaitAsync().AsTask();
        await Append("a");
        await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([1L], (await tail.TryNextAsync())!.Value.Events.Select(e => e.Seq));

        Assert.Null(await tail.TryNextAsync());
        var quiet = tail.Waiter.WaitAsync().AsTask();
        await Waiting.UntilAsync(() => _clock.Pending == 1, "the tail asks the clock for its idle deadline");
        _time.Advance(TimeSpan.FromSeconds(15));
        await quiet.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TailStepKind.Idle, (await tail.TryNextAsync())!.Value.Kind);
    }

    [Fact]
    public async Task TryNext_CancelledWhileWaiting_TheWaitEndsAndTheNextTryThrows()
    {
        using var cancel = new CancellationTokenSource();
        using var tail = new LogTail(_log, TopicFilter.Parse("a"), 0);
        Assert.Null(await tail.TryNextAsync(cancel.Token));
        var wait = tail.Waiter.WaitAsync().AsTask();

        cancel.Cancel();

        await wait.WaitAsync(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await tail.TryNextAsync(cancel.Token));
    }

    private async Task Append(params string[] topics)
    {
        foreach (var topic in topics)
        {
            await _log.AppendAsync([new EventDraft(topic, "m", "1"u8.ToArray())]);
        }
    }

    /// <summary>Cancels the token during a read once asked to: a cancel that lands between a tail's read and its wait.</summary>
    private sealed class CancellingLog(IEventLog inner, CancellationTokenSource cancel) : Testing.Log.DelegatingEventLog(inner)
    {
        public bool CancelOnNextRead { get; set; }

        public override async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
        {
            var result = await base.ReadAsync(filter, afterSeq, limit, CancellationToken.None);
            if (CancelOnNextRead)
            {
                CancelOnNextRead = false;
                cancel.Cancel();
            }

            return result;
        }
    }

    /// <summary>A store whose every read completes asynchronously, as a read behind the ring does.</summary>
    private sealed class YieldingLog(IEventLog inner) : Testing.Log.DelegatingEventLog(inner)
    {
        public int Reads { get; private set; }

        public override async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
        {
            Reads++;
            await Task.Yield();
            return await base.ReadAsync(filter, afterSeq, limit, cancellationToken);
        }
    }

    /// <summary>Makes one append right after the first empty read, before the tail can wait.</summary>
    private sealed class RacingLog(IEventLog inner, Func<Task> append) : Testing.Log.DelegatingEventLog(inner)
    {
        public bool Fired { get; private set; }

        public override async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
        {
            var result = await base.ReadAsync(filter, afterSeq, limit, cancellationToken);
            if (!Fired && result.Events.Count == 0 && Inner.Subscriptions.Count > 0)
            {
                Fired = true;
                await append();
            }

            return result;
        }
    }
}
