using Switchboard.Retention;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// What retention needs to know of each topic without asking the file: how many events it keeps, which is its oldest,
/// and which retention rule governs it. A trim pass then visits only topics that have something to remove (over their
/// rule's count limit, or holding events older than its age) instead of querying every topic the log has seen, which
/// with a million per-user topics held the writer for seconds. Owned by the writer thread: no locks.
/// </summary>
internal sealed class SqliteTopicRows
{
    private readonly Dictionary<string, Rows> _topics = new(StringComparer.Ordinal);

    // Per rule: its non-empty topics by oldest seq (unique: an event belongs to one topic), and those over its count limit.
    private List<SortedDictionary<long, string>> _oldestByRule = [new()];
    private List<HashSet<string>> _crowdedByRule = [new(StringComparer.Ordinal)];
    private long[] _limitByRule = [long.MaxValue];
    private RetentionPolicy? _policy;

    /// <summary>Topics with at least one event.</summary>
    public int Count => _topics.Count;

    /// <summary>Restores a topic as the file holds it (at open).</summary>
    public void Load(string topic, long count, long oldestSeq)
    {
        if (count > 0)
        {
            var rows = new Rows { Count = count, OldestSeq = oldestSeq, Rule = _policy?.RuleIndexFor(topic) ?? 0 };
            _topics[topic] = rows;
            Index(topic, rows);
        }
    }

    /// <summary>
    /// Takes the rules of this trim pass. Only a change of prefixes re-sorts topics between rules, and only a change
    /// of count limits rebuilds the crowded sets: both happen when retention settings are reloaded, not per pass.
    /// </summary>
    public void Adopt(RetentionPolicy policy)
    {
        var limits = policy.Rules.Select(r => r.MaxEventsPerTopic is { } keep ? (long)keep : long.MaxValue).ToArray();
        var samePrefixes = _policy is not null && _policy.Prefixes.SequenceEqual(policy.Prefixes);
        _policy = policy;
        if (samePrefixes && limits.SequenceEqual(_limitByRule))
        {
            return;
        }

        _limitByRule = limits;
        _oldestByRule = policy.Rules.Select(_ => new SortedDictionary<long, string>()).ToList();
        _crowdedByRule = policy.Rules.Select(_ => new HashSet<string>(StringComparer.Ordinal)).ToList();
        foreach (var (topic, rows) in _topics)
        {
            rows.Rule = policy.RuleIndexFor(topic);
            Index(topic, rows);
        }
    }

    /// <summary>Notes a committed event (after any trim of the same commit was applied).</summary>
    public void Appended(string topic, long seq)
    {
        if (!_topics.TryGetValue(topic, out var rows))
        {
            rows = new Rows { OldestSeq = seq, Rule = _policy?.RuleIndexFor(topic) ?? 0 };
            _topics[topic] = rows;
            _oldestByRule[rows.Rule][seq] = topic;
        }

        if (++rows.Count > _limitByRule[rows.Rule])
        {
            _crowdedByRule[rows.Rule].Add(topic);
        }
    }

    /// <summary>Notes a committed trim: <paramref name="deleted"/> events removed, <paramref name="nextOldestSeq"/> the oldest left (0: none).</summary>
    public void Trimmed(string topic, long deleted, long nextOldestSeq)
    {
        if (!_topics.TryGetValue(topic, out var rows))
        {
            return;
        }

        _oldestByRule[rows.Rule].Remove(rows.OldestSeq);
        rows.Count -= deleted;
        if (rows.Count > 0 && nextOldestSeq > 0)
        {
            rows.OldestSeq = nextOldestSeq;
            _oldestByRule[rows.Rule][nextOldestSeq] = topic;
            if (rows.Count <= _limitByRule[rows.Rule])
            {
                _crowdedByRule[rows.Rule].Remove(topic);
            }
        }
        else
        {
            // An empty topic costs nothing here until it is published to again.
            _topics.Remove(topic);
            _crowdedByRule[rows.Rule].Remove(topic);
        }
    }

    /// <summary>The topics of rule <paramref name="rule"/> whose oldest event is at or before <paramref name="seq"/>, oldest first.</summary>
    public IEnumerable<string> OldestAtOrBefore(int rule, long seq)
    {
        foreach (var (oldest, topic) in _oldestByRule[rule])
        {
            if (oldest > seq)
            {
                yield break;
            }

            yield return topic;
        }
    }

    /// <summary>The topics of rule <paramref name="rule"/> holding more events than its count limit.</summary>
    public IReadOnlyCollection<string> Crowded(int rule) => _crowdedByRule[rule];

    private void Index(string topic, Rows rows)
    {
        _oldestByRule[rows.Rule][rows.OldestSeq] = topic;
        if (rows.Count > _limitByRule[rows.Rule])
        {
            _crowdedByRule[rows.Rule].Add(topic);
        }
    }

    private sealed class Rows
    {
        public long Count;
        public long OldestSeq;
        public int Rule;
    }
}
