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
    private readonly RetentionOptions _options;
    private readonly KeyValuePair<string, RetentionRule>[] _overridesLongestFirst;

    /// <summary>Creates a policy from options.</summary>
    public RetentionPolicy(RetentionOptions options)
    {
        _options = options;
        _overridesLongestFirst = options.Topics.OrderByDescending(o => o.Key.Length).ToArray();
    }

    /// <summary>The effective rule for <paramref name="topic"/>.</summary>
    public RetentionRule RuleFor(string topic)
    {
        foreach (var (prefix, rule) in _overridesLongestFirst)
        {
            if (topic == prefix || (topic.Length > prefix.Length && topic.StartsWith(prefix, StringComparison.Ordinal) && topic[prefix.Length] == '.'))
            {
                return new RetentionRule
                {
                    MaxAge = rule.MaxAge ?? _options.MaxAge,
                    MaxEventsPerTopic = rule.MaxEventsPerTopic ?? _options.MaxEventsPerTopic,
                };
            }
        }

        return new RetentionRule { MaxAge = _options.MaxAge, MaxEventsPerTopic = _options.MaxEventsPerTopic };
    }
}
