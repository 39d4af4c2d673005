using System.Collections.Concurrent;
using Switchboard.Topics;

namespace Switchboard.Log;

/// <summary>
/// Per-topic bookkeeping shared by the stores: the last seq of each topic and how far retention has
/// removed its history. A reader at position p has a gap when a matching topic was trimmed past p,
/// because retention always removes the oldest events of a topic first. Once a store retires topics that
/// retention emptied, a reader behind a retired point it may match is told of a gap too: a reset that may
/// be needless, never a silent loss.
/// </summary>
public sealed class TopicRegistry
{
    private readonly ConcurrentDictionary<string, TopicState> _topics = new(StringComparer.Ordinal);

    // Retired topics (retention removed all their events, and the store forgot them), folded into one trim point per
    // region: the prefix of the retention rule that governed the topic, or else its first segment ("" once there are
    // too many regions). So the registry is as large as the retained topics, not as every topic ever published to.
    // A reader whose filter may match in a region is treated as behind that region's point.
    private readonly ConcurrentDictionary<string, long> _retired = new(StringComparer.Ordinal);
    private long _maxTrimmed;

    /// <summary>How many topics the registry holds: every topic seen, less those retired.</summary>
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

    /// <summary>Regions of retired topics kept apart; beyond this, retired topics share one point that covers every topic.</summary>
    public const int MaxRetiredRegions = 4096;

    /// <summary>
    /// The region a retired topic joins: the prefix of the retention rule that governed it (<paramref name="rulePrefix"/>),
    /// or for the default rule the topic's first segment, so that topics kept longer elsewhere are not reset by it.
    /// </summary>
    public string RetiredRegion(string topic, string? rulePrefix)
    {
        var dot = topic.IndexOf('.');
        var region = rulePrefix ?? (dot < 0 ? topic : topic[..dot]);
        return _retired.Count < MaxRetiredRegions || _retired.ContainsKey(region) ? region : "";
    }

    /// <summary>
    /// Forgets a topic retention emptied. Its trim point joins <paramref name="region"/>'s (see
    /// <see cref="RetiredRegion"/>) before the topic leaves, so a reader never sees neither.
    /// </summary>
    public void Retire(string topic, string region)
    {
        if (_topics.TryGetValue(topic, out var state))
        {
            LoadRetired(region, state.TrimmedThrough);
            _topics.TryRemove(topic, out _);
        }
    }

    /// <summary>Restores a region's retired trim point as the store kept it (at open), or raises it.</summary>
    public void LoadRetired(string region, long throughSeq)
    {
        _retired.AddOrUpdate(region, throughSeq, (_, current) => Math.Max(current, throughSeq));
        UpdateMaxTrimmed(throughSeq);
    }

    /// <summary>
    /// How far retention may have removed the topic's history (0 when never): its own trim point, or that of a
    /// retired region covering it, since the topic may have been retired before it was published to again.
    /// </summary>
    public long TrimmedThrough(string topic)
    {
        var through = _topics.TryGetValue(topic, out var state) ? state.TrimmedThrough : 0;
        if (_retired.IsEmpty)
        {
            return through;
        }

        // The regions covering a.b.c are "", a, a.b and a.b.c.
        var regions = _retired.GetAlternateLookup<ReadOnlySpan<char>>();
        through = Math.Max(through, regions.TryGetValue([], out var all) ? all : 0);
        for (var dot = topic.IndexOf('.'); dot >= 0; dot = topic.IndexOf('.', dot + 1))
        {
            through = Math.Max(through, regions.TryGetValue(topic.AsSpan(0, dot), out var region) ? region : 0);
        }

        through = Math.Max(through, regions.TryGetValue(topic, out var whole) ? whole : 0);
        return through;
    }

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
        foreach (var (prefix, through) in _retired)
        {
            if (through > max && (prefix.Length == 0 || filter.Patterns.Any(p => p.MayMatchUnder(prefix))))
            {
                max = through;
            }
        }

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
