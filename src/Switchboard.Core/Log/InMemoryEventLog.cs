using Switchboard.Cursors;
using Switchboard.Events;
using Switchboard.Retention;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Log;

/// <summary>
/// A log held in memory, for tests and throw-away hubs. Every instance is a new epoch, so cursors
/// from a previous run are reported as a reset, never misread.
/// </summary>
/// <remarks>
/// Appends take a lock; live reads do not: they come from the same lock-free ring of recent events the durable stores
/// use, and only a reader behind the ring takes the lock to read the full list.
/// </remarks>
public sealed class InMemoryEventLog : IEventLog
{
    private readonly Lock _gate = new();
    private readonly List<EventRecord> _events = [];
    private readonly Dictionary<string, StoredKey> _idempotencyKeys = new(StringComparer.Ordinal);
    private readonly TopicRegistry _topics = new();
    private readonly RecentEventsRing _ring;
    private readonly TimeProvider _time;
    private long _head;

    /// <summary>Events the ring of recent events holds unless told otherwise.</summary>
    public const int DefaultTailCacheSize = 16384;

    /// <summary>Creates an empty log with a fresh epoch.</summary>
    public InMemoryEventLog(TimeProvider? timeProvider = null, int tailCacheSize = DefaultTailCacheSize)
    {
        _time = timeProvider ?? TimeProvider.System;
        Epoch = Cursor.NewEpoch();
        _ring = new RecentEventsRing(tailCacheSize, 0);
    }

    /// <inheritdoc />
    public string Epoch { get; }

    /// <inheritdoc />
    public long HeadSeq => Volatile.Read(ref _head);

    /// <inheritdoc />
    public SubscriptionIndex Subscriptions { get; } = new();

    /// <inheritdoc />
    public Task<AppendResult> AppendAsync(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        AppendResult result;
        lock (_gate)
        {
            if (idempotency is not null && _idempotencyKeys.TryGetValue(idempotency.Key, out var stored))
            {
                return Task.FromResult(stored.RequestHash.AsSpan().SequenceEqual(idempotency.RequestHash)
                    ? new AppendResult(AppendOutcome.Replayed, stored.Events)
                    : new AppendResult(AppendOutcome.Conflict, []));
            }

            var time = TruncateToMilliseconds(_time.GetUtcNow());
            var records = new EventRecord[events.Count];
            for (var i = 0; i < events.Count; i++)
            {
                var draft = events[i];
                var record = new EventRecord(Epoch, _head + 1 + i, draft.Topic, draft.Type, time, draft.DataArray());
                records[i] = record;
                _events.Add(record);
                _ring.Add(record);
                _topics.Appended(record.Topic, record.Seq);
            }

            if (idempotency is not null)
            {
                _idempotencyKeys[idempotency.Key] = new StoredKey(idempotency.RequestHash, records, idempotency.ExpiresAt);
            }

            Volatile.Write(ref _head, _head + events.Count);
            result = new AppendResult(AppendOutcome.Appended, records);
        }

        Subscriptions.Notify(result.Events);
        return Task.FromResult(result);
    }

    /// <inheritdoc />
    public ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        if (_topics.FindGap(filter, afterSeq) is null)
        {
            var head = HeadSeq;
            if (afterSeq >= head)
            {
                return ValueTask.FromResult(new LogReadResult([], afterSeq));
            }

            if (_ring.TryRead(filter, afterSeq, head, limit, out var fromMemory))
            {
                return ValueTask.FromResult(fromMemory);
            }
        }

