using Microsoft.Extensions.Logging;

namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// Something the <see cref="ConnectionSweep"/> visits when it is due. The links live in the entry itself, so being
/// in the sweep costs a connection no allocation.
/// </summary>
internal abstract class SweepEntry
{
    internal SweepEntry? SweepPrevious;
    internal SweepEntry? SweepNext;
    internal int SweepSlot = -1;
    internal long SweepDueTick;
    internal bool SweepRetired;

    /// <summary>
    /// Called by the sweep at the first tick at or after the entry's due time, outside the sweep's lock.
    /// Returns the next due time (a <see cref="TimeProvider.GetTimestamp"/> value), or null to leave the sweep.
    /// </summary>
    internal abstract long? OnSweep(long now);
}

/// <summary>
/// One timer per node for every WebSocket's keep-alive and token expiry: a wheel of slots, one per tick of
/// <see cref="Resolution"/>. An entry sits in the slot of its due tick, so a tick visits only the entries due then
/// (and, for due times more than a turn of the wheel away, the few that wait another turn), never all connections.
/// Activity on a connection does not touch the wheel: the entry, when visited, looks at its own state and says when
/// it next wants a visit. Due times are kept to the tick, so a visit may come up to one resolution late.
/// </summary>
internal sealed partial class ConnectionSweep : IDisposable
{
    /// <summary>Slots in the wheel; due times further out than this many ticks wait for another turn (at 100 ms, a turn is 25.6 s).</summary>
    public const int Slots = 256;

    private readonly Lock _lock = new();
    private readonly SweepEntry?[] _slots = new SweepEntry?[Slots];
    private readonly long _origin;
    private readonly ILogger _logger;
    private readonly ITimer? _timer;
    private long _lastTick;
    private int _count;

    public ConnectionSweep(TimeProvider time, TimeSpan resolution, ILogger<ConnectionSweep> logger)
        : this(time, resolution, logger, timer: true)
    {
    }

