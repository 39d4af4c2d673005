using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Problems;

namespace Switchboard.Config;

/// <summary>
/// The newest version of every app in memory (loaded from the <see cref="IConfigStore"/> once), and the one path
/// by which settings change: store the version, update memory, release the held polls, publish the event.
/// </summary>
public sealed partial class ConfigService : IDisposable
{
    /// <summary>The event type of a new version on topic <c>config.{app}</c>.</summary>
    public const string ChangedEventType = "config.changed";

    /// <summary>The topic prefix of config events.</summary>
    public const string TopicPrefix = "config.";

    /// <summary>Compact output that keeps non-ASCII text as UTF-8 (control characters still escaped), as the hub writes every payload.</summary>
    internal static readonly JsonWriterOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    private readonly IConfigStore _store;

    // Set when the store commits with the log: a version and its event are then one commit.
    private readonly IConfigStoreWithEvents? _storeWithEvents;
    private readonly Switchboard.Metrics.SwitchboardMetrics? _metrics;
    private readonly Hub _hub;
    private readonly IOptionsMonitor<ConfigOptions> _options;
    private readonly ConfigWaiters _waiters;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigService> _logger;
    private readonly ConcurrentDictionary<string, ConfigVersion> _latest = new(StringComparer.Ordinal);
    // Writes are rare and each is one store commit; one at a time keeps version numbers gapless without per-app locks.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Lock _loadLock = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loaded;
    private Task? _following;

    /// <summary>
    /// Creates the service over <paramref name="store"/>; it publishes each new version through <paramref name="hub"/>
    /// (or, when the store commits with the hub's log, in the store's commit, counted as published on <paramref name="metrics"/>).
    /// </summary>
    public ConfigService(IConfigStore store, Hub hub, ConfigWaiters waiters, IOptionsMonitor<ConfigOptions> options, TimeProvider time, ILogger<ConfigService> logger,
        Switchboard.Metrics.SwitchboardMetrics? metrics = null)
    {
        _metrics = metrics;
        _store = store;
        _storeWithEvents = store is IConfigStoreWithEvents withEvents && withEvents.CommitsWith(hub.Log) ? withEvents : null;
        _hub = hub;
        _options = options;
        _waiters = waiters;
        _time = time;
        _logger = logger;
    }

    /// <summary>The long polls held on this server, released by every change this service makes or learns of.</summary>
    public ConfigWaiters Waiters => _waiters;

    /// <summary>Loads the newest versions on first use (a failed load is tried again by the next request).</summary>
    public Task EnsureLoadedAsync()
    {
        lock (_loadLock)
        {
            if (_loaded is null || _loaded.IsFaulted || _loaded.IsCanceled)
            {
                _loaded = LoadAsync();
            }

            return _loaded;
        }
    }

    private async Task LoadAsync()
    {
        // With a shared store, changes other nodes make after this point arrive as config.{app} events.
        var followFrom = _hub.Log.HeadSeq;
        foreach (var version in await _store.LoadLatestAsync().ConfigureAwait(false))
        {
            _latest[version.App] = version;
        }

        if (_store.IsShared)
        {
            _following ??= Task.Run(() => FollowOtherNodesAsync(followFrom, _stopping.Token));
        }
    }

