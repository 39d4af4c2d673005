namespace Switchboard.Jobs;

/// <summary>What can happen to a job. Each is decided by <see cref="JobTransitions.Apply"/> on the job as it stands.</summary>
internal abstract record JobCommand;

/// <summary>A worker takes a queued job under a new lease (the lease id is made by the caller, so the decision is pure).</summary>
internal sealed record ClaimJob(string LeaseId, string? Worker, TimeSpan LeaseDuration) : JobCommand;

/// <summary>A worker's heartbeat: the lease now lasts <paramref name="LeaseDuration"/> from now, or as long as it was claimed for.</summary>
internal sealed record RenewLease(string LeaseId, TimeSpan? LeaseDuration, TimeSpan DefaultDuration) : JobCommand;

/// <summary>A worker reports progress (null: only an output chunk, which is no state); also renews the lease.</summary>
internal sealed record ReportProgress(string LeaseId, int? Percent, TimeSpan? LeaseDuration, TimeSpan DefaultDuration) : JobCommand;

/// <summary>A worker completes the job with its result (UTF-8 JSON).</summary>
internal sealed record CompleteJob(string LeaseId, string Result) : JobCommand;

/// <summary>
/// A worker fails the attempt. A retryable failure with attempts left is queued again after <paramref name="RetryDelay"/>
/// (the caller's backoff for the attempts so far); otherwise the job fails.
/// </summary>
internal sealed record FailJob(string LeaseId, string Error, bool Retryable, TimeSpan RetryDelay) : JobCommand;

/// <summary>A client cancels the job.</summary>
internal sealed record CancelJob : JobCommand;

/// <summary>The sweep found the lease expired: the worker is gone.</summary>
internal sealed record ExpireLease : JobCommand;

/// <summary>Why a command was refused. Each has a stable code the engine turns into a typed error.</summary>
internal enum JobRefusal
{
    /// <summary>Not refused.</summary>
    None,

    /// <summary>A worker's call on a job that was canceled (<c>job-canceled</c>).</summary>
    JobCanceled,

    /// <summary>A worker's call with a lease that no longer holds the job (<c>lease-lost</c>).</summary>
    LeaseLost,

    /// <summary>A worker's call after its lease ran out: the job moves on (queued again or failed) and the call is refused (<c>lease-expired</c>).</summary>
    LeaseExpired,

    /// <summary>A cancel of a job that already succeeded or failed (<c>job-finished</c>).</summary>
    JobFinished,

    /// <summary>A claim of a job that is no longer queued (canceled, or taken by another node): nothing to start.</summary>
    NotQueued,
}

/// <summary>
/// What a command decided: the next state and the event announcing it (both null: nothing changes), or a refusal.
/// <see cref="JobRefusal.LeaseExpired"/> carries a next state too, the expiry that the late call revealed.
/// </summary>
internal readonly record struct JobStep(Job? Next, string? EventType, JobRefusal Refusal)
{
    public static JobStep Unchanged { get; } = new(null, null, JobRefusal.None);

    public static JobStep Refused(JobRefusal refusal) => new(null, null, refusal);

    public bool IsRefused => Refusal != JobRefusal.None;
}

/// <summary>
/// The job state machine, pure: <see cref="Apply"/> takes the job, a command and the time, and returns the next
/// state or a refusal. No I/O, no clock, no randomness; the queue stores, announces and shows what it decides.
/// </summary>
/// <remarks>
/// <see cref="Table"/> is the machine as data: every status a command may move a job from, and every status it may
/// move it to. <see cref="Apply"/> refuses a command from any other status, and checks its own answer against the
/// table, so the table and the code cannot drift apart. Final statuses have no rows: a finished job never changes.
/// </remarks>
internal static class JobTransitions
{
    /// <summary>The event types, one per status a change lands in (and <c>job.progress</c> for progress).</summary>
    public const string Queued = "job.queued", Running = "job.running", Progressed = "job.progress",
        Succeeded = "job.succeeded", Failed = "job.failed", Canceled = "job.canceled";

    /// <summary>One row of the machine: <paramref name="Command"/> moves a job in <paramref name="From"/> to one of <paramref name="To"/>.</summary>
    public sealed record Rule(Type Command, JobStatus From, JobStatus[] To);

