namespace Switchboard.Config;

/// <summary>
/// Where app settings and their history live. It keeps the newest version of every app for as long as the app exists,
/// whatever log retention does to the <c>config.{app}</c> topics: the store, not the log, is the truth for config reads.
/// Writes come from one writer at a time (the config service serializes them).
/// </summary>
public interface IConfigStore : IAsyncDisposable
{
    /// <summary>The newest version of every app, read once at start.</summary>
    Task<IReadOnlyList<ConfigVersion>> LoadLatestAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores a new version and keeps only the newest <paramref name="keepHistory"/> versions of its app.</summary>
    Task SaveAsync(ConfigVersion version, int keepHistory, CancellationToken cancellationToken = default);

    /// <summary>The newest versions of an app, newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<ConfigVersion>> ReadHistoryAsync(string app, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// True when several nodes share this store (Redis). Writes then come from several writers: the store refuses a
    /// version that is not the next one with <see cref="ConfigConflictException"/>, and each node follows the
    /// <c>config.&gt;</c> events to learn other nodes' changes and release its held polls.
    /// </summary>
    bool IsShared => false;
}

/// <summary>Another node stored a version of the app first; re-read the newest and decide again.</summary>
public sealed class ConfigConflictException(string app) : Exception($"Config {app} was changed by another node.")
{
    /// <summary>The app whose newest version moved.</summary>
    public string App { get; } = app;
}

/// <summary>
/// A config store whose commits include the event log's appends (Redis, whose group commit carries the save): a new
/// version and the <c>config.changed</c> event that announces it are stored together or not at all, so a version a
/// writer was told is stored is always one its watchers on the log are told of.
/// </summary>
public interface IConfigStoreWithEvents
{
    /// <summary>Whether this store's commits are <paramref name="log"/>'s.</summary>
    bool CommitsWith(Switchboard.Log.IEventLog log);

    /// <summary>
    /// Stores the version (as <see cref="IConfigStore.SaveAsync"/>) and appends the events in one commit: both or neither.
    /// A version that is not the next one throws <see cref="ConfigConflictException"/> and appends nothing.
    /// </summary>
    Task<Switchboard.Log.AppendResult> SaveAndAppendAsync(ConfigVersion version, int keepHistory, IReadOnlyList<Switchboard.Events.EventDraft> events,
        CancellationToken cancellationToken = default);
}
