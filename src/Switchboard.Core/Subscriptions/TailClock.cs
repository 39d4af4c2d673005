namespace Switchboard.Subscriptions;

/// <summary>
/// One timer for every reader's deadlines (heartbeats, token expiry, the end of a long poll), so an idle connection
/// costs no timer of its own. Deadlines sit in a heap; each tick sets the waiters whose deadline has passed. A waiter
/// has at most one deadline queued: asking again for a later one keeps the earlier, and the reader, woken early,
/// simply asks again. Ticks fall on a grid of <see cref="Resolution"/>, but the timer is armed only for the tick of
/// the earliest deadline: with nothing due it stays quiet (each tick wakes a thread-pool thread, which on an idle
/// node with thousands of connections costs more than the tick's own work), and with dense deadlines it still fires
/// at most once per resolution.
/// </summary>
public sealed class TailClock : IDisposable
{
    /// <summary>How late a deadline may fire: the tick period.</summary>
    public static readonly TimeSpan DefaultResolution = TimeSpan.FromMilliseconds(100);

    private readonly Lock _lock = new();
    private readonly PriorityQueue<LogWaiter, long> _due = new();
    private readonly ITimer _timer;
    private readonly long _origin;
    private readonly long _step;

    // The grid tick the timer is armed for; long.MaxValue while it is not armed. Under _lock.
    private long _armedFor = long.MaxValue;

    /// <summary>Starts the clock; <paramref name="resolution"/> is how often, at most, it looks at its deadlines.</summary>
    public TailClock(TimeProvider time, TimeSpan? resolution = null)
    {
        Time = time;
        Resolution = resolution ?? DefaultResolution;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Resolution, TimeSpan.Zero);
        _origin = time.GetTimestamp();
        _step = Math.Max(1, (long)(Resolution.TotalSeconds * time.TimestampFrequency));
        _timer = time.CreateTimer(static state => ((TailClock)state!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The time source deadlines are measured on.</summary>
    public TimeProvider Time { get; }

    /// <summary>The tick period.</summary>
    public TimeSpan Resolution { get; }

    /// <summary>Deadlines queued (stale ones included until they fire).</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _due.Count;
            }
        }
    }

    /// <summary>Sets <paramref name="waiter"/> at the first tick at or after <paramref name="at"/> (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
    public void WakeAt(LogWaiter waiter, long at)
    {
        lock (_lock)
        {
            if (waiter.ScheduledAt != 0 && waiter.ScheduledAt <= at)
            {
                return;
            }

            waiter.ScheduledAt = at;
            _due.Enqueue(waiter, at);
            Arm(at);
        }
    }

    /// <summary>Makes sure the timer fires at the grid tick at or after <paramref name="at"/>, if not sooner. Under _lock.</summary>
    private void Arm(long at)
    {
        var ticks = Math.Max(1, (at - _origin + _step - 1) / _step);
        var tick = _origin + ticks * _step;
        if (tick >= _armedFor)
        {
            return;
        }

        _armedFor = tick;
        var delay = Math.Max(0, tick - Time.GetTimestamp());
        _timer.Change(TimeSpan.FromSeconds((double)delay / Time.TimestampFrequency), Timeout.InfiniteTimeSpan);
    }

    private void Tick()
    {
        var now = Time.GetTimestamp();
        List<LogWaiter>? firing = null;
        lock (_lock)
        {
            _armedFor = long.MaxValue;
            while (_due.TryPeek(out var waiter, out var at) && at <= now)
            {
                _due.Dequeue();
                if (waiter.ScheduledAt == at)
                {
                    waiter.ScheduledAt = 0;
                    (firing ??= []).Add(waiter);
                }
            }

            if (_due.TryPeek(out _, out var next))
            {
                Arm(next);
            }
        }

        if (firing is not null)
        {
            foreach (var waiter in firing)
            {
                waiter.Set();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _timer.Dispose();
}
