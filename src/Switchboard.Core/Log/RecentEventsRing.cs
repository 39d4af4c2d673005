using System.Collections.Concurrent;
using Switchboard.Events;
using Switchboard.Topics;

namespace Switchboard.Log;

/// <summary>
/// The newest events of a durable log, kept in memory so live readers (the tail) never touch the store.
/// One writer adds events in seq order with no holes; any number of readers read without locks and
/// detect overwritten slots by their seq, falling back to the store.
/// </summary>
/// <remarks>
/// Besides seq order, the ring keeps each topic's events chained newest to oldest (each slot remembers the previous seq
/// of its topic, and each topic its newest seq), so a reader of exact topics walks only its own topics' events instead
/// of scanning every event since its position: with one reader per topic, a read costs what its own events cost.
/// </remarks>
public sealed class RecentEventsRing
{
    private readonly EventRecord?[] _slots;
    private readonly long[] _previousInTopic;
    private readonly ConcurrentDictionary<string, TopicHead> _topicHeads = new(StringComparer.Ordinal);
    private readonly long _mask;
    private readonly long _maxBytes;
    private long _bytes; // the writer's estimate of what the held events cost; only the writer touches it
    private long _oldest;
    private long _completeThrough; // every event from the ring's start through this one has been added

    /// <param name="capacity">Rounded up to a power of two.</param>
    /// <param name="headSeq">The seq of the newest event already in the log; the ring starts just after it.</param>
    /// <param name="maxBytes">
    /// What the held events may cost, estimated by <see cref="CostOf"/>: large events leave the ring early (their readers
    /// read the store), so the count bound alone cannot make the ring hold gigabytes.
    /// </param>
    public RecentEventsRing(int capacity, long headSeq, long maxBytes = DefaultMaxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        _maxBytes = maxBytes;
        var size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 16));
        _slots = new EventRecord?[size];
        _previousInTopic = new long[size];
        _mask = size - 1;
        _oldest = headSeq + 1;
        _completeThrough = headSeq;
    }

    /// <summary>The default byte budget: 256 MiB.</summary>
    public const long DefaultMaxBytes = 256L * 1024 * 1024;

    /// <summary>Slots in the ring.</summary>
    public int Capacity => _slots.Length;

    /// <summary>The estimated cost of the events held now (the writer's view).</summary>
    public long HeldBytes => Volatile.Read(ref _bytes);

    /// <summary>
    /// An event's estimated cost once its wire forms are built: the payload, then about one copy of it per cached form
    /// (JSON, SSE frame, WebSocket frame, webhook body), and the record's own fields.
    /// </summary>
    public static long CostOf(EventRecord record) => 5L * record.Data.Length + 2 * (record.Topic.Length + record.Type.Length) + 512;

    /// <summary>
    /// Adds an event. One writer at a time (a store's writer thread, or under its lock), before the head moves past it.
    /// Events normally come in seq order; a store that learns of other nodes' events late may add one twice (ignored)
    /// or fill a hole after later ones (linked into its topic's chain in place). Per-topic reads are used only up to
    /// the point where the ring has every event, so a hole is never read over.
    /// </summary>
    public void Add(EventRecord record)
    {
        var seq = record.Seq;
        var index = seq & _mask;
        var existing = Volatile.Read(ref _slots[index]);
        if (existing is not null && existing.Seq >= seq)
        {
            return; // already here, or a newer event took the slot
        }

        if (existing is not null)
        {
            _bytes -= CostOf(existing);
        }

        var head = _topicHeads.GetOrAdd(record.Topic, static _ => new TopicHead());
        var newest = Volatile.Read(ref head.Newest);
        // Empty the slot, write the link, fill the slot: a reader that sees the same record before and after reading
        // the link knows the link is that record's.
        Volatile.Write(ref _slots[index], null);
        if (seq > newest)
        {
            Volatile.Write(ref _previousInTopic[index], newest);
            Volatile.Write(ref _slots[index], record);
            Volatile.Write(ref head.Newest, seq);
        }
        else
        {
            // A late event: find the newer neighbour in its topic's chain and link it in between.
            var later = newest;
            while (true)
            {
                var laterIndex = later & _mask;
                var earlier = Volatile.Read(ref _previousInTopic[laterIndex]);
                if (earlier < seq)
                {
                    Volatile.Write(ref _previousInTopic[index], earlier);
                    Volatile.Write(ref _slots[index], record);
                    Volatile.Write(ref _previousInTopic[laterIndex], seq);
                    break;
                }

                later = earlier;
            }
        }

        Volatile.Write(ref _bytes, _bytes + CostOf(record));
        var oldest = Math.Max(seq - _slots.Length + 1, Volatile.Read(ref _oldest));
        // Over budget: the oldest events leave first, but the newest always stays. Moving the ring's start before
        // emptying a slot sends a reader that would need it to the store.
        while (_bytes > _maxBytes && oldest < seq)
        {
            Volatile.Write(ref _oldest, oldest + 1);
            var leavingIndex = oldest & _mask;
            if (Volatile.Read(ref _slots[leavingIndex]) is { } leaving && leaving.Seq <= oldest)
            {
                Volatile.Write(ref _slots[leavingIndex], null);
                _bytes -= CostOf(leaving);
            }

            oldest++;
        }

        if (oldest > Volatile.Read(ref _oldest))
        {
            Volatile.Write(ref _oldest, oldest);
        }

        AdvanceComplete();

        // Topics whose events all left the ring are forgotten now and then, so the map stays about the ring's size.
        if ((seq & _mask) == 0 && _topicHeads.Count > _slots.Length)
        {
            foreach (var (topic, stale) in _topicHeads)
            {
                if (Volatile.Read(ref stale.Newest) < oldest)
                {
                    _topicHeads.TryRemove(topic, out _);
                }
            }
        }
    }

    /// <summary>Moves <see cref="_completeThrough"/> over every event now present after it.</summary>
    private void AdvanceComplete()
    {
        var through = Math.Max(Volatile.Read(ref _completeThrough), Volatile.Read(ref _oldest) - 1);
        while (Find(through + 1) is not null)
        {
            through++;
        }

        Volatile.Write(ref _completeThrough, through);
    }

    /// <summary>The event with <paramref name="seq"/> when the ring still holds it.</summary>
    public EventRecord? Find(long seq)
    {
        var record = Volatile.Read(ref _slots[seq & _mask]);
        return record is not null && record.Seq == seq ? record : null;
    }

    /// <summary>
    /// Reads matching events in (<paramref name="afterSeq"/>, <paramref name="headSeq"/>] when the ring still holds all of them.
    /// Returns false when the reader is behind the ring and must read the store.
    /// </summary>
    public bool TryRead(TopicFilter filter, long afterSeq, long headSeq, int limit, out LogReadResult result)
    {
        result = null!;
        if (afterSeq + 1 < Volatile.Read(ref _oldest))
        {
            return false;
        }

        return filter.ExactTopics is { } topics && headSeq <= Volatile.Read(ref _completeThrough)
            ? TryReadTopics(topics, afterSeq, headSeq, limit, out result)
            : TryScan(filter, afterSeq, headSeq, limit, out result);
    }

    private bool TryScan(TopicFilter filter, long afterSeq, long headSeq, int limit, out LogReadResult result)
    {
        result = null!;
        List<EventRecord>? found = null;
        for (var seq = afterSeq + 1; seq <= headSeq; seq++)
        {
            var record = Volatile.Read(ref _slots[seq & _mask]);
            if (record is null || record.Seq != seq)
            {
                return false; // overwritten while we read: this reader is too slow for the ring
            }

            if (!filter.Matches(record.Topic))
            {
                continue;
            }

            // Small first: a live reader usually wakes for one or two events, and fan-out does this per subscriber.
            found ??= new List<EventRecord>(Math.Min(limit, 4));
            found.Add(record);
            if (found.Count == limit)
            {
                result = new LogReadResult(found, seq);
                return true;
            }
        }

        result = new LogReadResult(found ?? (IReadOnlyList<EventRecord>)[], Math.Max(afterSeq, headSeq));
        return true;
    }

    /// <summary>Walks each topic's chain back from its newest event to the reader's position.</summary>
    private bool TryReadTopics(IReadOnlyList<string> topics, long afterSeq, long headSeq, int limit, out LogReadResult result)
    {
        result = null!;
        List<EventRecord>? found = null;
        foreach (var topic in topics)
        {
            if (!_topicHeads.TryGetValue(topic, out var head))
            {
                continue; // nothing of this topic in the ring, and the ring holds everything after afterSeq
            }

            var seq = Volatile.Read(ref head.Newest);
            var start = found?.Count ?? 0;
            while (seq > afterSeq)
            {
                var index = seq & _mask;
                var record = Volatile.Read(ref _slots[index]);
                var previous = Volatile.Read(ref _previousInTopic[index]);
                if (record is null || record.Seq != seq || previous >= seq || !ReferenceEquals(record, Volatile.Read(ref _slots[index])))
                {
                    return false; // overwritten while we walked: read the store
                }

                if (seq <= headSeq)
                {
                    (found ??= new List<EventRecord>(4)).Add(record);
                }

                seq = previous;
            }

            if (found is not null)
            {
                found.Reverse(start, found.Count - start);
            }
        }

        if (found is null)
        {
            result = new LogReadResult([], Math.Max(afterSeq, headSeq));
            return true;
        }

        if (topics.Count > 1)
        {
            found.Sort(static (a, b) => a.Seq.CompareTo(b.Seq));
        }

        if (found.Count > limit)
        {
            found.RemoveRange(limit, found.Count - limit);
            result = new LogReadResult(found, found[^1].Seq);
            return true;
        }

        result = new LogReadResult(found, Math.Max(afterSeq, headSeq));
        return true;
    }

    private sealed class TopicHead
    {
        public long Newest;
    }
}