    /// <summary>
    /// With a shared store: reads the config.{app} events every node appends and takes each newer version from the store,
    /// so a change made on another node releases the polls held here.
    /// </summary>
    private async Task FollowOtherNodesAsync(long after, CancellationToken cancellationToken)
    {
        using var tail = new Subscriptions.LogTail(_hub.Log, Topics.TopicFilter.Parse(TopicPrefix + ">"), after);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var step = await tail.NextAsync(cancellationToken).ConfigureAwait(false);
                foreach (var app in step.Events.Where(e => e.Type == ChangedEventType).Select(e => e.Topic[TopicPrefix.Length..]).Distinct(StringComparer.Ordinal))
                {
                    await RefreshAsync(app, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFollowFailed(_logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Takes the newest stored version of <paramref name="app"/> when it is newer than memory, and releases its waiters.</summary>
    private async Task RefreshAsync(string app, CancellationToken cancellationToken)
    {
        var newest = (await _store.ReadHistoryAsync(app, 1, cancellationToken).ConfigureAwait(false)).FirstOrDefault();
        if (newest is null)
        {
            return;
        }

        var taken = false;
        _latest.AddOrUpdate(app, _ => { taken = true; return newest; }, (_, current) =>
        {
            taken = newest.Version > current.Version;
            return taken ? newest : current;
        });
        if (taken)
        {
            _waiters.Changed(app);
        }
    }

    /// <summary>Stops following other nodes' changes.</summary>
    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>The newest version of <paramref name="app"/>, or null when it has none. Call after <see cref="EnsureLoadedAsync"/>.</summary>
    public ConfigVersion? Get(string app) => _latest.TryGetValue(app, out var version) ? version : null;

    /// <summary>
    /// The watches whose app is at another version than the client holds (an app with no settings is version 0), held up
    /// to <paramref name="wait"/> for one to change. Empty means nothing changed within the wait. When
    /// <paramref name="stopping"/> fires (the host shutting down) the poll answers at once with what changed so far;
    /// <paramref name="cancellationToken"/> (the client gone) cancels it. Over <c>Config:MaxHeldRequests</c> held polls it
    /// throws Unavailable (<c>too-many-waiters</c>). Call after <see cref="EnsureLoadedAsync"/>.
    /// </summary>
    public async Task<IReadOnlyList<ConfigWatch>> AwaitChangeAsync(IReadOnlyList<ConfigWatch> watches, TimeSpan wait, CancellationToken stopping,
        CancellationToken cancellationToken)
    {
        var changed = Changed(watches);
        if (changed.Count > 0 || wait <= TimeSpan.Zero)
        {
            return changed;
        }

        var deadline = _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency);
        var apps = watches.Select(w => w.App).Distinct(StringComparer.Ordinal).ToArray();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        while (true)
        {
            // Register, then check: a change between the two finds the waiter registered.
            var waiter = _waiters.Register(apps);
            try
            {
                changed = Changed(watches);
                if (changed.Count > 0)
                {
                    return changed;
                }

                var remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero)
                {
                    return changed;
                }

                await waiter.Released.WaitAsync(remaining, _time, linked.Token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return Changed(watches);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Shutting down: answer the held poll now with "nothing yet", so the client polls again elsewhere or later.
                return Changed(watches);
            }
            finally
            {
                _waiters.Unregister(waiter);
            }
        }
    }

    private List<ConfigWatch> Changed(IReadOnlyList<ConfigWatch> watches) =>
        [.. watches.Where(w => (Get(w.App)?.Version ?? 0) != w.Version)];

    /// <summary>The newest versions of <paramref name="app"/> from the store, newest first, at most <paramref name="limit"/>.</summary>
    public Task<IReadOnlyList<ConfigVersion>> HistoryAsync(string app, int limit, CancellationToken cancellationToken) =>
        _store.ReadHistoryAsync(app, limit, cancellationToken);

    /// <summary>Replaces an app's settings with <paramref name="values"/>, validated by <see cref="ConfigSettings.Canonical"/>.</summary>
    public Task<ConfigWriteResult> ReplaceAsync(string app, JsonObject values, CancellationToken cancellationToken) =>
        ReplaceAsync(app, values, null, cancellationToken);

    /// <summary>As <see cref="ReplaceAsync(string, JsonObject, CancellationToken)"/>, only while <paramref name="precondition"/> holds.</summary>
    public Task<ConfigWriteResult> ReplaceAsync(string app, JsonObject values, ConfigPrecondition? precondition, CancellationToken cancellationToken)
    {
        ConfigSettings.ValidateApp(app, _options.CurrentValue);
        var canonical = ConfigSettings.Canonical(values, _options.CurrentValue);
        return WriteAsync(app, _ => canonical, precondition, cancellationToken);
    }

    /// <summary>Applies a JSON merge patch (RFC 7396) to an app's settings; an app with none starts from <c>{}</c>.</summary>
    public Task<ConfigWriteResult> PatchAsync(string app, JsonObject patch, CancellationToken cancellationToken) =>
        PatchAsync(app, patch, null, cancellationToken);

    /// <summary>As <see cref="PatchAsync(string, JsonObject, CancellationToken)"/>, only while <paramref name="precondition"/> holds.</summary>
    public Task<ConfigWriteResult> PatchAsync(string app, JsonObject patch, ConfigPrecondition? precondition, CancellationToken cancellationToken)
    {
        ConfigSettings.ValidateApp(app, _options.CurrentValue);
        return WriteAsync(app, current =>
        {
            var target = current is null ? new JsonObject() : (JsonObject)JsonNode.Parse(current.Values)!;
            return ConfigSettings.Canonical((JsonObject)ConfigSettings.MergePatch(target, patch)!, _options.CurrentValue);
        }, precondition, cancellationToken);
    }

    /// <summary>Removes one key; <c>config-key-not-found</c> when the app has no such key.</summary>
    public Task<ConfigWriteResult> RemoveKeyAsync(string app, string key, CancellationToken cancellationToken) =>
        RemoveKeyAsync(app, key, null, cancellationToken);

    /// <summary>As <see cref="RemoveKeyAsync(string, string, CancellationToken)"/>, only while <paramref name="precondition"/> holds.</summary>
    public Task<ConfigWriteResult> RemoveKeyAsync(string app, string key, ConfigPrecondition? precondition, CancellationToken cancellationToken)
    {
        ConfigSettings.ValidateApp(app, _options.CurrentValue);
        ConfigSettings.ValidateKey(key, _options.CurrentValue);
        return WriteAsync(app, current =>
        {
            var target = current is null ? null : (JsonObject)JsonNode.Parse(current.Values)!;
            if (target is null || !target.Remove(key))
            {
                throw SwitchboardException.NotFound("config-key-not-found", "Key not found",
                    $"App '{app}' has no key '{ConfigSettings.Truncate(key)}'.");
            }

            return ConfigSettings.Canonical(target, _options.CurrentValue);
        }, precondition, cancellationToken);
    }

    /// <summary>
    /// Changes an app's settings: <paramref name="change"/> gets the current values (null for a new app) and returns the
    /// new compact JSON object. An unchanged result stores nothing and returns the current version with <c>Created = false</c>.
    /// </summary>
    public Task<ConfigWriteResult> WriteAsync(string app, Func<ConfigVersion?, byte[]> change, CancellationToken cancellationToken) =>
        WriteAsync(app, change, null, cancellationToken);

    /// <summary>
    /// As <see cref="WriteAsync(string, Func{ConfigVersion?, byte[]}, CancellationToken)"/>, only while <paramref name="precondition"/>
    /// holds for the version being replaced. It is checked after <paramref name="change"/> (whose own refusals, such as a
    /// missing key's 404, answer first, as RFC 9110 13.2.1 asks) and again on each retry after another node's write.
    /// </summary>
    public async Task<ConfigWriteResult> WriteAsync(string app, Func<ConfigVersion?, byte[]> change, ConfigPrecondition? precondition, CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        ConfigVersion next;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var current = Get(app);
                var values = change(current);
                precondition?.Check(app, current);
                if (current is not null && values.AsSpan().SequenceEqual(current.Values))
                {
                    return new ConfigWriteResult(current, Changed: false);
                }

                next = new ConfigVersion(app, (current?.Version ?? 0) + 1, values, DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds()));
                try
                {
                    // Past this point the change completes even if the client goes away, so memory never disagrees with the store.
                    // A store that commits with the log stores the event with the version: a full or unreachable store
                    // refuses both, and the caller is told (507, 503) rather than answered for a change nobody hears of.
                    if (_storeWithEvents is not null)
                    {
                        await _storeWithEvents.SaveAndAppendAsync(next, _options.CurrentValue.HistoryPerApp, [ChangedEvent(next)], CancellationToken.None)
                            .ConfigureAwait(false);
                        _metrics?.Published(1);
                    }
                    else
                    {
                        await _store.SaveAsync(next, _options.CurrentValue.HistoryPerApp, CancellationToken.None).ConfigureAwait(false);
                    }
                }
                catch (ConfigConflictException) when (attempt < 5)
                {
                    // Another node wrote this app first: apply the change (a patch) again on top of its version.
                    await RefreshAsync(app, CancellationToken.None).ConfigureAwait(false);
                    continue;
                }
                catch (ConfigConflictException)
                {
                    // Other nodes won every round: the caller's change is not stored, and trying again later is safe.
                    throw SwitchboardException.Unavailable("config-contended", "Config busy",
                        $"Other nodes changed config {app} at the same moment, six times in a row; this change was not stored. Try again.", TimeSpan.FromSeconds(1));
                }

                _latest[app] = next;
                break;
            }
        }
        finally
        {
            _writeLock.Release();
        }

        LogChanged(_logger, app, next.Version);
        _waiters.Changed(app);
        if (_storeWithEvents is null)
        {
            await PublishAsync(next).ConfigureAwait(false);
        }

        return new ConfigWriteResult(next, Changed: true);
    }

