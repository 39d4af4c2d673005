using Microsoft.Extensions.Options;
using Switchboard.Cursors;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Problems;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Hubs;

/// <summary>
/// The transport-independent front of the log: validates what publishers send, resolves where a
/// subscriber starts, and reads (or waits) for events. Every transport goes through it.
/// </summary>
public sealed class Hub
{
    /// <summary>The type given to events published without one.</summary>
    public const string DefaultEventType = "message";

    /// <summary>Event types with this prefix belong to the hub itself.</summary>
    public const string ReservedTypePrefix = "switchboard.";

    private readonly IEventLog _log;
    private readonly IOptionsMonitor<LimitsOptions> _limits;
    private readonly IOptionsMonitor<IdempotencyOptions> _idempotency;
    private readonly TimeProvider _time;
    private readonly SwitchboardMetrics? _metrics;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>
    /// Creates the hub over a log; with <paramref name="metrics"/>, publishes are counted and timed. Readers' deadlines run
    /// on <paramref name="clock"/> (a host shares one; without it the hub starts its own). Both options are read per
    /// call, so a reloaded limit applies to the next publish or subscription.
    /// </summary>
    public Hub(IEventLog log, IOptionsMonitor<LimitsOptions> limits, IOptionsMonitor<IdempotencyOptions> idempotency, TimeProvider time,
        SwitchboardMetrics? metrics = null, TailClock? clock = null)
    {
        _log = log;
        _limits = limits;
        _idempotency = idempotency;
        _time = time;
        _metrics = metrics;
        Clock = clock ?? new TailClock(time);
        Drafts = new EventDraftValidator(() => _limits.CurrentValue);
    }

    /// <summary>The one clock for readers' heartbeats, expiries and long-poll deadlines.</summary>
    public TailClock Clock { get; }

    /// <summary>Cancelled by <see cref="Stop"/>: the tails opened with <see cref="TailOptions.StopWithHub"/> end then.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>
    /// Ends every tail opened with <see cref="TailOptions.StopWithHub"/> (streams and held polls, when the host stops):
    /// they throw <see cref="OperationCanceledException"/> for <see cref="Stopping"/>. One wake-up of the whole index
    /// does it, so a reader needs no registration of its own on the host's stopping token.
    /// </summary>
    public void Stop()
    {
        if (!_stopping.IsCancellationRequested)
        {
            _stopping.Cancel();
            _log.Subscriptions.NotifyAll();
        }
    }

    /// <summary>The log behind the hub.</summary>
    public IEventLog Log => _log;

    /// <summary>The input limits in force: what every transport checks a publish or subscription against.</summary>
    public LimitsOptions Limits => _limits.CurrentValue;

    /// <summary>The publish rules (topic, type, data size, Idempotency-Key) every transport applies to a draft.</summary>
    public EventDraftValidator Drafts { get; }

    /// <summary>Throws an Invalid error unless <paramref name="topic"/> is a valid topic name.</summary>
    public void ValidateTopic(string? topic) => Drafts.ValidateTopic(topic);

    /// <summary>Returns the event type to store: the default when absent; an Invalid error when reserved or malformed.</summary>
    public string NormalizeType(string? type) => Drafts.NormalizeType(type);

    /// <summary>Parses subscription patterns; an Invalid error when none, too many, or one is invalid.</summary>
    public TopicFilter ParseFilter(IReadOnlyCollection<string?> patterns)
    {
        var limits = Limits;
        if (patterns.Count == 0)
        {
            throw SwitchboardException.Invalid("missing-topic", "No topic pattern",
                "Give at least one topic pattern, for example ?topic=orders or ?topic=chat.>.");
        }

        if (patterns.Count > limits.MaxPatternsPerSubscription)
        {
            throw SwitchboardException.Invalid("too-many-patterns", "Too many topic patterns",
                $"{patterns.Count} patterns given; a subscription may have at most {limits.MaxPatternsPerSubscription}.");
        }

        var parsed = new List<TopicPattern>(patterns.Count);
        foreach (var value in patterns)
        {
            var pattern = TopicPattern.TryParse(value, limits.MaxTopicLength, out var error)
                ?? throw SwitchboardException.Invalid("invalid-pattern", "Invalid topic pattern", $"Pattern '{Truncate(value)}': {error}");
            parsed.Add(pattern);
        }

        return new TopicFilter(parsed);
    }

