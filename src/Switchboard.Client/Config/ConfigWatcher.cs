using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Client;

/// <summary>
/// Keeps a local copy of one app's settings current by long polling the hub (<c>GET /v1/config/{app}?version=N&amp;wait=60</c>),
/// so a change arrives within a moment without polling often. Reads (<see cref="Current"/>, <see cref="IsEnabled"/>) are
/// local and never block. When the hub is unreachable the watcher keeps the last settings and retries with exponential
/// backoff and jitter, so it survives hub restarts; when a restarted hub lost the app (a memory store), it keeps the
/// last settings until the app exists again.
/// </summary>
public sealed partial class ConfigWatcher : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly ConfigWatcherOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly string _holdSeconds;
    private ConfigSnapshot _current;
    private long _pollVersion;
    private Task? _loop;
    private bool _started;
    private bool _disposed;
    private int _failures;

    /// <summary>
    /// Creates a watcher for <paramref name="app"/> on the hub at <paramref name="http"/>'s base address. Give the client a
    /// <see cref="HttpClient.Timeout"/> of at least <see cref="ConfigWatcherOptions.RequestTimeout"/> (or infinite).
    /// </summary>
    public ConfigWatcher(HttpClient http, string app, ConfigWatcherOptions? options = null, ILogger<ConfigWatcher>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentException.ThrowIfNullOrEmpty(app);
        _options = options ?? new ConfigWatcherOptions();
        _options.Validate();
        _http = http;
        App = app;
        _logger = logger ?? NullLogger<ConfigWatcher>.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _current = ConfigSnapshot.Empty(app);
        _holdSeconds = _options.Hold.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
    }

    /// <summary>The app watched.</summary>
    public string App { get; }

    /// <summary>The newest settings received; version 0 with no values before the first arrive.</summary>
    public ConfigSnapshot Current => Volatile.Read(ref _current);

    /// <summary>The version of <see cref="Current"/>.</summary>
    public long Version => Current.Version;

    /// <summary>The last poll failure, or null once a poll succeeds again.</summary>
    public Exception? LastError { get; private set; }

    /// <summary>
    /// Raised after the settings changed, on the watcher's polling task; handlers should be quick. An exception from a
    /// handler is logged and does not stop the watcher.
    /// </summary>
    public event EventHandler<ConfigChangedEventArgs>? Changed;

    /// <summary>Whether <paramref name="flag"/> is on for <paramref name="userKey"/> in the current settings.</summary>
    public bool IsEnabled(string flag, string? userKey = null, bool defaultValue = false) => Current.IsEnabled(flag, userKey, defaultValue);

    /// <summary>
    /// Fetches the settings once (so they are there when this returns, if the hub answered) and starts watching.
    /// It does not throw when the hub is down: the watcher keeps trying in the background.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        CancellationToken stopping;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started)
            {
                throw new InvalidOperationException("The watcher is already started.");
            }

            _started = true;
            stopping = _stopping.Token;
        }

        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping))
        {
            try
            {
                await PollOnceAsync(wait: false, linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
            {
                if (!stopping.IsCancellationRequested)
                {
                    Failed(ex);
                }
            }
        }

        lock (_gate)
        {
            // Disposed while the first poll ran: there is nothing left to watch for, and the source is gone.
            if (!_disposed)
            {
                _loop = Task.Run(() => RunAsync(stopping), CancellationToken.None);
            }
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (_failures > 0)
            {
                try
                {
                    await Task.Delay(Backoff(_failures), _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            try
            {
                await PollOnceAsync(wait: true, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or InvalidOperationException)
            {
                Failed(ex);
            }
        }
    }

    private async Task PollOnceAsync(bool wait, CancellationToken cancellationToken)
    {
        var path = $"{_options.PathPrefix}config/{Uri.EscapeDataString(App)}?version={_pollVersion.ToString(CultureInfo.InvariantCulture)}"
            + (wait ? "&wait=" + _holdSeconds : "");
        using var timeout = new Deadline(_options.RequestTimeout, _time, cancellationToken);
        using var response = await _http.GetAsync(path, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
        switch (response.StatusCode)
        {
            case HttpStatusCode.OK:
                var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                Apply(Parse(body));
                break;
            case HttpStatusCode.NotModified:
                break;
            case HttpStatusCode.NotFound when _pollVersion > 0:
                // The hub no longer has the app (its store was reset): keep the last settings, wait for the app to return.
                LogAppMissing(_logger, App, _pollVersion);
                _pollVersion = 0;
                break;
            default:
                throw new HttpRequestException($"The hub answered {(int)response.StatusCode} {response.ReasonPhrase}.", null, response.StatusCode);
        }

        _failures = 0;
        LastError = null;
    }

    private ConfigSnapshot Parse(byte[] body)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        // Whatever answered (the hub, or a proxy in front of it) may send another shape; that is a failed poll, retried.
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("version", out var versionElement)
            || versionElement.ValueKind != JsonValueKind.Number
            || !versionElement.TryGetInt64(out var version))
        {
            throw new JsonException("The config answer has no integer version.");
        }

        if (!root.TryGetProperty("values", out var values) || values.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("The config values are not a JSON object.");
        }

        DateTimeOffset? updatedAt = root.TryGetProperty("updatedAt", out var time) && time.TryGetDateTimeOffset(out var parsed) ? parsed : null;
        return new ConfigSnapshot(App, version, values.Clone()) { UpdatedAt = updatedAt };
    }

    private void Apply(ConfigSnapshot next)
    {
        _pollVersion = next.Version;
        var previous = Current;
        if (next.Version == previous.Version && next.Values.GetRawText() == previous.Values.GetRawText())
        {
            return;
        }

        Volatile.Write(ref _current, next);
        LogChanged(_logger, App, previous.Version, next.Version);
        var handlers = Changed;
        if (handlers is null)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList().Cast<EventHandler<ConfigChangedEventArgs>>())
        {
            try
            {
                handler(this, new ConfigChangedEventArgs(previous, next));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogHandlerFailed(_logger, ex, App);
            }
        }
    }

    private void Failed(Exception ex)
    {
        _failures++;
        LastError = ex;
        LogPollFailed(_logger, App, _failures, ex.Message);
    }

    /// <summary>Exponential from <c>MinBackoff</c>, capped at <c>MaxBackoff</c>, with jitter between half and all of it.</summary>
    private TimeSpan Backoff(int failures)
    {
        var exponential = _options.MinBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30));
        var capped = Math.Min(exponential, _options.MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>Stops watching; the last settings stay readable.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            loop = _loop;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Config {App} changed from version {Previous} to {Version}")]
    private static partial void LogChanged(ILogger logger, string app, long previous, long version);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "Config {App} poll failed ({Failures} in a row), keeping the last settings: {Reason}")]
    private static partial void LogPollFailed(ILogger logger, string app, int failures, string reason);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "Config {App} is gone from the hub (held version {Version}); keeping the last settings until it returns")]
    private static partial void LogAppMissing(ILogger logger, string app, long version);

    [LoggerMessage(EventId = 23, Level = LogLevel.Error, Message = "A Changed handler of config {App} threw")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string app);
}
