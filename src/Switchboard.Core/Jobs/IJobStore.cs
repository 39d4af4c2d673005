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
}

/// <summary>One change to stored jobs.</summary>
public abstract record JobChange;

/// <summary>Creates or replaces the job with every field.</summary>
public sealed record JobSaved(Job Job) : JobChange;

/// <summary>Removes the job.</summary>
public sealed record JobDeleted(string JobId) : JobChange;