        lock (_gate)
        {
            if (_topics.FindGap(filter, afterSeq) is { } gap)
            {
                return ValueTask.FromResult(new LogReadResult([], afterSeq, gap));
            }

            var found = new List<EventRecord>(Math.Min(limit, 4));
            var next = Math.Max(afterSeq, _head);
            for (var i = FirstIndexAfter(afterSeq); i < _events.Count; i++)
            {
                var record = _events[i];
                if (!filter.Matches(record.Topic))
                {
                    continue;
                }

                found.Add(record);
                if (found.Count == limit)
                {
                    next = record.Seq;
                    break;
                }
            }

            return ValueTask.FromResult(new LogReadResult(found, next));
        }
    }

    /// <inheritdoc />
    public ValueTask<EventRecord?> ReadEventAsync(long seq, CancellationToken cancellationToken = default)
    {
        if (seq >= 1 && seq <= HeadSeq && _ring.Find(seq) is { } cached)
        {
            // The ring keeps events retention already removed from the list; never hand those out.
            return ValueTask.FromResult(seq > _topics.TrimmedThrough(cached.Topic) ? cached : null);
        }

        lock (_gate)
        {
            var index = FirstIndexAfter(seq - 1);
            return ValueTask.FromResult(index < _events.Count && _events[index].Seq == seq ? _events[index] : null);
        }
    }

    /// <inheritdoc />
    public long EarliestAfterSeq(TopicFilter filter) => _topics.MaxTrimmed(filter);

    /// <inheritdoc />
    public ValueTask<long> AfterSeqForLastAsync(TopicFilter filter, int count, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var earliest = _topics.MaxTrimmed(filter);
            var found = 0;
            for (var i = _events.Count - 1; i >= 0 && count > 0; i--)
            {
                var record = _events[i];
                if (filter.Matches(record.Topic) && ++found == count)
                {
                    return ValueTask.FromResult(Math.Max(record.Seq - 1, earliest));
                }
            }

            return ValueTask.FromResult(count == 0 ? _head : earliest);
        }
    }

    /// <inheritdoc />
    public Task<TrimResult> TrimAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        long deletedEvents = 0;
        long deletedKeys = 0;
        lock (_gate)
        {
            // One pass from the newest event back, counting each topic's events as they come: once one is over its
            // rule, it and every older event of that topic go (retention removes a topic's oldest events first).
            // Linear in the events held, with no sort or grouping, since appends wait for it.
            var tallies = new Dictionary<string, TopicTally>(StringComparer.Ordinal);
            var removed = new bool[_events.Count];
            for (var i = _events.Count - 1; i >= 0; i--)
            {
                var record = _events[i];
                ref var tally = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(tallies, record.Topic, out var seen);
                if (!seen)
                {
                    tally.Rule = policy.RuleFor(record.Topic);
                }

                tally.Count++;
                if (!tally.Cut && (tally.Count > tally.Rule!.MaxEventsPerTopic || (tally.Rule.MaxAge is { } age && record.Time < now - age)))
                {
                    tally.Cut = true;
                    _topics.Trimmed(record.Topic, record.Seq);
                }

                if (tally.Cut)
                {
                    removed[i] = true;
                    deletedEvents++;
                }
            }

            if (deletedEvents > 0)
            {
                var kept = 0;
                for (var i = 0; i < _events.Count; i++)
                {
                    if (!removed[i])
                    {
                        _events[kept++] = _events[i];
                    }
                }

                _events.RemoveRange(kept, _events.Count - kept);
            }

            foreach (var (key, stored) in _idempotencyKeys.Where(k => k.Value.ExpiresAt <= now).ToList())
            {
                _idempotencyKeys.Remove(key);
                deletedKeys++;
            }
        }

        return Task.FromResult(new TrimResult(deletedEvents, deletedKeys));
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private struct TopicTally
    {
        public RetentionRule? Rule;
        public int Count;
        public bool Cut;
    }

    internal static DateTimeOffset TruncateToMilliseconds(DateTimeOffset time) =>
        DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());

    private int FirstIndexAfter(long afterSeq)
    {
        int low = 0, high = _events.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (_events[mid].Seq <= afterSeq)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }

    private sealed record StoredKey(byte[] RequestHash, IReadOnlyList<EventRecord> Events, DateTimeOffset ExpiresAt);
}