    /// <summary>
    /// Appends events (already validated by the caller through <see cref="ValidateTopic"/> and <see cref="NormalizeType"/>).
    /// With an idempotency key, a retry returns the original events; a different request under the same key is a Mismatch error.
    /// </summary>
    public async Task<AppendResult> PublishAsync(IReadOnlyList<EventDraft> events, string? idempotencyKey, byte[]? requestHash, CancellationToken cancellationToken = default)
    {
        IdempotencyRequest? idempotency = null;
        if (idempotencyKey is not null)
        {
            Drafts.ValidateIdempotencyKey(idempotencyKey);
            idempotency = new IdempotencyRequest(idempotencyKey, requestHash ?? [], _time.GetUtcNow() + _idempotency.CurrentValue.KeyRetention);
        }

        var appendStarted = _time.GetTimestamp();
        var result = await _log.AppendAsync(events, idempotency, cancellationToken).ConfigureAwait(false);
        if (_metrics is not null && result.Outcome == AppendOutcome.Appended)
        {
            _metrics.Appended(_time.GetElapsedTime(appendStarted));
            _metrics.Published(result.Events.Count);
        }

        if (result.Outcome == AppendOutcome.Conflict)
        {
            throw SwitchboardException.Mismatch("idempotency-key-reused", "Idempotency-Key reused",
                "This Idempotency-Key was already used with a different request. Use a new key for a new request.");
        }

        return result;
    }

    /// <summary>
    /// Resolves where a subscriber starts: <c>latest</c> (default), <c>earliest</c>, or a cursor.
    /// A malformed cursor is an Invalid error. A cursor from another epoch, or ahead of the log, resolves to a reset.
    /// </summary>
    public StartPosition ResolveStart(string? after, TopicFilter filter)
    {
        // The epoch is read before any position: if the history is replaced after this, the tail opened from the start
        // sees an epoch other than the one its position belongs to, and restarts (a reset) rather than reading the new
        // history from a seq of the old one.
        var current = _log.Epoch;
        if (string.IsNullOrEmpty(after) || after == Cursor.Latest)
        {
            return new StartPosition(_log.HeadSeq, null, current);
        }

        if (after == Cursor.Earliest)
        {
            return new StartPosition(_log.EarliestAfterSeq(filter), null, current);
        }

        if (!Cursor.TryParse(after, out var epoch, out var seq))
        {
            throw SwitchboardException.Invalid("invalid-cursor", "Invalid cursor",
                "The cursor is malformed. Pass back a cursor the server gave you, or 'earliest' or 'latest'.");
        }

        if (epoch != current)
        {
            return Reset(ResetReason.EpochChanged);
        }

        // Only a cursor still ahead after asking the store is foreign: another node may have handed it out a moment ago.
        if (seq > _log.HeadSeq && seq > _log.RefreshHeadSeq())
        {
            return Reset(ResetReason.CursorAhead);
        }

        return new StartPosition(seq, null, current);

        StartPosition Reset(string reason)
        {
            var restart = _log.EarliestAfterSeq(filter);
            return new StartPosition(restart, new CursorReset(reason, Cursor.Format(current, restart)), current);
        }
    }

    /// <summary>Turns a gap found while reading into the reset a client is told about.</summary>
    public CursorReset ResetFor(LogGap gap) => new(ResetReason.CursorExpired, Cursor.Format(_log.Epoch, gap.RestartAfterSeq), gap.HistoryLost);

    /// <summary>Formats a position of this hub's log as a cursor.</summary>
    public string FormatCursor(long afterSeq) => Cursor.Format(_log.Epoch, afterSeq);