    /// <summary>Without <paramref name="timer"/>, nothing ticks until <see cref="Tick"/> is called (tests of a late timer).</summary>
    internal ConnectionSweep(TimeProvider time, TimeSpan resolution, ILogger<ConnectionSweep> logger, bool timer)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(resolution, TimeSpan.Zero);
        Time = time;
        Resolution = resolution;
        _logger = logger;
        _origin = time.GetTimestamp();
        _timer = timer ? time.CreateTimer(static state => ((ConnectionSweep)state!).Tick(), this, resolution, resolution) : null;
    }

    public TimeProvider Time { get; }

    /// <summary>The tick period: how late a visit may come.</summary>
    public TimeSpan Resolution { get; }

    /// <summary>Entries in the wheel (an entry being visited is not counted until it is put back).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>
    /// The sweep's resolution for a keep-alive interval and timeout: a quarter of the shorter (as the runtime's own
    /// keep-alive checked), but at most 100 ms and at least 10 ms.
    /// </summary>
    /// <remarks>
    /// Not a second: a tick pings every quiet connection whose interval ran out within it, so with 18,000 quiet
    /// connections a one-second tick sent 1,200 pings (and drew 1,200 pongs) at once, and the deliveries behind that
    /// burst made the p99 (35-61 ms against 12-13 ms at 100 ms). Ten smaller bursts a second cost no more idle CPU.
    /// </remarks>
    public static TimeSpan ResolutionFor(TimeSpan interval, TimeSpan timeout) =>
        TimeSpan.FromTicks(Math.Clamp(Math.Min(interval.Ticks, timeout.Ticks) / 4, TimeSpan.FromMilliseconds(10).Ticks, MaxResolution.Ticks));

    private static readonly TimeSpan MaxResolution = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Has <paramref name="entry"/> visited at <paramref name="due"/> (a timestamp), or earlier if it is already due
    /// earlier: a visit that comes too early costs only a look, one that comes too late could miss a deadline.
    /// </summary>
    public void Schedule(SweepEntry entry, long due)
    {
        lock (_lock)
        {
            if (entry.SweepRetired)
            {
                return;
            }

            var tick = Math.Max(TickAfter(due), _lastTick + 1);
            if (entry.SweepSlot >= 0)
            {
                if (entry.SweepDueTick <= tick)
                {
                    return;
                }

                Unlink(entry);
            }

            Link(entry, tick);
        }
    }

    /// <summary>Takes <paramref name="entry"/> out for good; a visit already under way is its last.</summary>
    public void Remove(SweepEntry entry)
    {
        lock (_lock)
        {
            entry.SweepRetired = true;
            if (entry.SweepSlot >= 0)
            {
                Unlink(entry);
            }
        }
    }

    /// <summary>Visits what is due now. The timer calls it every <see cref="Resolution"/>; tests may call it directly.</summary>
    internal void Tick()
    {
        var now = Time.GetTimestamp();
        List<SweepEntry>? due = null;
        lock (_lock)
        {
            var current = TickAt(now);
            if (current <= _lastTick)
            {
                return;
            }

            // A late timer catches up on the ticks it missed, but one turn of the wheel already covers every slot.
            for (var tick = Math.Max(_lastTick + 1, current - Slots + 1); tick <= current; tick++)
            {
                var entry = _slots[SlotOf(tick)];
                while (entry is not null)
                {
                    var next = entry.SweepNext;
                    if (entry.SweepDueTick <= current)
                    {
                        Unlink(entry);
                        (due ??= []).Add(entry);
                    }

                    entry = next;
                }
            }

            _lastTick = current;
        }

        if (due is null)
        {
            return;
        }

        foreach (var entry in due)
        {
            long? next;
            try
            {
                next = entry.OnSweep(now);
            }
            catch (Exception ex)
            {
                // One connection's failure must not stop the sweep for the others; that connection is left out.
                LogVisitFailed(_logger, ex);
                next = null;
            }

            if (next is { } at)
            {
                Schedule(entry, at);
            }
        }
    }

    /// <summary>The tick a timestamp falls in.</summary>
    private long TickAt(long timestamp) => Time.GetElapsedTime(_origin, timestamp).Ticks / Resolution.Ticks;

    /// <summary>The first tick at or after a timestamp.</summary>
    private long TickAfter(long timestamp)
    {
        var elapsed = Time.GetElapsedTime(_origin, timestamp).Ticks;
        return elapsed <= 0 ? 0 : ((elapsed - 1) / Resolution.Ticks) + 1;
    }

    private static int SlotOf(long tick) => (int)(tick % Slots);

    private void Link(SweepEntry entry, long tick)
    {
        var slot = SlotOf(tick);
        entry.SweepDueTick = tick;
        entry.SweepSlot = slot;
        entry.SweepPrevious = null;
        entry.SweepNext = _slots[slot];
        if (entry.SweepNext is not null)
        {
            entry.SweepNext.SweepPrevious = entry;
        }

        _slots[slot] = entry;
        _count++;
    }

    private void Unlink(SweepEntry entry)
    {
        if (entry.SweepPrevious is null)
        {
            _slots[entry.SweepSlot] = entry.SweepNext;
        }
        else
        {
            entry.SweepPrevious.SweepNext = entry.SweepNext;
        }

        if (entry.SweepNext is not null)
        {
            entry.SweepNext.SweepPrevious = entry.SweepPrevious;
        }

        entry.SweepPrevious = null;
        entry.SweepNext = null;
        entry.SweepSlot = -1;
        _count--;
    }

    public void Dispose() => _timer?.Dispose();

    [LoggerMessage(EventId = 310, Level = LogLevel.Error, Message = "A WebSocket keep-alive visit failed; that connection is no longer swept")]
    private static partial void LogVisitFailed(ILogger logger, Exception exception);
}
