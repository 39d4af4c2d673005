using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Topics;

namespace Switchboard.Subscriptions;

/// <summary>How a <see cref="LogTail"/> reads and when it returns without events.</summary>
public sealed record TailOptions
{
    /// <summary>Events returned by one step at most.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>When set, a step returns <see cref="TailStepKind.Idle"/> after this long without events (a heartbeat is due).</summary>
    public TimeSpan? IdleInterval { get; init; }

    /// <summary>When set, a step returns <see cref="TailStepKind.Ended"/> once this time has come (token expiry, the end of a long poll).</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>
    /// When set, a tail opened by <see cref="Hubs.Hub.OpenTail(Topics.TopicFilter, long, TailOptions?)"/> throws <see cref="OperationCanceledException"/> once the
    /// hub stops (<see cref="Hubs.Hub.Stop"/>), without a cancellation registration of its own.
    /// </summary>
    public bool StopWithHub { get; init; }
}

/// <summary>What one step of a tail found.</summary>
public enum TailStepKind
{
    /// <summary>Matching events, in seq order.</summary>
    Events,

    /// <summary>Retention removed matching events after the position; the tail moved to <see cref="LogGap.RestartAfterSeq"/>.</summary>
    Gap,

    /// <summary>Nothing arrived for <see cref="TailOptions.IdleInterval"/>.</summary>
    Idle,

    /// <summary><see cref="TailOptions.Deadline"/> has come.</summary>
    Ended,
}

/// <summary>One step of a <see cref="LogTail"/>.</summary>
public readonly record struct TailStep(TailStepKind Kind, IReadOnlyList<EventRecord> Events, LogGap? Gap)
{
    internal static TailStep Idle => new(TailStepKind.Idle, [], null);

    internal static TailStep Ended => new(TailStepKind.Ended, [], null);
}

/// <summary>
/// Follows the log for one filter from a position: the one read loop every reader uses (SSE, WebSocket subscriptions,
/// long polls, job streams and claimers, config and webhook followers). Each step arms the tail's waiter, reads, and
/// returns what it found; when there is nothing, it waits until the subscription index wakes it for a matching commit,
/// a deadline of its own comes, or the caller cancels. It holds no timer and no task of its own while it waits.
/// </summary>
/// <remarks>Not thread-safe: one reader drives a tail. Dispose it to leave the index.</remarks>
public sealed class LogTail : IDisposable
{
    private readonly IEventLog _log;
    // The options' values, not the options: an idle stream holds its tail for hours.
    private readonly int _batchSize;
    private readonly bool _hasIdle;
    private readonly bool _hasDeadline;
    private readonly TailClock? _clock;
    private LogWaiter? _waiter;
    private readonly long _deadline;
    private readonly long _idleTicks;
    private long _lastActivity;
    private readonly CancellationToken _hubStopping;
    private CancellationToken _wakeOnCancel;
    private CancellationTokenRegistration _cancelRegistration;
    private string _epoch;

    /// <summary>
    /// Opens a tail of <paramref name="log"/>; <paramref name="clock"/> is needed for idle steps and deadlines. The tail also
    /// ends when <paramref name="hubStopping"/> is cancelled, which it observes without registering: whoever cancels it
    /// wakes the whole index (<see cref="Hubs.Hub.Stop"/>).
    /// </summary>
    /// <param name="log">The log followed.</param>
    /// <param name="filter">The topics followed.</param>
    /// <param name="afterSeq">Where the tail starts.</param>
    /// <param name="options">Batch size, idle steps, deadline.</param>
    /// <param name="clock">The clock of idle steps and deadlines.</param>
    /// <param name="hubStopping">Ends the tail when the hub stops.</param>
    /// <param name="epoch">The history <paramref name="afterSeq"/> belongs to, when it was resolved earlier; the log's
    /// epoch now by default. A different epoch at the first read is a replaced history: a gap, not a read from that seq.</param>
    public LogTail(IEventLog log, TopicFilter filter, long afterSeq, TailOptions? options = null, TailClock? clock = null, CancellationToken hubStopping = default,
        string? epoch = null)
    {
        _hubStopping = hubStopping;
        _log = log;
        options ??= new TailOptions();
        _batchSize = options.BatchSize;
        _hasIdle = options.IdleInterval is not null;
        _hasDeadline = options.Deadline is not null;
        _clock = clock;
        if ((_hasIdle || _hasDeadline) && clock is null)
        {
            throw new ArgumentException("Idle steps and deadlines need a clock.", nameof(clock));
        }

        AfterSeq = afterSeq;
        Filter = filter;
        _epoch = epoch ?? log.Epoch;
        if (clock is not null)
        {
            var now = clock.Time.GetTimestamp();
            _lastActivity = now;
            var frequency = clock.Time.TimestampFrequency;
            if (options.IdleInterval is { } idle)
            {
                // Fire a tick early rather than late: a heartbeat promised within the interval must not slip past it.
                _idleTicks = Math.Max(1, (long)((idle - clock.Resolution).TotalSeconds * frequency));
            }

            if (options.Deadline is { } deadline)
            {
                var remaining = deadline - clock.Time.GetUtcNow();
                _deadline = remaining <= TimeSpan.Zero ? now : now + (long)Math.Min(remaining.TotalSeconds * frequency, long.MaxValue / 4);
            }
        }

    }