    /// <summary>Every allowed transition.</summary>
    public static IReadOnlyList<Rule> Table { get; } =
    [
        new(typeof(ClaimJob), JobStatus.Queued, [JobStatus.Running]),
        new(typeof(RenewLease), JobStatus.Running, [JobStatus.Running]),
        new(typeof(ReportProgress), JobStatus.Running, [JobStatus.Running]),
        new(typeof(CompleteJob), JobStatus.Running, [JobStatus.Succeeded]),
        // Retried after a backoff while attempts remain, else failed for good.
        new(typeof(FailJob), JobStatus.Running, [JobStatus.Queued, JobStatus.Failed]),
        new(typeof(CancelJob), JobStatus.Queued, [JobStatus.Canceled]),
        new(typeof(CancelJob), JobStatus.Running, [JobStatus.Canceled]),
        // The worker vanished: back in line while attempts remain, else failed. A late worker call finds the same.
        new(typeof(ExpireLease), JobStatus.Running, [JobStatus.Queued, JobStatus.Failed]),
    ];

    /// <summary>A new job, queued and claimable from <paramref name="now"/>.</summary>
    public static Job Submit(string id, string type, string input, int maxAttempts, string? idempotencyKey, DateTimeOffset now) => new()
    {
        Id = id,
        Type = type,
        Input = input,
        MaxAttempts = maxAttempts,
        IdempotencyKey = idempotencyKey,
        CreatedAt = now,
        UpdatedAt = now,
        AvailableAt = now,
    };

    /// <summary>Decides <paramref name="command"/> on <paramref name="job"/> at <paramref name="now"/>.</summary>
    public static JobStep Apply(Job job, JobCommand command, DateTimeOffset now)
    {
        var step = Decide(job, command, now);
        // A late worker call that finds its lease expired applies the expiry, so that is the row to check it against.
        var applied = step.Refusal == JobRefusal.LeaseExpired ? typeof(ExpireLease) : command.GetType();
        if (step.Next is { } next && !Allows(applied, job.Status, next.Status))
        {
            throw new InvalidOperationException($"{command.GetType().Name} moved job {job.Id} from {job.Status} to {next.Status}, which the transition table does not allow.");
        }

        return step;
    }

    /// <summary>Whether the table has <paramref name="command"/> moving a job from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool Allows(Type command, JobStatus from, JobStatus to) =>
        Table.Any(rule => rule.Command == command && rule.From == from && rule.To.Contains(to));

    private static JobStep Decide(Job job, JobCommand command, DateTimeOffset now) => command switch
    {
        ClaimJob claim => job.Status == JobStatus.Queued
            ? Change(job with
            {
                Status = JobStatus.Running,
                Attempts = job.Attempts + 1,
                Lease = new JobLease(claim.LeaseId, now + claim.LeaseDuration, claim.Worker, claim.LeaseDuration),
                UpdatedAt = now,
                Version = job.Version + 1,
            }, Running)
            : JobStep.Refused(JobRefusal.NotQueued),

        // A heartbeat is no visible change: the version stays, and nothing is announced.
        RenewLease renew => Leased(job, renew.LeaseId, now) ?? new JobStep(job with { Lease = Renewed(job.Lease!, renew.LeaseDuration, renew.DefaultDuration, now) }, null, JobRefusal.None),

        ReportProgress progress => Leased(job, progress.LeaseId, now) ?? Progress(job, progress, now),

        CompleteJob complete => Repeated(job, complete.LeaseId, job.Status == JobStatus.Succeeded && job.Result == complete.Result)
            ?? Leased(job, complete.LeaseId, now) ?? Change(job with
        {
            Status = JobStatus.Succeeded,
            Result = complete.Result,
            Error = null,
            LastLeaseId = complete.LeaseId,
            // A job that reported progress ends at 100; one that never did stays without.
            Progress = job.Progress is null ? null : 100,
            Lease = null,
            UpdatedAt = now,
            Version = job.Version + 1,
        }, Succeeded),

        // A retry is due at the end of its backoff and takes its place in line by that time, as a job submitted then would.
        FailJob fail => Repeated(job, fail.LeaseId, job.Error == fail.Error) ?? Leased(job, fail.LeaseId, now) ?? (fail.Retryable && job.Attempts < job.MaxAttempts
            ? Change(job with { Status = JobStatus.Queued, Error = fail.Error, Lease = null, LastLeaseId = fail.LeaseId, AvailableAt = now + fail.RetryDelay, UpdatedAt = now, Version = job.Version + 1 }, Queued)
            : Change(job with { Status = JobStatus.Failed, Error = fail.Error, Lease = null, LastLeaseId = fail.LeaseId, UpdatedAt = now, Version = job.Version + 1 }, Failed)),

        CancelJob => job.Status switch
        {
            JobStatus.Queued or JobStatus.Running => Change(job with { Status = JobStatus.Canceled, Lease = null, LastLeaseId = null, UpdatedAt = now, Version = job.Version + 1 }, Canceled),
            // Canceling twice is the same as once.
            JobStatus.Canceled => JobStep.Unchanged,
            _ => JobStep.Refused(JobRefusal.JobFinished),
        },

        ExpireLease => job.Status == JobStatus.Running && job.Lease is { } lease && lease.ExpiresAt <= now ? LeaseLost(job, now) : JobStep.Unchanged,

        _ => throw new ArgumentException($"Unknown job command {command.GetType().Name}.", nameof(command)),
    };

