namespace Switchboard.Config;

/// <summary>App settings in memory, for the memory store and tests: lost on restart, like the memory log.</summary>
public sealed class InMemoryConfigStore : IConfigStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<ConfigVersion>> _apps = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<IReadOnlyList<ConfigVersion>> LoadLatestAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<ConfigVersion> latest = [.. _apps.Values.Where(v => v.Count > 0).Select(v => v[^1])];
            return Task.FromResult(latest);
        }
    }

    /// <inheritdoc />
    public Task SaveAsync(ConfigVersion version, int keepHistory, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (!_apps.TryGetValue(version.App, out var versions))
            {
                _apps[version.App] = versions = [];
            }

            versions.RemoveAll(v => v.Version >= version.Version);
            versions.Add(version);
            if (versions.Count > keepHistory)
            {
                versions.RemoveRange(0, versions.Count - keepHistory);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ConfigVersion>> ReadHistoryAsync(string app, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<ConfigVersion> history = _apps.TryGetValue(app, out var versions)
                ? [.. versions.AsEnumerable().Reverse().Take(limit)]
                : [];
            return Task.FromResult(history);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
