using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Switchboard.Retention;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// What retention needs to know of each topic without asking the file: how many events it keeps, which is its oldest,
/// and which retention rule governs it. A trim pass then visits only topics that have something to remove (over their
/// rule's count limit, or holding events older than its age) instead of querying every topic the log has seen, which
/// with a million per-user topics held the writer for seconds. Owned by the writer thread: no locks.
/// </summary>
/// <remarks>
/// A publish to a new topic costs one dictionary entry (a struct, no object) and one appended index entry: new topics
/// arrive in seq order, so each rule's index of oldest events is a list kept sorted by appending, read from a head
/// that skips entries made stale by trims. Only topics a trim left non-empty are re-filed in a sorted dictionary,
/// which is work in proportion to what retention removes.
/// </remarks>
internal sealed class SqliteTopicRows
{
    private readonly Dictionary<string, Rows> _topics = new(StringComparer.Ordinal);
    private RuleIndex[] _rules = [new(long.MaxValue)];
    private RetentionPolicy? _policy;

    /// <summary>Restores a topic as the file holds it (at open); <see cref="EndLoad"/> then files them.</summary>
    public void Load(string topic, long count, long oldestSeq)
    {
        if (count > 0)
        {
            _topics[topic] = new Rows { Count = count, OldestSeq = oldestSeq };
        }
    }

    /// <summary>Files the loaded topics by rule and oldest event, once.</summary>
    public void EndLoad() => Refile();

    /// <summary>
    /// Takes the rules of this trim pass. Only a change of prefixes or count limits re-files the topics; both happen
    /// when retention settings are reloaded, not per pass.
    /// </summary>
    public void Adopt(RetentionPolicy policy)
    {
        var limits = policy.Rules.Select(r => r.MaxEventsPerTopic is { } keep ? (long)keep : long.MaxValue).ToArray();
        var unchanged = _policy is not null && _policy.Prefixes.SequenceEqual(policy.Prefixes) && limits.SequenceEqual(_rules.Select(r => r.Limit));
        _policy = policy;
        if (unchanged)
        {
            return;
        }

        _rules = limits.Select(limit => new RuleIndex(limit)).ToArray();
        Refile();
    }

    /// <summary>Files every topic afresh under its rule: one sort by oldest seq, no sorted-dictionary inserts.</summary>
    private void Refile()
    {
        foreach (var index in _rules)
        {
            index.Clear();
        }

        var byOldest = new List<(long OldestSeq, string Topic)>(_topics.Count);
        foreach (var topic in _topics.Keys)
        {
            ref var rows = ref CollectionsMarshal.GetValueRefOrNullRef(_topics, topic);
            rows.Rule = _policy?.RuleIndexFor(topic) ?? 0;
            rows.Sorted = false;
            byOldest.Add((rows.OldestSeq, topic));
        }

        byOldest.Sort((a, b) => a.OldestSeq.CompareTo(b.OldestSeq));
        foreach (var (oldest, topic) in byOldest)
        {
            var rows = _topics[topic];
            var index = _rules[rows.Rule];
            index.Fresh.Add((oldest, topic));
            if (rows.Count > index.Limit)
            {
                index.Crowded.Add(topic);
            }
        }
    }

    /// <summary>Notes a committed event (after any trim of the same commit was applied).</summary>
    public void Appended(string topic, long seq)
    {
        ref var rows = ref CollectionsMarshal.GetValueRefOrAddDefault(_topics, topic, out var existed);
        if (!existed)
        {
            rows.OldestSeq = seq;
            rows.Rule = _policy?.RuleIndexFor(topic) ?? 0;
            _rules[rows.Rule].Fresh.Add((seq, topic));
        }

        var index = _rules[rows.Rule];
        if (++rows.Count > index.Limit)
        {
            index.Crowded.Add(topic);
        }
    }

    /// <summary>Notes a committed trim: <paramref name="deleted"/> events removed, <paramref name="nextOldestSeq"/> the oldest left (0: none).</summary>
    public void Trimmed(string topic, long deleted, long nextOldestSeq)
    {
        ref var rows = ref CollectionsMarshal.GetValueRefOrNullRef(_topics, topic);
        if (Unsafe.IsNullRef(ref rows))
        {
            return;
        }

        var index = _rules[rows.Rule];
        if (rows.Sorted)
        {
            index.Sorted.Remove(rows.OldestSeq);
        }

        rows.Count -= deleted;
        if (rows.Count > 0 && nextOldestSeq > 0)
        {
            // Its entry in the fresh list, if it had one, is now stale and is skipped.
            rows.OldestSeq = nextOldestSeq;
            rows.Sorted = true;
            index.Sorted[nextOldestSeq] = topic;
            if (rows.Count <= index.Limit)
            {
                index.Crowded.Remove(topic);
            }
        }
        else
        {
            // An empty topic costs nothing here until it is published to again.
            _topics.Remove(topic);
            index.Crowded.Remove(topic);
        }

        index.DropStaleHead(this);
    }

    /// <summary>The topics of rule <paramref name="rule"/> whose oldest event is at or before <paramref name="seq"/>.</summary>
    public IEnumerable<string> OldestAtOrBefore(int rule, long seq)
    {
        var index = _rules[rule];
        for (var i = index.FreshHead; i < index.Fresh.Count && index.Fresh[i].OldestSeq <= seq; i++)
        {
            if (IsCurrent(index.Fresh[i]))
            {
                yield return index.Fresh[i].Topic;
            }
        }

        foreach (var (oldest, topic) in index.Sorted)
        {
            if (oldest > seq)
            {
                yield break;
            }

            yield return topic;
        }
    }

    /// <summary>The topics of rule <paramref name="rule"/> holding more events than its count limit.</summary>
    public IReadOnlyCollection<string> Crowded(int rule) => _rules[rule].Crowded;

    private bool IsCurrent((long OldestSeq, string Topic) entry) =>
        _topics.TryGetValue(entry.Topic, out var rows) && !rows.Sorted && rows.OldestSeq == entry.OldestSeq;

    private struct Rows
    {
        public long Count;
        public long OldestSeq;
        public int Rule;
        public bool Sorted; // filed in its rule's sorted dictionary, not (or no longer) in the fresh list
    }

    private sealed class RuleIndex(long limit)
    {
        public long Limit { get; } = limit;

        /// <summary>Topics in the order they got their oldest event, which is seq order; from <see cref="FreshHead"/> on.</summary>
        public List<(long OldestSeq, string Topic)> Fresh { get; } = [];

        public int FreshHead { get; private set; }

        public SortedDictionary<long, string> Sorted { get; } = [];

        public HashSet<string> Crowded { get; } = new(StringComparer.Ordinal);

        public void Clear()
        {
            Fresh.Clear();
            FreshHead = 0;
            Sorted.Clear();
            Crowded.Clear();
        }

        public void DropStaleHead(SqliteTopicRows rows)
        {
            while (FreshHead < Fresh.Count && !rows.IsCurrent(Fresh[FreshHead]))
            {
                FreshHead++;
            }

            // Reclaim the skipped entries once they are most of the list.
            if (FreshHead > 1024 && FreshHead > Fresh.Count / 2)
            {
                Fresh.RemoveRange(0, FreshHead);
                FreshHead = 0;
            }
        }
    }
}
