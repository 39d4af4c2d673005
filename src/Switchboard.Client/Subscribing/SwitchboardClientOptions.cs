namespace Switchboard.Client;

/// <summary>A way to receive events from the hub. <see cref="SwitchboardClientOptions.Transports"/> lists them best first.</summary>
public enum SwitchboardTransport
{
    /// <summary><c>GET /v1/ws</c>, subprotocol <c>switchboard.v1</c>.</summary>
    WebSocket,

    /// <summary>Server-Sent Events, <c>GET /v1/stream</c>.</summary>
    ServerSentEvents,

    /// <summary><c>GET /v1/events?wait=</c>, held until an event matches.</summary>
    LongPolling,

    /// <summary><c>GET /v1/events</c> repeated every poll interval.</summary>
    Polling,
}

/// <summary>Settings of a <see cref="SwitchboardClient"/>.</summary>
public sealed class SwitchboardClientOptions
{
    /// <summary>The hub's base URL, for example <c>https://hub.example/</c>.</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>A fixed credential: an API key (<c>sk_…</c>) or a subscriber token. Ignored once <see cref="GetTokenAsync"/> is set.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Fetches a fresh subscriber token. Called before the first request, again <see cref="TokenRefreshBefore"/> before the
    /// current token's <c>exp</c>, and whenever the hub answers <c>token-expired</c>.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? GetTokenAsync { get; set; }

    /// <summary>How long before a token's <c>exp</c> a new one is fetched (default 30 s).</summary>
    public TimeSpan TokenRefreshBefore { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The transports a subscription may use, best first. The default (auto) is WebSocket, SSE, long polling, polling.
    /// A list with one entry forces that transport.
    /// </summary>
    public IList<SwitchboardTransport> Transports { get; } =
        [SwitchboardTransport.WebSocket, SwitchboardTransport.ServerSentEvents, SwitchboardTransport.LongPolling, SwitchboardTransport.Polling];

    /// <summary>The first reconnect delay; it doubles on each failure in a row up to <see cref="MaxReconnectDelay"/>, with full jitter.</summary>
    public TimeSpan InitialReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest reconnect delay (default 30 s). A <c>Retry-After</c> from the hub can make one delay longer.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>After falling back, how long to stay on a worse transport before trying the better one again (default 30 s; doubles on each failed try).</summary>
    public TimeSpan UpgradeRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest <see cref="UpgradeRetryDelay"/> after repeated failed tries (default 5 min).</summary>
    public TimeSpan MaxUpgradeRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a WebSocket handshake, or the first frame of a stream, may take before the transport counts as failed (default 10 s).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// An SSE stream silent for this long (no event, no heartbeat) is reconnected (default 45 s, three of the hub's 15 s heartbeats).
    /// A WebSocket pings the hub every third of it and is reconnected when no pong comes back within the rest.
    /// A stream whose first bytes (the <c>retry:</c> line) do not arrive within <see cref="ConnectTimeout"/> counts as buffered by a proxy: the client falls back.
    /// </summary>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>How long the hub holds a long poll (<c>wait=</c>, default 30 s).</summary>
    public TimeSpan LongPollWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The short polling interval; null follows the hub's <c>X-Poll-Interval</c> hint.</summary>
    public TimeSpan? PollInterval { get; set; }

    /// <summary>Timeout of one ordinary request (publish, short poll), default 30 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many times one publish is tried in all (default 5). Retries reuse the idempotency key, so an event is appended once.</summary>
    public int PublishMaxAttempts { get; set; } = 5;

    /// <summary>The largest WebSocket message or SSE line accepted (default 1 MiB); a larger one drops the connection, so nothing is buffered without bound.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>The clock for delays, timeouts and token expiry.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>Per-subscription settings for <see cref="SwitchboardClient.SubscribeAsync(IReadOnlyList{string}, SubscribeOptions, CancellationToken)"/>.</summary>
public sealed class SubscribeOptions
{
    /// <summary>A cursor, <c>earliest</c> or <c>latest</c> (the default).</summary>
    public string? After { get; set; }

    /// <summary>
    /// Called, in order with the events, when the hub could not honour the cursor (<c>cursor-expired</c>, <c>epoch-changed</c>,
    /// <c>cursor-ahead</c>): events were lost or the history changed, and the subscription continues from <see cref="HubReset.Cursor"/>.
    /// Drop state derived from earlier events here.
    /// </summary>
    public Action<HubReset>? OnReset { get; set; }

    /// <summary>Called each time a transport delivers its first frame (the subscription is connected on it).</summary>
    public Action<SwitchboardTransport>? OnConnected { get; set; }
}
