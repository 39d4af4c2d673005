namespace Switchboard.Topics;

/// <summary>
/// A NATS-style subscription pattern: <c>*</c> matches exactly one segment, a final <c>&gt;</c> matches one or more.
/// </summary>
public sealed class TopicPattern
{
    private readonly string[] _segments;

    private TopicPattern(string value, string[] segments)
    {
        Value = value;
        _segments = segments;
        IsExact = !segments.Any(s => s is "*" or ">");
    }

    /// <summary>The pattern as written.</summary>
    public string Value { get; }

    /// <summary>The pattern's segments, for the subscription index's trie.</summary>
    internal string[] Segments => _segments;

    /// <summary>True when the pattern has no wildcard, so it names exactly one topic.</summary>
    public bool IsExact { get; }

    /// <summary>Parses a pattern, or returns why it is invalid.</summary>
    public static TopicPattern? TryParse(string? value, int maxLength, out string? error)
    {
        if (string.IsNullOrEmpty(value))
        {
            error = "The topic pattern is empty.";
            return null;
        }

        if (value.Length > maxLength)
        {
            error = $"The topic pattern is {value.Length} characters long; the limit is {maxLength}.";
            return null;
        }

        error = TopicName.ValidateSegments(value, allowWildcards: true);
        return error is null ? new TopicPattern(value, value.Split('.')) : null;
    }

    /// <summary>Parses a pattern known to be valid (configuration, tests).</summary>
    public static TopicPattern Parse(string value) =>
        TryParse(value, int.MaxValue, out var error) ?? throw new ArgumentException(error, nameof(value));

    /// <summary>True when <paramref name="topic"/> (a valid topic name) matches this pattern.</summary>
    public bool Matches(string topic)
    {
        if (IsExact)
        {
            return string.Equals(Value, topic, StringComparison.Ordinal);
        }

        var position = 0;
        for (var i = 0; i < _segments.Length; i++)
        {
            if (position > topic.Length)
            {
                return false; // the topic ran out of segments
            }

            var segment = _segments[i];
            if (segment == ">")
            {
                return position < topic.Length; // at least one more segment
            }

            var end = topic.IndexOf('.', position);
            if (end < 0)
            {
                end = topic.Length;
            }

            if (segment != "*" && !topic.AsSpan(position, end - position).SequenceEqual(segment))
            {
                return false;
            }

            position = end + 1;
        }

        return position == topic.Length + 1; // consumed exactly every segment
    }

    /// <summary>
    /// True when every topic this pattern matches is also matched by <paramref name="granted"/>: a subscription to
    /// <c>chat.*</c> lies inside a grant of <c>chat.&gt;</c>, but <c>chat.&gt;</c> does not lie inside <c>chat.*</c>.
    /// </summary>
    public bool IsWithin(TopicPattern granted)
    {
        var grant = granted._segments;
        var mine = _segments;
        for (var i = 0; i < grant.Length; i++)
        {
            if (grant[i] == ">")
            {
                return i < mine.Length; // one or more segments here, whatever they are (a '>' too)
            }

            if (i >= mine.Length || mine[i] == ">")
            {
                return false; // shorter, or spanning many segments where the grant allows one
            }

            if (grant[i] != "*" && mine[i] != grant[i])
            {
                return false; // another literal, or a '*' where the grant names one topic segment
            }
        }

        return mine.Length == grant.Length;
    }

    /// <summary>
    /// True when some topic this pattern matches is <paramref name="prefix"/> (a valid topic name) or lies under it
    /// (<c>prefix.…</c>): <c>orders.*</c> and <c>&gt;</c> may match under <c>orders</c>, <c>chat.&gt;</c> may not.
    /// </summary>
    public bool MayMatchUnder(string prefix)
    {
        var under = prefix.Split('.');
        for (var i = 0; i < _segments.Length && i < under.Length; i++)
        {
            if (_segments[i] == ">")
            {
                return true;
            }

            if (_segments[i] != "*" && _segments[i] != under[i])
            {
                return false;
            }
        }

        // Every segment of the prefix was matched; a pattern shorter than the prefix names shorter topics only.
        return _segments.Length >= under.Length;
    }

    /// <inheritdoc />
    public override string ToString() => Value;
}
