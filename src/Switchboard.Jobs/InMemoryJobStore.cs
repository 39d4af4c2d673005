namespace Switchboard.Jobs;

/// <summary>Jobs in memory, for the memory store and tests: lost on restart, like the memory log.</summary>
public sealed class InMemoryJobStore : IJobStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _keys = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<Job> jobs = [.. _jobs.Values.Where(j => !j.IsFinished).OrderBy(j => j.CreatedAt).ThenBy(j => j.Id, StringComparer.Ordinal)];
            return Task.FromResult(jobs);
        }
    }

    /// <inheritdoc />
    public Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_jobs.GetValueOrDefault(id));
        }
    }

    /// <inheritdoc />
    public Task<Job?> FindByIdempotencyKeyAsync(string key, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_keys.TryGetValue(key, out var id) ? _jobs.GetValueOrDefault(id) : null);
        }
    }

    /// <inheritdoc />
    public Task ApplyAsync(IReadOnlyList<JobChange> changes, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            foreach (var change in changes)
            {
                switch (change)
                {
                    case JobSaved { Job: var job }:
                        _jobs[job.Id] = job;
                        if (job.IdempotencyKey is { } key)
                        {
                            _keys[key] = job.Id;
                        }

                        break;
                    case JobDeleted { JobId: var id }:
                        Remove(id);
                        break;
                    default:
                        throw new ArgumentException($"Unknown change {change.GetType().Name}.", nameof(changes));
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<int> DeleteFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var old = _jobs.Values.Where(j => j.IsFinished && j.UpdatedAt < before).OrderBy(j => j.UpdatedAt).Take(limit).Select(j => j.Id).ToList();
            foreach (var id in old)
            {
                Remove(id);
            }

            return Task.FromResult(old.Count);
        }
    }

    private void Remove(string id)
    {
        if (_jobs.Remove(id, out var job) && job.IdempotencyKey is { } key)
        {
            _keys.Remove(key);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
