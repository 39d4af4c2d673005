using Switchboard.Events;
using Switchboard.Retention;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Log;

/// <summary>
/// The durable, ordered log every delivery mode reads from. Implementations assign a hub-wide
/// increasing <c>seq</c>, keep per-topic retention, and wake readers when events arrive.
/// </summary>
/// <remarks>
/// Readers follow the log through a <see cref="Subscriptions.LogTail"/>, which registers in <see cref="Subscriptions"/> and
/// arms its waiter <em>before</em> each <see cref="ReadAsync"/>: then an append racing the read either shows up in the
/// read or wakes the waiter. A log calls <see cref="SubscriptionIndex.Notify"/> with each commit's events once its head
/// has moved past them.
/// </remarks>
public interface IEventLog : IAsyncDisposable
{
    /// <summary>The identity of this log's history; it changes when the history is reset.</summary>
    string Epoch { get; }

    /// <summary>The seq of the newest event visible to readers (0 when the log is empty).</summary>
    long HeadSeq { get; }

    /// <summary>The readers waiting on this log, by topic; a commit wakes only those its events match.</summary>
    SubscriptionIndex Subscriptions { get; }

    /// <summary>
    /// Asks the store for the newest seq and returns the head. A log shared by several nodes learns of other nodes'
    /// appends a moment later, so a cursor from another node may be ahead of <see cref="HeadSeq"/> until it asks.
    /// A single-node log already knows: it returns <see cref="HeadSeq"/>.
    /// </summary>
    long RefreshHeadSeq() => HeadSeq;

    /// <summary>
    /// Appends the events atomically, in order. With <paramref name="idempotency"/>, a key seen
    /// before returns the original events (same request) or a conflict (different request).
    /// </summary>
    Task<AppendResult> AppendAsync(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads up to <paramref name="limit"/> events after <paramref name="afterSeq"/> matching <paramref name="filter"/>.
    /// Reports a gap instead of events when retention removed matching events after that position.
    /// </summary>
    ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// The event with <paramref name="seq"/>, or null when there is none (never assigned, or removed by retention).
    /// Unlike <see cref="ReadAsync"/> it ignores gaps in other topics: a webhook retry needs exactly its event.
    /// </summary>
    ValueTask<EventRecord?> ReadEventAsync(long seq, CancellationToken cancellationToken = default);

    /// <summary>
    /// The oldest position from which every topic matching <paramref name="filter"/> is complete:
    /// what <c>earliest</c> means, and where a reader restarts after a gap.
    /// </summary>
    long EarliestAfterSeq(TopicFilter filter);

    /// <summary>
    /// The position from which reading yields the newest <paramref name="count"/> events matching <paramref name="filter"/>
    /// (room history on join). Never before <see cref="EarliestAfterSeq"/>.
    /// </summary>
    ValueTask<long> AfterSeqForLastAsync(TopicFilter filter, int count, CancellationToken cancellationToken = default);

    /// <summary>Applies retention and expires idempotency keys.</summary>
    Task<TrimResult> TrimAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>Identifies a publish request for idempotent retries.</summary>
/// <param name="Key">The client's <c>Idempotency-Key</c>.</param>
/// <param name="RequestHash">A hash of what was asked (topic and body), to tell a retry from a different request.</param>
/// <param name="ExpiresAt">When the key may be forgotten.</param>
public sealed record IdempotencyRequest(string Key, byte[] RequestHash, DateTimeOffset ExpiresAt);

/// <summary>What an append did.</summary>
public enum AppendOutcome
{
    /// <summary>The events were appended now.</summary>
    Appended,

    /// <summary>The idempotency key was seen with the same request; these are the original events.</summary>
    Replayed,

    /// <summary>The idempotency key was seen with a different request; nothing was appended.</summary>
    Conflict,
}

/// <summary>The result of <see cref="IEventLog.AppendAsync"/>.</summary>
public sealed record AppendResult(AppendOutcome Outcome, IReadOnlyList<EventRecord> Events);

/// <summary>The result of <see cref="IEventLog.ReadAsync"/>.</summary>
/// <param name="Events">Matching events in seq order.</param>
/// <param name="NextAfterSeq">Where the next read continues: past the returned events and past scanned non-matching ones.</param>
/// <param name="Gap">Set when matching events after the requested position were removed by retention.</param>
public sealed record LogReadResult(IReadOnlyList<EventRecord> Events, long NextAfterSeq, LogGap? Gap = null);

/// <summary>Matching history after the reader's position is gone; the reader must restart at <paramref name="RestartAfterSeq"/>.</summary>
/// <param name="RestartAfterSeq">Where the reader restarts.</param>
/// <param name="HistoryLost">The history was replaced or lost (a new epoch, Redis losing its data), not trimmed by
/// retention: so the client is not told its events were removed by a retention it may not even have configured.</param>
public sealed record LogGap(long RestartAfterSeq, bool HistoryLost = false);

/// <summary>What a trim removed.</summary>
public sealed record TrimResult(long EventsDeleted, long IdempotencyKeysDeleted);
