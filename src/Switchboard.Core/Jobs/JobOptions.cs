namespace Switchboard.Jobs;

/// <summary>Async jobs: leases, retries and limits (<c>Switchboard:Jobs</c>).</summary>
public sealed class JobOptions
{
    /// <summary><c>maxAttempts</c> of a job submitted without one. Default 3.</summary>
    public int DefaultMaxAttempts { get; set; } = 3;

    /// <summary>The largest <c>maxAttempts</c> a job may ask for. Default 100.</summary>
    public int MaxAttemptsLimit { get; set; } = 100;

    /// <summary>How long a claim (and each heartbeat) holds a job when the worker does not ask. Default 30 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest lease a worker may ask for. Default 10 minutes.</summary>
    public TimeSpan MaxLeaseDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often expired leases are looked for; a crashed worker's job is back in the queue within lease + this. Default 1 s.</summary>
    public TimeSpan LeaseCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The delay before the first retry of a retryable failure; it doubles with each attempt. Default 1 s.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between retries. Default 5 minutes.</summary>
    public TimeSpan MaxRetryBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Unfinished (queued and running) jobs the hub holds. A submit beyond it is refused with 503 and
    /// <c>Retry-After</c>, so a stalled worker fleet cannot grow the hub's memory without bound. Default 100,000.
    /// </summary>
    public int MaxUnfinishedJobs { get; set; } = 100_000;

    /// <summary>How long finished jobs stay readable before they are deleted. Default 7 days.</summary>
    public TimeSpan FinishedJobRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The delay before retry <paramref name="attempts"/> (1 for the first retry).</summary>
    public TimeSpan BackoffFor(int attempts)
    {
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        var delay = TimeSpan.FromMilliseconds(Math.Min(RetryBackoff.TotalMilliseconds * factor, MaxRetryBackoff.TotalMilliseconds));
        return delay;
    }

    internal void Validate(Action<bool, string> require)
    {
        require(DefaultMaxAttempts >= 1 && DefaultMaxAttempts <= MaxAttemptsLimit, "Jobs:DefaultMaxAttempts must be between 1 and Jobs:MaxAttemptsLimit.");
        require(MaxAttemptsLimit is >= 1 and <= 1000, "Jobs:MaxAttemptsLimit must be between 1 and 1000.");
        require(LeaseDuration > TimeSpan.Zero && LeaseDuration <= MaxLeaseDuration, "Jobs:LeaseDuration must be positive and at most Jobs:MaxLeaseDuration.");
        require(LeaseCheckInterval >= TimeSpan.FromMilliseconds(10), "Jobs:LeaseCheckInterval must be at least 10 ms.");
        require(RetryBackoff >= TimeSpan.Zero && RetryBackoff <= MaxRetryBackoff, "Jobs:RetryBackoff must not be negative and at most Jobs:MaxRetryBackoff.");
        require(MaxUnfinishedJobs >= 1, "Jobs:MaxUnfinishedJobs must be at least 1.");
        require(FinishedJobRetention > TimeSpan.Zero, "Jobs:FinishedJobRetention must be positive.");
    }
}
