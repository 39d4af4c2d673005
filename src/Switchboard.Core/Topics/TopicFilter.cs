namespace Switchboard.Topics;

/// <summary>The set of patterns a subscription reads. A topic passes when any pattern matches it.</summary>
public sealed class TopicFilter
{
    private readonly TopicPattern[] _patterns;

    /// <summary>Creates a filter from parsed patterns (at least one).</summary>
    public TopicFilter(IEnumerable<TopicPattern> patterns)
    {
        _patterns = patterns.DistinctBy(p => p.Value, StringComparer.Ordinal).ToArray();
        if (_patterns.Length == 0)
        {
            throw new ArgumentException("A filter needs at least one pattern.", nameof(patterns));
        }

        ExactTopics = _patterns.All(p => p.IsExact) ? _patterns.Select(p => p.Value).ToArray() : null;
    }

    /// <summary>The patterns, without duplicates.</summary>
    public IReadOnlyList<TopicPattern> Patterns => _patterns;

    /// <summary>When every pattern is a plain topic name, those names; stores use them to read by topic index.</summary>
    public IReadOnlyList<string>? ExactTopics { get; }

    /// <summary>Builds a filter from pattern strings known to be valid.</summary>
    public static TopicFilter Parse(params string[] patterns) => new(patterns.Select(TopicPattern.Parse));

    /// <summary>True when any pattern matches <paramref name="topic"/>.</summary>
    public bool Matches(string topic)
    {
        foreach (var pattern in _patterns)
        {
            if (pattern.Matches(topic))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(",", _patterns.Select(p => p.Value));
}
