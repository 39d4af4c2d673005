namespace Switchboard.Topics;

/// <summary>
/// Validates topic names: dot-separated segments of <c>[A-Za-z0-9_-]</c>.
/// Validation returns a reason rather than throwing, so the HTTP layer can put it into a 400 problem.
/// </summary>
public static class TopicName
{
    /// <summary>The default maximum length of a topic name, in characters.</summary>
    public const int DefaultMaxLength = 255;

    /// <summary>Returns <c>null</c> when <paramref name="name"/> is a valid topic, otherwise why it is not.</summary>
    public static string? Validate(string? name, int maxLength = DefaultMaxLength)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "The topic name is empty.";
        }

        if (name.Length > maxLength)
        {
            return $"The topic name is {name.Length} characters long; the limit is {maxLength}.";
        }

        return ValidateSegments(name, allowWildcards: false);
    }

    internal static string? ValidateSegments(string value, bool allowWildcards)
    {
        var segmentStart = 0;
        for (var i = 0; i <= value.Length; i++)
        {
            if (i < value.Length && value[i] != '.')
            {
                continue;
            }

            var segment = value.AsSpan(segmentStart, i - segmentStart);
            if (segment.IsEmpty)
            {
                return $"Empty segment at position {segmentStart}: segments are separated by single dots and cannot be empty.";
            }

            if (allowWildcards && segment is "*")
            {
                // one whole segment
            }
            else if (allowWildcards && segment is ">")
            {
                if (i != value.Length)
                {
                    return "'>' matches the rest of a topic, so it may only be the last segment.";
                }
            }
            else
            {
                foreach (var c in segment)
                {
                    if (!IsSegmentChar(c))
                    {
                        return allowWildcards && (c == '*' || c == '>')
                            ? $"Wildcard '{c}' must be a whole segment (segment '{segment}')."
                            : $"Invalid character '{c}' in segment '{segment}': allowed are A-Z, a-z, 0-9, '_' and '-'.";
                    }
                }
            }

            segmentStart = i + 1;
        }

        return null;
    }

    private static bool IsSegmentChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-';
}
