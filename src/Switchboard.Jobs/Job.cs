namespace Switchboard.Jobs;

/// <summary>Where a job stands. <see cref="Succeeded"/>, <see cref="Failed"/> and <see cref="Canceled"/> are final.</summary>
public enum JobStatus
{
    /// <summary>Waiting for a worker (new, retried after a failure, or back after a lost lease).</summary>
    Queued,

    /// <summary>Claimed by a worker that holds a lease.</summary>
    Running,

    /// <summary>Completed with a result.</summary>
    Succeeded,

    /// <summary>Failed for good: a permanent failure, or the last attempt failed.</summary>
    Failed,

    /// <summary>Canceled by a client before it finished.</summary>
    Canceled,
}

/// <summary>
/// A unit of background work: submitted over HTTP, claimed by one worker at a time under a lease, and followed
/// through its status and its events on topic <c>jobs.{id}</c>.
/// </summary>
public sealed record Job
{
    /// <summary>The id: <c>job_</c>, the submit time in base 36, then random characters (see docs/jobs.md); also the last segment of its topic.</summary>
    public required string Id { get; init; }

    /// <summary>The queue the job waits in, which workers claim from.</summary>
    public required string Type { get; init; }

    public JobStatus Status { get; init; } = JobStatus.Queued;

    /// <summary>0 to 100, as last reported by the worker.</summary>
    public int? Progress { get; init; }

    /// <summary>The worker's input as UTF-8 JSON.</summary>
    public required string Input { get; init; }

    /// <summary>The result as UTF-8 JSON, once succeeded.</summary>
    public string? Result { get; init; }

    /// <summary>The failure as problem details JSON, once failed (or the last retryable failure while queued again).</summary>
    public string? Error { get; init; }

    /// <summary>Attempts started (claims) so far.</summary>
    public int Attempts { get; init; }

    /// <summary>Attempts allowed before a retryable failure or a lost lease fails the job for good.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>The client's key; a second submit with the same key returns this job.</summary>
    public string? IdempotencyKey { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the status, progress, result or error last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// When the job can be claimed, and its place in line: the submit time, or the due time of a retry after a backoff.
    /// A lost lease keeps it. Queued jobs are claimed in order of this time, then of <see cref="CreatedAt"/>.
    /// </summary>
    public DateTimeOffset AvailableAt { get; init; }

    /// <summary>Increases with every visible change; the <c>ETag</c> of the job resource.</summary>
    public long Version { get; init; } = 1;

    /// <summary>The current lease while running.</summary>
    public JobLease? Lease { get; init; }

    /// <summary>
    /// The lease whose complete or fail ended the latest attempt (null after a lease that expired). A worker's network
    /// retry of that call, with the same outcome, is answered with the job as it stands rather than <c>lease-lost</c>.
    /// </summary>
    public string? LastLeaseId { get; init; }

    /// <summary>True for succeeded, failed and canceled.</summary>
    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled;
}

/// <summary>A worker's exclusive right to run a job until <paramref name="ExpiresAt"/>, renewed by heartbeats.</summary>
/// <param name="Id">The lease id the worker sends with every call.</param>
/// <param name="ExpiresAt">When the job returns to the queue unless renewed.</param>
/// <param name="Worker">The worker's self-reported name, for operators.</param>
/// <param name="Duration">
/// The length the worker last asked for (at the claim, or with <c>leaseSeconds</c> on a renewal); a renewal that names
/// none extends by it again. Null for a lease stored by a version that did not keep it.
/// </param>
public sealed record JobLease(string Id, DateTimeOffset ExpiresAt, string? Worker, TimeSpan? Duration = null);