    /// <summary>The filter followed.</summary>
    public TopicFilter Filter { get; }

    /// <summary>The position after the last event returned (or skipped as not matching).</summary>
    public long AfterSeq { get; private set; }

    /// <summary>
    /// The tail's waiter, registered in the index on first use. A reader that waits on other things too takes it once,
    /// before a read, and waits on it after the read.
    /// </summary>
    public LogWaiter Waiter => _waiter ??= _log.Subscriptions.Register(Filter);

    /// <summary>
    /// Registers the tail now, with <paramref name="onWake"/> run at each wake-up: for a reader that does not wait on the
    /// tail but is told when to read it (a WebSocket connection serving its subscriptions from its one send loop).
    /// </summary>
    public void RegisterWith(Action<object?> onWake, object? state)
    {
        if (_waiter is not null)
        {
            throw new InvalidOperationException("The tail is already registered.");
        }

        _waiter = _log.Subscriptions.Register(Filter, onWake, state);
    }

    /// <summary>Counts as activity for <see cref="TailOptions.IdleInterval"/> (something else was written).</summary>
    public void MarkActive()
    {
        if (_clock is not null)
        {
            _lastActivity = _clock.Time.GetTimestamp();
        }
    }

    /// <summary>Moves the position (a reader that knows better, e.g. after a reset it was told about elsewhere).</summary>
    public void Seek(long afterSeq) => AfterSeq = afterSeq;

    /// <summary>Reads what is there now without waiting: events, a gap, or an empty <see cref="TailStepKind.Events"/> step.</summary>
    public async ValueTask<TailStep> ReadAsync(CancellationToken cancellationToken = default)
    {
        _waiter?.Arm();
        var epoch = _log.Epoch;
        if (IsOther(epoch, _epoch))
        {
            return HistoryChanged(epoch);
        }

        var result = await _log.ReadAsync(Filter, AfterSeq, _batchSize, cancellationToken).ConfigureAwait(false);
        if (IsOther(_log.Epoch, epoch))
        {
            // The history changed while this read ran: what it found may belong to either.
            return HistoryChanged(_log.Epoch);
        }

        if (result.Gap is { } gap)
        {
            AfterSeq = gap.RestartAfterSeq;
            MarkActive();
            return new TailStep(TailStepKind.Gap, [], gap);
        }

        AfterSeq = result.NextAfterSeq;
        if (result.Events.Count > 0)
        {
            MarkActive();
        }

        return new TailStep(TailStepKind.Events, result.Events, null);
    }

    // A store's epoch is one string until it changes, so the usual answer costs a reference comparison.
    private static bool IsOther(string epoch, string known) => !ReferenceEquals(epoch, known) && epoch != known;

    /// <summary>
    /// The log's history was replaced under this tail (a shared store that lost its data starts a new epoch): its
    /// position belongs to the old history, where the new one's seqs may already name events it never read, so it
    /// restarts where the new history's retained events begin, as after retention.
    /// </summary>
    private TailStep HistoryChanged(string epoch)
    {
        _epoch = epoch;
        var gap = new LogGap(_log.EarliestAfterSeq(Filter), HistoryLost: true);
        AfterSeq = gap.RestartAfterSeq;
        MarkActive();
        return new TailStep(TailStepKind.Gap, [], gap);
    }

