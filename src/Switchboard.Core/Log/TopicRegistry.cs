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
        while (true)
        {
            var state = _topics.GetOrAdd(topic, static _ => new TopicState());
            RaiseTo(ref state.TrimmedThrough, throughSeq);
            // A concurrent Retired may have just forgotten this state; then the point goes into the topic's new one.
            if (_topics.TryGetValue(topic, out var current) && ReferenceEquals(current, state))
            {
                break;
            }
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
    /// Learns that the store retired <paramref name="topic"/> into <paramref name="region"/>'s point
    /// <paramref name="throughSeq"/>, as a shared store reports a retirement another process decided: the region's
    /// point rises, and the topic is forgotten unless its own trim point is past the region's (it was published to and
    /// trimmed again before the news came), since then it still tells readers something the region does not.
    /// </summary>
    public void Retired(string topic, string region, long throughSeq)
    {
        LoadRetired(region, throughSeq);
        ForgetIfCovered(topic);
    }

    /// <summary>
    /// Forgets every topic whose trim point the retired regions cover, since it tells readers nothing they do not: for a
    /// shared store that reloaded its points and may hold topics retired while it was not listening.
    /// </summary>
    public void ForgetCovered()
    {
        if (_retired.IsEmpty)
        {
            return;
        }

        foreach (var topic in _topics.Keys)
        {
            ForgetIfCovered(topic);
        }
    }

    private void ForgetIfCovered(string topic)
    {
        if (!_topics.TryGetValue(topic, out var state) || Volatile.Read(ref state.TrimmedThrough) > RetiredThrough(topic))
        {
            return;
        }

        if (_topics.TryRemove(new KeyValuePair<string, TopicState>(topic, state)) && Volatile.Read(ref state.TrimmedThrough) > RetiredThrough(topic))
        {
            // A trim raced the removal and moved the topic past its region: keep what it learned.
            Trimmed(topic, Volatile.Read(ref state.TrimmedThrough));
        }
    }

    /// <summary>
    /// How far retention may have removed the topic's history (0 when never): its own trim point, or that of a
    /// retired region covering it, since the topic may have been retired before it was published to again.
    /// </summary>
    public long TrimmedThrough(string topic)
    {
        var through = _topics.TryGetValue(topic, out var state) ? Volatile.Read(ref state.TrimmedThrough) : 0;
        return Math.Max(through, RetiredThrough(topic));
    }

    /// <summary>The highest point of the retired regions covering the topic (0 when none).</summary>
    private long RetiredThrough(string topic)
    {
        if (_retired.IsEmpty)
        {
            return 0;
        }

        // The regions covering a.b.c are "", a, a.b and a.b.c.
        var regions = _retired.GetAlternateLookup<ReadOnlySpan<char>>();
        var through = regions.TryGetValue([], out var all) ? all : 0;
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

    private void UpdateMaxTrimmed(long value) => RaiseTo(ref _maxTrimmed, value);

    private static void RaiseTo(ref long field, long value)
    {
        var current = Volatile.Read(ref field);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref field, value, current);
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
