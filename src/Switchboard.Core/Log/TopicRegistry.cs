using System.Collections.Concurrent;
using Switchboard.Topics;

namespace Switchboard.Log;

/// <summary>
/// Per-topic bookkeeping shared by the stores: the last seq of each topic and how far retention has
/// removed its history. A reader at position p has a gap exactly when a matching topic was trimmed past p,
/// because retention always removes the oldest events of a topic first.
/// </summary>
public sealed class TopicRegistry
{
    private readonly ConcurrentDictionary<string, TopicState> _topics = new(StringComparer.Ordinal);
    private long _maxTrimmed;

    /// <summary>Every topic the store has seen.</summary>
    public IEnumerable<string> Topics => _topics.Keys;

    /// <summary>How many topics the store has seen.</summary>
    public int Count => _topics.Count;

    /// <summary>Restores a topic's state as the store kept it (at open).</summary>
    public void Load(string topic, long lastSeq, long trimmedThrough)
    {
        _topics[topic] = new TopicState { LastSeq = lastSeq, TrimmedThrough = trimmedThrough };
        UpdateMaxTrimmed(trimmedThrough);
    }

    /// <summary>Notes that <paramref name="seq"/> is the topic's newest event; call after the commit, before moving the head.</summary>
    public void Appended(string topic, long seq) =>
        _topics.GetOrAdd(topic, static _ => new TopicState()).LastSeq = seq;

    /// <summary>Notes that retention removed the topic's events through <paramref name="throughSeq"/> (never moves back).</summary>
    public void Trimmed(string topic, long throughSeq)
    {
        var state = _topics.GetOrAdd(topic, static _ => new TopicState());
        if (throughSeq > state.TrimmedThrough)
        {
            state.TrimmedThrough = throughSeq;
        }

        UpdateMaxTrimmed(throughSeq);
    }

    /// <summary>How far retention removed the topic's history (0 when never).</summary>
    public long TrimmedThrough(string topic) => _topics.TryGetValue(topic, out var state) ? state.TrimmedThrough : 0;

    /// <summary>The highest trimmed position among topics matching the filter (0 when none was trimmed).</summary>
    public long MaxTrimmed(TopicFilter filter)
    {
        if (Volatile.Read(ref _maxTrimmed) == 0)
        {
            return 0;
        }

        if (filter.ExactTopics is { } exact)
        {
            return exact.Max(TrimmedThrough);
        }

        long max = 0;
        foreach (var (topic, state) in _topics)
        {
            if (state.TrimmedThrough > max && filter.Matches(topic))
            {
                max = state.TrimmedThrough;
            }
        }

        return max;
    }

    /// <summary>Returns the restart position when a reader at <paramref name="afterSeq"/> missed trimmed events, else null.</summary>
    public LogGap? FindGap(TopicFilter filter, long afterSeq)
    {
        // Fast path: live readers sit past every trim point.
        if (afterSeq >= Volatile.Read(ref _maxTrimmed))
        {
            return null;
        }

        var restart = MaxTrimmed(filter);
        return restart > afterSeq ? new LogGap(restart) : null;
    }

    private void UpdateMaxTrimmed(long value)
    {
        var current = Volatile.Read(ref _maxTrimmed);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref _maxTrimmed, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private sealed class TopicState
    {
        public long LastSeq;
        public long TrimmedThrough;
    }
}
