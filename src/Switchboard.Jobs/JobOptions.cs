using System.ComponentModel.DataAnnotations;

namespace Switchboard.Jobs;

/// <summary>Async jobs: leases, retries and limits (<c>Switchboard:Jobs</c>).</summary>
public sealed class JobOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Jobs";

    /// <summary><c>maxAttempts</c> of a job submitted without one. Default 3.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Jobs:DefaultMaxAttempts must be between 1 and Jobs:MaxAttemptsLimit.")]
    public int DefaultMaxAttempts { get; set; } = 3;

    /// <summary>The largest <c>maxAttempts</c> a job may ask for. Default 100.</summary>
    [SettingRange(1, 1000, ErrorMessage = "Jobs:MaxAttemptsLimit must be between 1 and 1000.")]
    public int MaxAttemptsLimit { get; set; } = 100;

    /// <summary>How long a claim (and each heartbeat) holds a job when the worker does not ask. Default 30 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Jobs:LeaseDuration must be positive and at most Jobs:MaxLeaseDuration.")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest lease a worker may ask for. Default 10 minutes.</summary>
    public TimeSpan MaxLeaseDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often expired leases are looked for; a crashed worker's job is back in the queue within lease + this. Default 1 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.010", "10675199.02:48:05.4775807", ErrorMessage = "Jobs:LeaseCheckInterval must be at least 10 ms.")]
    public TimeSpan LeaseCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The delay before the first retry of a retryable failure; it doubles with each attempt. Default 1 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", ErrorMessage = "Jobs:RetryBackoff must not be negative and at most Jobs:MaxRetryBackoff.")]
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between retries. Default 5 minutes.</summary>
    public TimeSpan MaxRetryBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Unfinished (queued and running) jobs the hub holds. A submit beyond it is refused with 503 and
    /// <c>Retry-After</c>, so a stalled worker fleet cannot grow the hub's memory without bound. Default 100,000.
    /// </summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Jobs:MaxUnfinishedJobs must be at least 1.")]
    public int MaxUnfinishedJobs { get; set; } = 100_000;

    /// <summary>How long finished jobs stay readable before they are deleted. Default 7 days.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Jobs:FinishedJobRetention must be positive.")]
    public TimeSpan FinishedJobRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The delay before retry <paramref name="attempts"/> (1 for the first retry).</summary>
    public TimeSpan BackoffFor(int attempts)
    {
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        var delay = TimeSpan.FromMilliseconds(Math.Min(RetryBackoff.TotalMilliseconds * factor, MaxRetryBackoff.TotalMilliseconds));
        return delay;
    }

    /// <inheritdoc />
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var rules = new OptionRules();
        rules.Require(DefaultMaxAttempts <= MaxAttemptsLimit, "Jobs:DefaultMaxAttempts must be between 1 and Jobs:MaxAttemptsLimit.");
        rules.Require(LeaseDuration <= MaxLeaseDuration, "Jobs:LeaseDuration must be positive and at most Jobs:MaxLeaseDuration.");
        rules.Require(RetryBackoff <= MaxRetryBackoff, "Jobs:RetryBackoff must not be negative and at most Jobs:MaxRetryBackoff.");
        return rules.Failures;
    }
}
