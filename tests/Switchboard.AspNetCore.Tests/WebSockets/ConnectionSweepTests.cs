using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.AspNetCore.WebSockets;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>The sweep's wheel and the keep-alive rule on a fake clock: who is visited when, and what a visit decides.</summary>
public sealed class ConnectionSweepTests
{
    private static readonly TimeSpan Resolution = TimeSpan.FromSeconds(1);

    private sealed class Probe(Func<long, long?>? onSweep = null) : SweepEntry
    {
        public List<long> Visits { get; } = [];

        internal override long? OnSweep(long now)
        {
            Visits.Add(now);
            return onSweep?.Invoke(now);
        }
    }

    private static (FakeTimeProvider Time, ConnectionSweep Sweep) Start()
    {
        var time = new FakeTimeProvider();
        return (time, new ConnectionSweep(time, Resolution, NullLogger<ConnectionSweep>.Instance));
    }

    private static long In(FakeTimeProvider time, TimeSpan span) => time.GetTimestamp() + WebSocketKeepAlive.ToTimestampSpan(time, span);

    [Fact]
    public void Entry_IsVisitedAtTheFirstTickAtOrAfterItsDueTime_AndNotBefore()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        var entry = new Probe();
        sweep.Schedule(entry, In(time, TimeSpan.FromSeconds(2.5)));

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Empty(entry.Visits);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Single(entry.Visits);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Single(entry.Visits); // it returned null: out of the sweep
        Assert.Equal(0, sweep.Count);
    }

    [Fact]
    public void Tick_VisitsOnlyTheEntriesDueThen()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        var entries = Enumerable.Range(0, 1000).Select(_ => new Probe()).ToList();
        for (var i = 0; i < entries.Count; i++)
        {
            sweep.Schedule(entries[i], In(time, TimeSpan.FromSeconds(1 + (i % 10))));
        }

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(100, entries.Count(e => e.Visits.Count == 1));
        Assert.Equal(900, sweep.Count);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(200, entries.Count(e => e.Visits.Count == 1));
    }

    [Fact]
    public void DueTimeBeyondOneTurnOfTheWheel_IsVisitedAtItsTick_NotWhenTheWheelFirstComesRound()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        var entry = new Probe();
        var ticks = ConnectionSweep.Slots + 10;
        sweep.Schedule(entry, In(time, TimeSpan.FromSeconds(ticks)));

        time.Advance(TimeSpan.FromSeconds(ticks - 1));
        Assert.Empty(entry.Visits);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Single(entry.Visits);
    }

    [Fact]
    public void Visit_ReturningANextTime_IsVisitedAgainThen()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        Probe? entry = null;
        entry = new Probe(now => entry!.Visits.Count < 3 ? now + WebSocketKeepAlive.ToTimestampSpan(time, TimeSpan.FromSeconds(5)) : null);
        sweep.Schedule(entry, In(time, TimeSpan.FromSeconds(1)));

        for (var i = 0; i < 20; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(3, entry.Visits.Count);
        Assert.Equal([TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)], entry.Visits.Zip(entry.Visits.Skip(1), (a, b) => time.GetElapsedTime(a, b)));
    }

    [Fact]
    public void Schedule_EarlierMovesTheVisit_LaterKeepsTheEarlierOne()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        var moved = new Probe();
        var kept = new Probe();
        sweep.Schedule(moved, In(time, TimeSpan.FromSeconds(10)));
        sweep.Schedule(moved, In(time, TimeSpan.FromSeconds(2)));
        sweep.Schedule(kept, In(time, TimeSpan.FromSeconds(2)));
        sweep.Schedule(kept, In(time, TimeSpan.FromSeconds(10)));
        Assert.Equal(2, sweep.Count);

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Single(moved.Visits);
        Assert.Single(kept.Visits);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Single(moved.Visits);
        Assert.Single(kept.Visits);
    }

    [Fact]
    public void Remove_IsNeverVisited_AndCannotBeScheduledAgain()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        var entry = new Probe();
        sweep.Schedule(entry, In(time, TimeSpan.FromSeconds(1)));
        sweep.Remove(entry);
        sweep.Schedule(entry, In(time, TimeSpan.FromSeconds(2)));
        Assert.Equal(0, sweep.Count);

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(entry.Visits);
    }

    [Fact]
    public void PastDueTime_IsVisitedAtTheNextTick()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        time.Advance(TimeSpan.FromSeconds(3));
        var entry = new Probe();
        sweep.Schedule(entry, In(time, TimeSpan.FromSeconds(-2)));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Single(entry.Visits);
    }

    [Fact]
    public void LateTimer_CatchesUpOnEveryDueEntry_EvenMoreThanATurnLate()
    {
        var time = new FakeTimeProvider();
        using var sweep = new ConnectionSweep(time, Resolution, NullLogger<ConnectionSweep>.Instance, timer: false);
        var entries = Enumerable.Range(1, 5).Select(_ => new Probe()).ToList();
        for (var i = 0; i < entries.Count; i++)
        {
            sweep.Schedule(entries[i], In(time, TimeSpan.FromSeconds(i * 20)));
        }

        var notYet = new Probe();
        sweep.Schedule(notYet, In(time, TimeSpan.FromSeconds((ConnectionSweep.Slots * 3) + 1)));

        // One tick for a long stretch, as from a timer on a machine that stalled.
        time.Advance(TimeSpan.FromSeconds(ConnectionSweep.Slots * 3));
        sweep.Tick();
        Assert.All(entries, e => Assert.Single(e.Visits));
        Assert.Empty(notYet.Visits);
        time.Advance(TimeSpan.FromSeconds(1));
        sweep.Tick();
        Assert.Single(notYet.Visits);
    }

    [Fact]
    public void AVisitThatThrows_IsDropped_AndTheOthersAreStillVisited()
    {
        var (time, sweep) = Start();
        using var _ = sweep;
        var failing = new Probe(_ => throw new InvalidOperationException("boom"));
        var healthy = new Probe(now => now + WebSocketKeepAlive.ToTimestampSpan(time, TimeSpan.FromSeconds(1)));
        sweep.Schedule(failing, In(time, TimeSpan.FromSeconds(1)));
        sweep.Schedule(healthy, In(time, TimeSpan.FromSeconds(1)));

        time.Advance(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Single(failing.Visits);
        Assert.Equal(2, healthy.Visits.Count);
    }

    [Theory]
    [InlineData(15_000, 30_000, 100)]
    [InlineData(200, 1_000, 50)]
    [InlineData(20, 20, 10)]
    [InlineData(600_000, 600_000, 100)]
    public void Resolution_IsAQuarterOfTheShorterSetting_Between10MsAnd100Ms(int intervalMs, int timeoutMs, int expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), ConnectionSweep.ResolutionFor(TimeSpan.FromMilliseconds(intervalMs), TimeSpan.FromMilliseconds(timeoutMs)));

    [Fact]
    public void KeepAlive_QuietPeer_IsPingedAfterTheInterval_AndDeadAfterTheTimeoutWithoutAnAnswer()
    {
        var time = new FakeTimeProvider();
        var rule = new WebSocketKeepAlive(time, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30));
        long At(double seconds) => time.GetTimestamp() + WebSocketKeepAlive.ToTimestampSpan(time, TimeSpan.FromSeconds(seconds));
        var received = At(0);

        Assert.Equal(new KeepAliveStep(KeepAliveAction.None, At(15)), rule.Next(At(5), received, 0));
        Assert.Equal(new KeepAliveStep(KeepAliveAction.Ping, At(31)), rule.Next(At(16), received, 0));

        // Pinged at 16 and not answered: only the timeout can be due, so the next look is at 46, and it is dead then.
        var pinged = At(16);
        Assert.Equal(new KeepAliveStep(KeepAliveAction.None, At(46)), rule.Next(At(17), received, pinged));
        Assert.Equal(new KeepAliveStep(KeepAliveAction.None, At(46)), rule.Next(At(31), received, pinged));
        Assert.Equal(KeepAliveAction.Dead, rule.Next(At(46), received, pinged).Action);
    }

    [Fact]
    public void KeepAlive_AnyFrameAfterThePing_AnswersIt_AndTheNextPingIsAnIntervalAfterThatFrame()
    {
        var time = new FakeTimeProvider();
        var rule = new WebSocketKeepAlive(time, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30));
        long At(double seconds) => time.GetTimestamp() + WebSocketKeepAlive.ToTimestampSpan(time, TimeSpan.FromSeconds(seconds));

        var pinged = At(16);
        var answered = At(16.5);
        Assert.Equal(new KeepAliveStep(KeepAliveAction.None, At(31.5)), rule.Next(At(31), answered, pinged));
        Assert.Equal(KeepAliveAction.Ping, rule.Next(At(31.5), answered, pinged).Action);
        Assert.Equal(KeepAliveAction.None, rule.Next(At(100), answered, At(95)).Action);
    }

    [Fact]
    public void KeepAlive_ShortTimeout_LooksAgainAtTheTimeoutNotTheInterval()
    {
        var time = new FakeTimeProvider();
        var rule = new WebSocketKeepAlive(time, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(5));
        long At(double seconds) => time.GetTimestamp() + WebSocketKeepAlive.ToTimestampSpan(time, TimeSpan.FromSeconds(seconds));

        Assert.Equal(new KeepAliveStep(KeepAliveAction.Ping, At(20)), rule.Next(At(15), At(0), 0));
        Assert.Equal(new KeepAliveStep(KeepAliveAction.None, At(20)), rule.Next(At(16), At(0), At(15)));
        Assert.Equal(KeepAliveAction.Dead, rule.Next(At(20), At(0), At(15)).Action);
    }

    [Fact]
    public void KeepAlive_LateVisit_PingsRatherThanDrops_SilenceAloneIsNeverDeath()
    {
        // A node that stalls (a pause, a starved timer) visits long after the interval and the timeout have passed;
        // the peer may have been answering all along, so it gets a ping and the timeout to answer it.
        var time = new FakeTimeProvider();
        var rule = new WebSocketKeepAlive(time, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30));
        long At(double seconds) => time.GetTimestamp() + WebSocketKeepAlive.ToTimestampSpan(time, TimeSpan.FromSeconds(seconds));

        Assert.Equal(new KeepAliveStep(KeepAliveAction.Ping, At(315)), rule.Next(At(300), At(0), 0));
        Assert.Equal(KeepAliveAction.Dead, rule.Next(At(330), At(0), At(300)).Action);
    }

    [Fact]
    public void KeepAlive_WireTooBusyForAPing_IsDeadATimeoutAfterTheFirstRefusal()
    {
        var time = new FakeTimeProvider();
        var rule = new WebSocketKeepAlive(time, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30));
        long At(double seconds) => time.GetTimestamp() + WebSocketKeepAlive.ToTimestampSpan(time, TimeSpan.FromSeconds(seconds));

        Assert.Equal(KeepAliveAction.Ping, rule.Next(At(44), At(0), 0, pingRefusedSince: At(15)).Action);
        Assert.Equal(KeepAliveAction.Dead, rule.Next(At(45), At(0), 0, pingRefusedSince: At(15)).Action);

        // A refusal from before the peer last spoke belongs to an earlier silence.
        Assert.Equal(KeepAliveAction.Ping, rule.Next(At(100), At(50), 0, pingRefusedSince: At(20)).Action);
    }
}