    /// <summary>
    /// The next events or gap, waiting for them; or <see cref="TailStepKind.Idle"/> / <see cref="TailStepKind.Ended"/>
    /// when those options are set and due. Throws <see cref="OperationCanceledException"/> when cancelled.
    /// </summary>
    public async ValueTask<TailStep> NextAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (await TryNextAsync(cancellationToken).ConfigureAwait(false) is { } step)
            {
                return step;
            }

            await _waiter!.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <see cref="NextAsync"/> without its wait: the next step when there is one now, or <see langword="null"/> when the
    /// caller must await <see cref="Waiter"/>'s <see cref="WakeSignal.WaitAsync()"/> and then call again. The waiter is
    /// armed, and the tail's deadlines and <paramref name="cancellationToken"/> are wired to it. A reader that runs this
    /// loop in its own method holds no frame of the tail's while it waits, and a step that waits allocates nothing.
    /// </summary>
    public ValueTask<TailStep?> TryNextAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _hubStopping.ThrowIfCancellationRequested();
            var reading = ReadAsync(cancellationToken);
            if (!reading.IsCompletedSuccessfully)
            {
                return TryNextAfterReadAsync(reading, cancellationToken);
            }

            var step = reading.Result;
            switch (AfterRead(ref step, cancellationToken))
            {
                case ReadOutcome.Step:
                    return new(step);
                case ReadOutcome.Wait:
                    return new((TailStep?)null);
            }
        }
    }

    // The same loop once a read has gone asynchronous (a store read behind the ring).
    private async ValueTask<TailStep?> TryNextAfterReadAsync(ValueTask<TailStep> reading, CancellationToken cancellationToken)
    {
        var step = await reading.ConfigureAwait(false);
        while (true)
        {
            switch (AfterRead(ref step, cancellationToken))
            {
                case ReadOutcome.Step:
                    return step;
                case ReadOutcome.Wait:
                    return null;
            }

            cancellationToken.ThrowIfCancellationRequested();
            _hubStopping.ThrowIfCancellationRequested();
            step = await ReadAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private enum ReadOutcome
    {
        Step,
        ReadAgain,
        Wait,
    }

    // Decides what a read that found step means: return it (or an idle or ended step put in its place), read again, or wait.
    private ReadOutcome AfterRead(ref TailStep step, CancellationToken cancellationToken)
    {
        if (step.Kind != TailStepKind.Events || step.Events.Count > 0)
        {
            return ReadOutcome.Step;
        }

        if (_waiter is null)
        {
            // Registered only now that this reader must wait (a poll that finds events never touches the index),
            // and read again: the first read was not covered by a waiter.
            _ = Waiter;
            return ReadOutcome.ReadAgain;
        }

        if (_clock is not null)
        {
            var now = _clock.Time.GetTimestamp();
            if (_hasDeadline && now >= _deadline)
            {
                step = TailStep.Ended;
                return ReadOutcome.Step;
            }

            long wakeAt = long.MaxValue;
            if (_hasIdle)
            {
                var idleAt = _lastActivity + _idleTicks;
                if (now >= idleAt)
                {
                    _lastActivity = now;
                    step = TailStep.Idle;
                    return ReadOutcome.Step;
                }

                wakeAt = idleAt;
            }

            if (_hasDeadline)
            {
                wakeAt = Math.Min(wakeAt, _deadline);
            }

            if (wakeAt != long.MaxValue)
            {
                _clock.WakeAt(_waiter, wakeAt);
            }
        }

        if (cancellationToken.CanBeCanceled && cancellationToken != _wakeOnCancel)
        {
            // Registered once per token, not per wait: a stream waits once per delivery, and a registration each
            // time cost a callback node and a state machine held for as long as the stream was idle.
            _cancelRegistration.Dispose();
            _wakeOnCancel = cancellationToken;
            _cancelRegistration = cancellationToken.UnsafeRegister(static waiter => ((LogWaiter)waiter!).Set(), _waiter);
        }

        // A cancel that landed before the read's Arm was forgotten by it; one after Arm makes the wait return at once.
        cancellationToken.ThrowIfCancellationRequested();
        _hubStopping.ThrowIfCancellationRequested();
        return ReadOutcome.Wait;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _cancelRegistration.Dispose();
        if (_waiter is not null)
        {
            _log.Subscriptions.Unregister(_waiter);
        }
    }
}