    /// <summary>Opens a tail of the log for <paramref name="filter"/> after <paramref name="afterSeq"/>, on the hub's clock.</summary>
    public LogTail OpenTail(TopicFilter filter, long afterSeq, TailOptions? options = null) =>
        new(_log, filter, afterSeq, options, Clock, options?.StopWithHub == true ? Stopping : default);

    /// <summary>Opens a tail from a resolved <paramref name="start"/>: in the history it was resolved in, so a history replaced since is a reset.</summary>
    public LogTail OpenTail(TopicFilter filter, StartPosition start, TailOptions? options = null) =>
        new(_log, filter, start.AfterSeq, options, Clock, options?.StopWithHub == true ? Stopping : default, start.Epoch);

    /// <summary>
    /// Reads matching events after <paramref name="afterSeq"/>; when there are none and <paramref name="wait"/> is positive,
    /// holds until one arrives or the wait ends (a long poll). A held read ends when the hub stops, as a cancellation.
    /// </summary>
    public Task<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, TimeSpan wait, CancellationToken cancellationToken = default) =>
        ReadAsync(filter, new StartPosition(afterSeq, null, _log.Epoch), limit, wait, cancellationToken);

    /// <summary>As <see cref="ReadAsync(TopicFilter, long, int, TimeSpan, CancellationToken)"/>, from a resolved <paramref name="start"/> (see <see cref="OpenTail(TopicFilter, StartPosition, TailOptions?)"/>).</summary>
    public async Task<LogReadResult> ReadAsync(TopicFilter filter, StartPosition start, int limit, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var afterSeq = start.AfterSeq;
        var holds = wait > TimeSpan.Zero;
        using var tail = OpenTail(filter, start, new TailOptions { BatchSize = limit, Deadline = holds ? _time.GetUtcNow() + wait : null, StopWithHub = true });
        TailStep step;
        if (holds)
        {
            // The wait is this method's own await, so a held poll keeps no frame of the tail's.
            TailStep? next;
            while ((next = await tail.TryNextAsync(cancellationToken).ConfigureAwait(false)) is null)
            {
                await tail.Waiter.WaitAsync().ConfigureAwait(false);
            }

            step = next.Value;
        }
        else
        {
            step = await tail.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        return step.Gap is { } gap ? new LogReadResult([], afterSeq, gap) : new LogReadResult(step.Events, tail.AfterSeq);
    }

    private static string? Truncate(string? value) => value is { Length: > 80 } ? value[..80] + "…" : value;
}

/// <summary>Where a subscriber starts reading, and whether it must first be told its cursor was reset.</summary>
/// <param name="AfterSeq">The position, in <paramref name="Epoch"/>'s history.</param>
/// <param name="Reset">The reset to tell the subscriber about first, if any.</param>
/// <param name="Epoch">The log's epoch when the position was resolved: the history <paramref name="AfterSeq"/> belongs to.</param>
public readonly record struct StartPosition(long AfterSeq, CursorReset? Reset, string Epoch)
{
    /// <summary>The position as a cursor.</summary>
    public string Cursor => Cursors.Cursor.Format(Epoch, AfterSeq);
}

/// <summary>The reader's cursor no longer names retained history; it restarts at <paramref name="Cursor"/>.</summary>
/// <param name="Reason">One of <see cref="ResetReason"/>'s codes.</param>
/// <param name="Cursor">Where the reader restarts.</param>
/// <param name="HistoryLost">For <see cref="ResetReason.CursorExpired"/>: the events went with a replaced or lost
/// history (see <see cref="LogGap.HistoryLost"/>), not with retention; the code stays, the explanation differs.</param>
public sealed record CursorReset(string Reason, string Cursor, bool HistoryLost = false);

/// <summary>Stable reasons for a reset, as sent to clients.</summary>
public static class ResetReason
{
    /// <summary>Retention removed events after the cursor.</summary>
    public const string CursorExpired = "cursor-expired";

    /// <summary>The cursor belongs to another history of the log (a new database, a restarted memory store).</summary>
    public const string EpochChanged = "epoch-changed";

    /// <summary>The cursor points past the newest event, so it cannot come from this log.</summary>
    public const string CursorAhead = "cursor-ahead";
}
