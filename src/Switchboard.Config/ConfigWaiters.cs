using Microsoft.Extensions.Options;
using Switchboard.Problems;

namespace Switchboard.Config;

/// <summary>
/// The config long polls held on this server, by app, and the release queue that answers them in batches.
/// A change moves every poll waiting on its app to the queue; one drain loop completes the first
/// <c>ReleaseBatchSize</c> at once and the next batch every <c>ReleaseInterval</c>, so a change seen by thousands of
/// clients spreads their answers (and their next requests) over a few hundred milliseconds instead of one burst.
/// </summary>
public sealed class ConfigWaiters
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HashSet<ConfigWaiter>> _byApp = new(StringComparer.Ordinal);
    private readonly Queue<ConfigWaiter> _releasing = new();
    private readonly IOptionsMonitor<ConfigOptions> _options;
    private readonly TimeProvider _time;
    private int _held;
    private bool _draining;
    private long _batches;
    private long _released;

    /// <summary>Creates the registry; limits and release pacing are read from <c>Switchboard:Config</c> on every use.</summary>
    public ConfigWaiters(IOptionsMonitor<ConfigOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
    }

    /// <summary>Polls held now.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Release batches run since start.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Held polls released by changes since start.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>
    /// Registers a poll on <paramref name="apps"/>. Register before checking the current versions: a change landing
    /// between the check and the wait then finds the waiter and releases it. Over the cap it is Unavailable (<c>too-many-waiters</c>).
    /// </summary>
    public ConfigWaiter Register(IReadOnlyList<string> apps)
    {
        var waiter = new ConfigWaiter(apps);
        lock (_lock)
        {
            var max = _options.CurrentValue.MaxHeldRequests;
            if (_held >= max)
            {
                throw SwitchboardException.Unavailable("too-many-waiters", "Too many held requests",
                    $"This server holds its limit of {max} config long polls. Retry shortly.", TimeSpan.FromSeconds(1));
            }

            _held++;
            foreach (var app in apps)
            {
                if (!_byApp.TryGetValue(app, out var set))
                {
                    _byApp[app] = set = [];
                }

                set.Add(waiter);
            }
        }

        return waiter;
    }

    /// <summary>Forgets a poll that answered (released, timed out or aborted). Always called once per registration.</summary>
    public void Unregister(ConfigWaiter waiter)
    {
        lock (_lock)
        {
            _held--;
            if (!waiter.Queued)
            {
                RemoveFromApps(waiter, except: null);
            }
        }
    }

    /// <summary>Queues every poll waiting on <paramref name="app"/> for release.</summary>
    public void Changed(string app)
    {
        var start = false;
        lock (_lock)
        {
            if (!_byApp.Remove(app, out var set))
            {
                return;
            }

            foreach (var waiter in set)
            {
                waiter.Queued = true;
                RemoveFromApps(waiter, except: app);
                _releasing.Enqueue(waiter);
            }

            if (!_draining && _releasing.Count > 0)
            {
                _draining = true;
                start = true;
            }
        }

        if (start)
        {
            _ = Task.Run(DrainAsync);
        }
    }

    private void RemoveFromApps(ConfigWaiter waiter, string? except)
    {
        foreach (var app in waiter.Apps)
        {
            if (app != except && _byApp.TryGetValue(app, out var set) && set.Remove(waiter) && set.Count == 0)
            {
                _byApp.Remove(app);
            }
        }
    }

    private async Task DrainAsync()
    {
        var batch = new List<ConfigWaiter>();
        while (true)
        {
            var options = _options.CurrentValue;
            batch.Clear();
            lock (_lock)
            {
                while (batch.Count < options.ReleaseBatchSize && _releasing.TryDequeue(out var waiter))
                {
                    batch.Add(waiter);
                }
            }

            foreach (var waiter in batch)
            {
                waiter.Release();
            }

            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _released, batch.Count);
            lock (_lock)
            {
                if (_releasing.Count == 0)
                {
                    _draining = false;
                    return;
                }
            }

            if (options.ReleaseInterval > TimeSpan.Zero)
            {
                await Task.Delay(options.ReleaseInterval, _time).ConfigureAwait(false);
            }
            else
            {
                await Task.Yield();
            }
        }
    }
}

/// <summary>One held config poll: completes when a change to one of its apps reaches it in the release queue.</summary>
public sealed class ConfigWaiter
{
    // Continuations run on the pool, so the drain loop only flips completions and never writes a response itself.
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal ConfigWaiter(IReadOnlyList<string> apps) => Apps = apps;

    /// <summary>The apps this poll waits on.</summary>
    public IReadOnlyList<string> Apps { get; }

    /// <summary>Moved to the release queue; guarded by the registry's lock.</summary>
    internal bool Queued { get; set; }

    /// <summary>Completes when a change to one of <see cref="Apps"/> releases this poll.</summary>
    public Task Released => _released.Task;

    internal void Release() => _released.TrySetResult();
}