    /// <summary>The version as an event on <c>config.{app}</c>, so the generic transports can follow settings too.</summary>
    private static EventDraft ChangedEvent(ConfigVersion version) => new(TopicPrefix + version.App, ChangedEventType, Serialize(version));

    /// <summary>
    /// Appends the event of a version a store that does not commit with the log has stored. It is appended after the
    /// store commit: a crash in between loses the event, never the version (which the config endpoints serve from the store).
    /// </summary>
    private async Task PublishAsync(ConfigVersion version)
    {
        try
        {
            await _hub.PublishAsync([ChangedEvent(version)], null, null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogEventFailed(_logger, ex, version.App, version.Version);
        }
    }

    /// <summary><c>{"app", "version", "values"}</c>: the shape of a config read and of the event data.</summary>
    public static byte[] Serialize(ConfigVersion version)
    {
        var buffer = new ArrayBufferWriter<byte>(version.Values.Length + 64);
        using (var writer = new Utf8JsonWriter(buffer, CompactJson))
        {
            Write(writer, version);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes <paramref name="version"/> as <c>{"app", "version", "values", "updatedAt"}</c>.</summary>
    public static void Write(Utf8JsonWriter writer, ConfigVersion version)
    {
        writer.WriteStartObject();
        writer.WriteString("app", version.App);
        writer.WriteNumber("version", version.Version);
        writer.WritePropertyName("values");
        writer.WriteRawValue(version.Values, skipInputValidation: true);
        writer.WriteString("updatedAt", Switchboard.Events.WireTime.Format(version.CreatedAt));
        writer.WriteEndObject();
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Config {App} is now version {Version}")]
    private static partial void LogChanged(ILogger logger, string app, long version);

    [LoggerMessage(EventId = 602, Level = LogLevel.Warning, Message = "Following config changes of other nodes failed; retrying")]
    private static partial void LogFollowFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Config {App} version {Version} was stored but its config.changed event could not be appended")]
    private static partial void LogEventFailed(ILogger logger, Exception exception, string app, long version);
}

/// <summary>One app a long poll waits on, and the version the client holds (0 when it holds none).</summary>
/// <param name="App">The app name.</param>
/// <param name="Version">The version the client holds.</param>
public readonly record struct ConfigWatch(string App, long Version);

/// <summary>The version after a write, and whether the write made a new one.</summary>
/// <param name="Version">The app's newest version after the write.</param>
/// <param name="Changed">True when the write stored a new version; false when the values were unchanged.</param>
public sealed record ConfigWriteResult(ConfigVersion Version, bool Changed);
