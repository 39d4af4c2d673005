namespace Switchboard.Subscriptions;

/// <summary>
/// One timer for every reader's deadlines (heartbeats, token expiry, the end of a long poll), so an idle connection
/// costs no timer of its own. Deadlines sit in a heap; each tick sets the waiters whose deadline has passed. A waiter
/// has at most one deadline queued: asking again for a later one keeps the earlier, and the reader, woken early,
/// simply asks again.
/// </summary>
public sealed class TailClock : IDisposable
{
    /// <summary>How late a deadline may fire: the tick period.</summary>
    public static readonly TimeSpan DefaultResolution = TimeSpan.FromMilliseconds(100);

    private readonly Lock _lock = new();
    private readonly PriorityQueue<LogWaiter, long> _due = new();
    private readonly ITimer _timer;

    /// <summary>Starts the clock; <paramref name="resolution"/> is how often it looks at its deadlines.</summary>
    public TailClock(TimeProvider time, TimeSpan? resolution = null)
    {
        Time = time;
        Resolution = resolution ?? DefaultResolution;
        _timer = time.CreateTimer(static state => ((TailClock)state!).Tick(), this, Resolution, Resolution);
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
        }
    }

    private void Tick()
    {
        var now = Time.GetTimestamp();
        List<LogWaiter>? firing = null;
        lock (_lock)
        {
            while (_due.TryPeek(out var waiter, out var at) && at <= now)
            {
                _due.Dequeue();
                if (waiter.ScheduledAt == at)
                {
                    waiter.ScheduledAt = 0;
                    (firing ??= []).Add(waiter);
                }
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
