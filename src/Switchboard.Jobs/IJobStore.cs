namespace Switchboard.Jobs;

/// <summary>
/// Where jobs live. The job queue keeps unfinished jobs in memory and writes every change here before it becomes
/// visible; finished jobs are read back from the store. Changes arrive in ordered batches, applied all or none.
/// </summary>
public interface IJobStore : IAsyncDisposable
{
    /// <summary>Every queued and running job, oldest first: what the queue reloads at start.</summary>
    Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default);

    /// <summary>The job, or null.</summary>
    Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>The job submitted with this idempotency key, or null.</summary>
    Task<Job?> FindByIdempotencyKeyAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Applies the changes in order, all or none.</summary>
    Task ApplyAsync(IReadOnlyList<JobChange> changes, CancellationToken cancellationToken = default);

    /// <summary>Deletes up to <paramref name="limit"/> finished jobs last updated before <paramref name="before"/>; returns how many.</summary>
    Task<int> DeleteFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// True when several nodes share this store (Redis). Each node's queue then follows the <c>jobs.&gt;</c> events to
    /// learn other nodes' changes, and the store enforces <see cref="JobSaved.Expected"/>, so two nodes never both
    /// claim a job. A store only one process uses is the truth in that process's memory and needs neither.
    /// </summary>
    bool IsShared => false;
}

/// <summary>One change to stored jobs.</summary>
public abstract record JobChange;

/// <summary>Creates or replaces the job with every field.</summary>
public sealed record JobSaved(Job Job) : JobChange
{
    /// <summary>
    /// What the stored job must still be for the save to apply; a shared store refuses the whole batch with
    /// <see cref="JobConflictException"/> otherwise. Null saves unconditionally (and stores used by one process ignore it).
    /// </summary>
    public JobPrecondition? Expected { get; init; }
}

/// <summary>The stored state a change was decided from: its version and lease, or that the job must not exist yet.</summary>
public sealed record JobPrecondition(bool MustNotExist, long Version, string? LeaseId)
{
    /// <summary>A new job: no job with its id (or its idempotency key) may exist.</summary>
    public static JobPrecondition New { get; } = new(true, 0, null);

    /// <summary>The job must still be exactly as <paramref name="job"/> was stored.</summary>
    public static JobPrecondition Of(Job job) => new(false, job.Version, job.Lease?.Id);
}

/// <summary>Another node changed the job first; re-read it and decide again.</summary>
public sealed class JobConflictException(string jobId) : Exception($"Job {jobId} was changed by another node.")
{
    /// <summary>The job whose stored state differed from the expected one.</summary>
    public string JobId { get; } = jobId;
}

/// <summary>Removes the job.</summary>
public sealed record JobDeleted(string JobId) : JobChange;

/// <summary>
/// A job store whose commits include the event log's appends (the SQLite store in the log's file): a job change and the
/// <c>jobs.{id}</c> events that announce it are one transaction, so a change is never stored without its event, and the
/// pair costs one writer round trip.
/// </summary>
public interface IJobStoreWithEvents
{
    /// <summary>Whether this store's commits are <paramref name="log"/>'s.</summary>
    bool CommitsWith(Switchboard.Log.IEventLog log);

    /// <summary>Applies the changes and appends the events in one commit: both or neither.</summary>
    Task<Switchboard.Log.AppendResult> ApplyAndAppendAsync(IReadOnlyList<JobChange> changes, IReadOnlyList<Switchboard.Events.EventDraft> events, CancellationToken cancellationToken = default);
}
