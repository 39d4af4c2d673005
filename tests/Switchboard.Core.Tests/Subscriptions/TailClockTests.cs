using Microsoft.Extensions.Time.Testing;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Core.Tests.Subscriptions;

/// <summary>The shared deadline clock: ticks on a grid of its resolution, armed only for the earliest deadline.</summary>
public sealed class TailClockTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-01T00:00:00Z"));

    private long In(TimeSpan span) => _time.GetTimestamp() + (long)(span.TotalSeconds * _time.TimestampFrequency);

    [Fact]
    public void ADeadline_FiresAtTheFirstGridTickAtOrAfterIt_AndOnlyOnce()
    {
        using var clock = new TailClock(_time, TimeSpan.FromMilliseconds(100));
        var fired = 0;
        var waiter = new LogWaiter(TopicFilter.Parse("a"), _ => fired++);

        clock.WakeAt(waiter, In(TimeSpan.FromMilliseconds(250)));
        _time.Advance(TimeSpan.FromMilliseconds(299));
        Assert.Equal(0, fired);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, fired);

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, fired);
        Assert.Equal(0, clock.Pending);
    }

    [Fact]
    public void WithNothingDue_TheClockDoesNotTick()
    {
        var time = new CountingTime(_time);
        using var clock = new TailClock(time, TimeSpan.FromMilliseconds(100));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, time.Callbacks);

        var waiter = new LogWaiter(TopicFilter.Parse("a"), _ => { });
        clock.WakeAt(waiter, In(TimeSpan.FromSeconds(1)));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, time.Callbacks); // one tick for the one deadline, none before or after it
    }

    [Fact]
    public void AnEarlierDeadline_AskedAfterALaterOne_MovesTheTimerForward()
    {
        using var clock = new TailClock(_time, TimeSpan.FromMilliseconds(100));
        var late = 0;
        var early = 0;
        var lateWaiter = new LogWaiter(TopicFilter.Parse("a"), _ => late++);
        var earlyWaiter = new LogWaiter(TopicFilter.Parse("b"), _ => early++);

        clock.WakeAt(lateWaiter, In(TimeSpan.FromSeconds(5)));
        clock.WakeAt(earlyWaiter, In(TimeSpan.FromMilliseconds(150)));
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal((1, 0), (early, late));

        // Then the timer is armed again for the later one, which still fires on time.
        _time.Advance(TimeSpan.FromMilliseconds(4_799));
        Assert.Equal(0, late);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, late);
    }

    [Fact]
    public void ManyDeadlinesWithinOneTick_FireTogether()
    {
        using var clock = new TailClock(_time, TimeSpan.FromMilliseconds(100));
        var fired = 0;
        var waiters = Enumerable.Range(0, 50).Select(i => new LogWaiter(TopicFilter.Parse($"t{i}"), _ => fired++)).ToList();
        for (var i = 0; i < waiters.Count; i++)
        {
            clock.WakeAt(waiters[i], In(TimeSpan.FromMilliseconds(101 + i)));
        }

        _time.Advance(TimeSpan.FromMilliseconds(199));
        Assert.Equal(0, fired);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(50, fired);
    }

    /// <summary>A fake clock that counts how often its timers call back.</summary>
    private sealed class CountingTime(FakeTimeProvider inner) : TimeProvider
    {
        private int _callbacks;

        public int Callbacks => Volatile.Read(ref _callbacks);

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override long GetTimestamp() => inner.GetTimestamp();

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            inner.CreateTimer(s =>
            {
                Interlocked.Increment(ref _callbacks);
                callback(s);
            }, state, dueTime, period);
    }
}
