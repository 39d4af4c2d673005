using Switchboard.Events;
using Switchboard.Topics;

namespace Switchboard.Log;

/// <summary>
/// The newest events of a durable log, kept in memory so live readers (the tail) never touch the store.
/// One writer adds events in seq order with no holes; any number of readers read without locks and
/// detect overwritten slots by their seq, falling back to the store.
/// </summary>
internal sealed class RecentEventsRing
{
    private readonly EventRecord?[] _slots;
    private readonly long _mask;
    private long _oldest;

    /// <param name="capacity">Rounded up to a power of two.</param>
    /// <param name="headSeq">The seq of the newest event already in the log; the ring starts just after it.</param>
    public RecentEventsRing(int capacity, long headSeq)
    {
        var size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 16));
        _slots = new EventRecord?[size];
        _mask = size - 1;
        _oldest = headSeq + 1;
    }

    public int Capacity => _slots.Length;

    /// <summary>Adds the next event. Called by the single writer only, before the head moves past it.</summary>
    public void Add(EventRecord record)
    {
        Volatile.Write(ref _slots[record.Seq & _mask], record);
        var oldest = record.Seq - _slots.Length + 1;
        if (oldest > Volatile.Read(ref _oldest))
        {
            Volatile.Write(ref _oldest, oldest);
        }
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
}