    /// <summary>
    /// The lease extended from now by the length asked for, which it keeps for the next renewal; without one, by the
    /// length it was claimed for, so a worker that claimed ten minutes is not cut to the default by a bare heartbeat.
    /// </summary>
    private static JobLease Renewed(JobLease lease, TimeSpan? asked, TimeSpan fallback, DateTimeOffset now)
    {
        var duration = asked ?? lease.Duration ?? fallback;
        return lease with { ExpiresAt = now + duration, Duration = duration };
    }

    private static JobStep Progress(Job job, ReportProgress progress, DateTimeOffset now)
    {
        var lease = Renewed(job.Lease!, progress.LeaseDuration, progress.DefaultDuration, now);
        if (progress.Percent is null || progress.Percent == job.Progress)
        {
            // Only the lease moves: the same progress again is no visible change.
            return new JobStep(job with { Lease = lease }, null, JobRefusal.None);
        }

        return new JobStep(job with { Progress = progress.Percent, Lease = lease, UpdatedAt = now, Version = job.Version + 1 }, Progressed, JobRefusal.None);
    }

    /// <summary>
    /// Unchanged (answered with the job as it stands) when <paramref name="leaseId"/> already ended the latest attempt
    /// with the <paramref name="sameOutcome"/>: a worker's retry of a complete or fail whose answer it never received
    /// (Stripe- and Svix-like, a retried success is not a failure). Null otherwise; then another outcome with that
    /// lease is refused as <c>lease-lost</c>, as before.
    /// </summary>
    private static JobStep? Repeated(Job job, string leaseId, bool sameOutcome) =>
        job.LastLeaseId is { } last && last == leaseId && sameOutcome ? JobStep.Unchanged : null;

    /// <summary>
    /// Null when <paramref name="leaseId"/> holds the running job at <paramref name="now"/>; otherwise the refusal. An
    /// expired lease is refused with the expiry itself as the next state, so the job moves on at once instead of at the next sweep.
    /// </summary>
    private static JobStep? Leased(Job job, string leaseId, DateTimeOffset now)
    {
        if (job.Status == JobStatus.Canceled)
        {
            return JobStep.Refused(JobRefusal.JobCanceled);
        }

        if (job.Status != JobStatus.Running || job.Lease is not { } lease || lease.Id != leaseId)
        {
            return JobStep.Refused(JobRefusal.LeaseLost);
        }

        return lease.ExpiresAt <= now ? LeaseLost(job, now) with { Refusal = JobRefusal.LeaseExpired } : null;
    }

    /// <summary>
    /// A job whose worker lost its lease: back to the queue at once, or failed after its last attempt. It keeps its
    /// <see cref="Job.AvailableAt"/>, so it goes back to the place in line it was claimed from (ahead of jobs submitted
    /// after it) rather than behind the backlog: the worker vanished, the job did nothing wrong.
    /// </summary>
    private static JobStep LeaseLost(Job job, DateTimeOffset now)
    {
        var error = JobJson.Problem("lease-expired", "Lease expired", $"The worker's lease on attempt {job.Attempts} expired without a heartbeat.");
        return job.Attempts < job.MaxAttempts
            ? Change(job with { Status = JobStatus.Queued, Error = error, Lease = null, LastLeaseId = null, UpdatedAt = now, Version = job.Version + 1 }, Queued)
            : Change(job with { Status = JobStatus.Failed, Error = error, Lease = null, LastLeaseId = null, UpdatedAt = now, Version = job.Version + 1 }, Failed);
    }

    private static JobStep Change(Job next, string eventType) => new(next, eventType, JobRefusal.None);
}
