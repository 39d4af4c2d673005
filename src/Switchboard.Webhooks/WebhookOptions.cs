using System.ComponentModel.DataAnnotations;

namespace Switchboard;

/// <summary>Webhook delivery: retries, limits, circuit breaking and SSRF protection.</summary>
public sealed class WebhookOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Webhooks";

    /// <summary>The default retry schedule: the delays before the 2nd, 3rd, ... attempt.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    /// <summary>
    /// CIDRs webhooks may reach although they are not public (loopback, private, ...), for example <c>127.0.0.0/8</c>.
    /// Default: none, so a webhook cannot be aimed at the hub's own network.
    /// </summary>
    public List<string> AllowedNetworks { get; set; } = [];

    /// <summary>
    /// The delays between attempts; an event is given up after the last. Unset: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    /// (Unset rather than pre-filled, because configuration binding appends to a pre-filled list.)
    /// </summary>
    public List<TimeSpan>? RetrySchedule { get; set; }

    /// <summary>The schedule in force.</summary>
    public IReadOnlyList<TimeSpan> EffectiveRetrySchedule => RetrySchedule is { Count: > 0 } schedule ? schedule : DefaultRetrySchedule;

    /// <summary>Each retry delay is moved by up to this fraction either way, so failed deliveries do not return in lockstep. Default 0.2.</summary>
    [SettingRange(0.0, 1.0, MaximumIsExclusive = true, ErrorMessage = "Webhooks:RetryJitter must be between 0 and 1.")]
    public double RetryJitter { get; set; } = 0.2;

    /// <summary>Plain <c>http://</c> targets. Unset: allowed in the Development environment only; production requires https.</summary>
    public bool? AllowHttp { get; set; }

    /// <summary>How long one delivery may take, connect to last byte. Default 15 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Webhooks:RequestTimeout must be positive.")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The floor for a receiver's <c>Retry-After</c> on 429 and 503. Default 1 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Webhooks:MinRetryAfter must be positive and at most Webhooks:MaxRetryAfter.")]
    public TimeSpan MinRetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The ceiling for a receiver's <c>Retry-After</c>. Default 1 h.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How much of a response body is read and kept in the attempt log. Default 1 KiB.</summary>
    [SettingRange(0, 64 * 1024, ErrorMessage = "Webhooks:MaxResponseBodyBytes must be between 0 and 64 KiB.")]
    public int MaxResponseBodyBytes { get; set; } = 1024;

    /// <summary>Deliveries in flight across all endpoints. Default 256.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Webhooks:MaxConcurrentDeliveries must be at least 1.")]
    public int MaxConcurrentDeliveries { get; set; } = 256;

    /// <summary>An endpoint's <c>maxInFlight</c> when it gives none. Default 10.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Webhooks:DefaultMaxInFlight must be between 1 and Webhooks:MaxInFlightLimit.")]
    public int DefaultMaxInFlight { get; set; } = 10;

    /// <summary>The largest <c>maxInFlight</c> an endpoint may ask for. Default 100.</summary>
    public int MaxInFlightLimit { get; set; } = 100;

    /// <summary>
    /// Events one endpoint may have waiting for a retry. At the cap it takes no new events until retries drain,
    /// so a receiver that fails often cannot grow the hub's memory without bound. Default 10,000.
    /// </summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Webhooks:MaxPendingRetriesPerEndpoint must be at least 1.")]
    public int MaxPendingRetriesPerEndpoint { get; set; } = 10_000;

    /// <summary>Consecutive failures that open an endpoint's circuit. Default 5.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Webhooks:CircuitFailureThreshold must be at least 1.")]
    public int CircuitFailureThreshold { get; set; } = 5;

    /// <summary>How long an open circuit waits before one probe delivery. Default 30 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Webhooks:CircuitBreakDuration must be positive.")]
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An endpoint failing without a success for this long is disabled. Default 5 days.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Webhooks:DisableAfter must be positive.")]
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>How long the old secret keeps signing after a rotation. Default 24 h.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", ErrorMessage = "Webhooks:SecretRotationGrace must not be negative.")]
    public TimeSpan SecretRotationGrace { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Attempts kept in each endpoint's attempt log. Default 1,000.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Webhooks:AttemptsKeptPerEndpoint must be at least 1.")]
    public int AttemptsKeptPerEndpoint { get; set; } = 1000;

    /// <summary>Most webhook endpoints on the hub. Default 1,000.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Webhooks:MaxEndpoints must be at least 1.")]
    public int MaxEndpoints { get; set; } = 1000;

    /// <inheritdoc />
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var rules = new OptionRules();
        foreach (var network in AllowedNetworks)
        {
            var valid = true;
            try
            {
                Webhooks.WebhookNetworks.Parse(network);
            }
            catch (FormatException)
            {
                valid = false;
            }

            rules.Require(valid, $"Webhooks:AllowedNetworks entry '{network}' is not a CIDR such as 127.0.0.0/8.");
        }

        rules.Require(RetrySchedule is null || RetrySchedule.All(delay => delay > TimeSpan.Zero), "Webhooks:RetrySchedule delays must be positive.");
        rules.Require(MinRetryAfter <= MaxRetryAfter, "Webhooks:MinRetryAfter must be positive and at most Webhooks:MaxRetryAfter.");
        rules.Require(DefaultMaxInFlight <= MaxInFlightLimit, "Webhooks:DefaultMaxInFlight must be between 1 and Webhooks:MaxInFlightLimit.");
        return rules.Failures;
    }
}
