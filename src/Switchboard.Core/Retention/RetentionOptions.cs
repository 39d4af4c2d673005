using System.ComponentModel.DataAnnotations;
using Switchboard.Topics;

namespace Switchboard.Retention;

/// <summary>How long history is kept. Applies per topic: both limits hold, whichever removes more.</summary>
public sealed class RetentionRule
{
    /// <summary>Events older than this are removed. <c>null</c> keeps events regardless of age.</summary>
    public TimeSpan? MaxAge { get; set; }

    /// <summary>At most this many of a topic's newest events are kept. <c>null</c> keeps any number.</summary>
    public int? MaxEventsPerTopic { get; set; }
}

/// <summary>Hub retention: defaults, and overrides by topic prefix (<c>Switchboard:Retention:Topics:orders:MaxAge</c>).</summary>
public sealed class RetentionOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Retention";

    /// <summary>Default maximum age: 7 days.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Retention:MaxAge must be positive when set.")]
    public TimeSpan? MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Default maximum events kept per topic: 100,000.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Retention:MaxEventsPerTopic must be at least 1 when set.")]
    public int? MaxEventsPerTopic { get; set; } = 100_000;

    /// <summary>
    /// Overrides keyed by topic prefix in whole segments: <c>orders</c> covers <c>orders</c> and <c>orders.eu.1</c>.
    /// The longest matching prefix wins; a field it leaves unset falls back to the default.
    /// </summary>
    public Dictionary<string, RetentionRule> Topics { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How often the background trimmer runs. Default 1 minute.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.010", "10675199.02:48:05.4775807", ErrorMessage = "Retention:TrimInterval must be at least 10 ms.")]
    public TimeSpan TrimInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <inheritdoc />
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var rules = new OptionRules();
        foreach (var (prefix, rule) in Topics)
        {
            rules.Require(TopicName.Validate(prefix) is null, $"Retention:Topics:{prefix} is not a valid topic prefix.");
            rules.Require(rule.MaxAge is null || rule.MaxAge > TimeSpan.Zero, $"Retention:Topics:{prefix}:MaxAge must be positive when set.");
            rules.Require(rule.MaxEventsPerTopic is null or >= 1, $"Retention:Topics:{prefix}:MaxEventsPerTopic must be at least 1 when set.");
        }

        return rules.Failures;
    }
}

/// <summary>Resolves the rule for each topic from <see cref="RetentionOptions"/>.</summary>
public sealed class RetentionPolicy
{
    private readonly RetentionRule _default;
    private readonly (string Prefix, RetentionRule Rule)[] _overridesLongestFirst;

    /// <summary>Creates a policy from options.</summary>
    public RetentionPolicy(RetentionOptions options)
    {
        _default = new RetentionRule { MaxAge = options.MaxAge, MaxEventsPerTopic = options.MaxEventsPerTopic };
        _overridesLongestFirst = options.Topics.OrderByDescending(o => o.Key.Length)
            .Select(o => (o.Key, new RetentionRule { MaxAge = o.Value.MaxAge ?? options.MaxAge, MaxEventsPerTopic = o.Value.MaxEventsPerTopic ?? options.MaxEventsPerTopic }))
            .ToArray();
        Rules = [_default, .. _overridesLongestFirst.Select(o => o.Rule)];
        Prefixes = [null, .. _overridesLongestFirst.Select(o => o.Prefix)];
    }

    /// <summary>The default rule, then every override (longest prefix first), each resolved against the defaults.</summary>
    public IReadOnlyList<RetentionRule> Rules { get; }

    /// <summary>The prefix of each of <see cref="Rules"/>: null for the default.</summary>
    public IReadOnlyList<string?> Prefixes { get; }

    /// <summary>The effective rule for <paramref name="topic"/> (shared: do not change it).</summary>
    public RetentionRule RuleFor(string topic) => Rules[RuleIndexFor(topic)];

    /// <summary>Which of <see cref="Rules"/> applies to <paramref name="topic"/>.</summary>
    public int RuleIndexFor(string topic)
    {
        for (var i = 0; i < _overridesLongestFirst.Length; i++)
        {
            var prefix = _overridesLongestFirst[i].Prefix;
            if (topic == prefix || (topic.Length > prefix.Length && topic.StartsWith(prefix, StringComparison.Ordinal) && topic[prefix.Length] == '.'))
            {
                return i + 1;
            }
        }

        return 0;
    }
}
