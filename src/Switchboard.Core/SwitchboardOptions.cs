using Microsoft.Extensions.Options;
using Switchboard.Retention;

namespace Switchboard;

/// <summary>
/// Everything an operator can tune, bound from the <c>Switchboard</c> configuration section
/// (<c>appsettings.json</c>, or environment variables such as <c>Switchboard__Limits__MaxEventBytes</c>).
/// Every default is a safe production value; <see cref="SwitchboardOptionsValidator"/> rejects nonsense at start.
/// </summary>
public sealed class SwitchboardOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Switchboard";

    /// <summary>Input limits.</summary>
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>Short and long polling.</summary>
    public PollingOptions Polling { get; set; } = new();

    /// <summary>Server-Sent Events.</summary>
    public SseOptions Sse { get; set; } = new();

    /// <summary>WebSocket connections.</summary>
    public WebSocketOptions WebSockets { get; set; } = new();

    /// <summary>How long history is kept.</summary>
    public RetentionOptions Retention { get; set; } = new();

    /// <summary>Idempotent publishing.</summary>
    public IdempotencyOptions Idempotency { get; set; } = new();

    /// <summary>Webhook delivery.</summary>
    public WebhookOptions Webhooks { get; set; } = new();

    /// <summary>Async jobs.</summary>
    public global::Switchboard.Jobs.JobOptions Jobs { get; set; } = new();

    /// <summary>Config and feature-flag sync.</summary>
    public Config.ConfigOptions Config { get; set; } = new();

    /// <summary>API keys, subscriber tokens, public topics and protected mode.</summary>
    public Auth.AuthOptions Auth { get; set; } = new();

    /// <summary>Browser origins allowed by CORS and the WebSocket Origin check.</summary>
    public Auth.CorsOptions Cors { get; set; } = new();
}

/// <summary>Explicit input limits; exceeding one is a 4xx, never a crash.</summary>
public sealed class LimitsOptions
{
    /// <summary>Largest event payload (the <c>data</c> JSON, or a single publish body), in bytes. Over it: 413. Default 64 KiB.</summary>
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>Largest batch publish body, in bytes. Over it: 413. Default 1 MiB.</summary>
    public int MaxBatchBytes { get; set; } = 1024 * 1024;

    /// <summary>Most events in one batch publish. Over it: 413. Default 1,000.</summary>
    public int MaxBatchEvents { get; set; } = 1000;

    /// <summary>Longest topic name or pattern, in characters. Default 255.</summary>
    public int MaxTopicLength { get; set; } = 255;

    /// <summary>Longest event type, in characters. Default 128.</summary>
    public int MaxTypeLength { get; set; } = 128;

    /// <summary>Most topic patterns in one subscription. Default 32.</summary>
    public int MaxPatternsPerSubscription { get; set; } = 32;

    /// <summary>Longest <c>Idempotency-Key</c>, in characters. Default 255.</summary>
    public int MaxIdempotencyKeyLength { get; set; } = 255;

    /// <summary>
    /// Long-lived connections on this server: SSE streams, WebSockets and held long polls together. A new one beyond
    /// it is refused with 503 and <c>Retry-After</c>; open ones are unaffected. Default 20,000.
    /// </summary>
    public int MaxConnections { get; set; } = 20_000;

    /// <summary>Long-lived connections from one client IP address; beyond it, 429. 0 turns the check off. Default 2,000.</summary>
    public int MaxConnectionsPerIp { get; set; } = 2000;

    /// <summary>Long-lived connections of one API key or token subject; beyond it, 429. 0 turns the check off. Default 100.</summary>
    public int MaxConnectionsPerSubject { get; set; } = 100;

    /// <summary>Held long polls of one API key or token subject; beyond it, 429. 0 turns the check off. Default 20.</summary>
    public int MaxLongPollsPerSubject { get; set; } = 20;

    /// <summary>Requests per second per API key (bursts of twice as many pass); beyond it, 429 with <c>Retry-After</c>. 0 turns it off. Default 1,000.</summary>
    public int RequestsPerSecondPerKey { get; set; } = 1000;

    /// <summary>Requests per second per token subject; beyond it, 429. 0 turns it off. Default 50.</summary>
    public int RequestsPerSecondPerSubject { get; set; } = 50;

    /// <summary>Requests per second per IP address for callers without credentials; beyond it, 429. 0 turns it off. Default 1,000.</summary>
    public int RequestsPerSecondPerIp { get; set; } = 1000;
}

/// <summary>Short and long polling.</summary>
public sealed class PollingOptions
{
    /// <summary>Events per response when the client gives no <c>limit</c>. Default 100.</summary>
    public int DefaultLimit { get; set; } = 100;

    /// <summary>The cap on <c>limit</c>. Default 1,000.</summary>
    public int MaxLimit { get; set; } = 1000;

    /// <summary>The cap on <c>wait</c> for long polls. Default 60 s.</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The <c>X-Poll-Interval</c> hint for short pollers, in seconds. Default 2.</summary>
    public int PollIntervalSeconds { get; set; } = 2;
}

/// <summary>Server-Sent Events.</summary>
public sealed class SseOptions
{
    /// <summary>How often an idle stream sends a comment, so proxies keep it open. Default 15 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The <c>retry:</c> reconnection delay sent to clients. Default 3 s.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Most events read and written per flush. Default 256.</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// When set, a stream is closed after this long and the client reconnects and resumes; lets a load
    /// balancer rebalance long-lived streams. Default: unlimited.
    /// </summary>
    public TimeSpan? MaxStreamDuration { get; set; }

    /// <summary>
    /// How long one write to a stream may wait for the client to take the bytes already sent. A merely slow reader is
    /// held, with bounded memory (the write waits for it); one that has not taken a buffer's worth in this long is cut,
    /// logged and counted, and resumes with <c>Last-Event-ID</c>. Default 30 s.
    /// </summary>
    public TimeSpan SlowClientTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// WebSocket connections. Kestrel does not limit upgraded connections, so every cap here is the hub's own.
/// </summary>
public sealed class WebSocketOptions
{
    /// <summary>Largest inbound message, in bytes. Over it the connection is closed with 1009. Default 64 KiB + 1 KiB.</summary>
    public int MaxMessageBytes { get; set; } = 65 * 1024;

    /// <summary>Inbound messages allowed per second per connection; more get an <c>error</c> with code <c>rate_limited</c>. Default 50.</summary>
    public int MaxMessagesPerSecond { get; set; } = 50;

    /// <summary>Rate-limited messages tolerated within 10 seconds before the connection is closed with 1008. Default 100.</summary>
    public int MaxRateLimitViolations { get; set; } = 100;

    /// <summary>Most subscriptions on one connection. Default 100.</summary>
    public int MaxSubscriptionsPerConnection { get; set; } = 100;

    /// <summary>Most WebSocket connections on this server; more are refused with 503 before the upgrade. Default 10,000.</summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// How long a connection may go without receiving anything before the server pings it (a WebSocket ping frame).
    /// One sweep per node sends the pings, so one may go out up to a second late. Default 15 s.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long the server waits after a ping for any frame from the peer (its pong or anything else) before
    /// dropping it as dead, and its presence with it. Default 30 s.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Origins allowed to connect besides the server's own, localhost and <c>Cors:AllowedOrigins</c>, for example
    /// <c>https://app.example.com</c>. <c>*</c> allows any. Requests without an <c>Origin</c> (non-browser clients) are always allowed.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>Topic patterns a WebSocket client may publish to. Default <c>chat.&gt;</c>.</summary>
    public List<string> Publishable { get; set; } = ["chat.>"];

    /// <summary>
    /// Events a connection may have queued for sending. Default 256. Replies (acks, errors, presence) queue
    /// behind them with their own allowance of max(64, this); a client that lets either fill is closed with 1013.
    /// </summary>
    public int SendQueueCapacity { get; set; } = 256;

    /// <summary>
    /// How long a full send queue may stay full before the client counts as too slow and is closed with 1013
    /// (with its last cursor, so it can resume). Default 10 s.
    /// </summary>
    public TimeSpan SlowClientTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a closing connection may take to get its close frame out (a client that stopped reading keeps the
    /// last send blocked) before it is dropped. Default 10 s.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most events <c>history</c> may ask for on subscribe. Default 1,000.</summary>
    public int MaxHistory { get; set; } = 1000;
}

/// <summary>Idempotent publishing.</summary>
public sealed class IdempotencyOptions
{
    /// <summary>How long an <c>Idempotency-Key</c> is remembered. Default 24 h.</summary>
    public TimeSpan KeyRetention { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>Rejects option values that cannot work, at start-up rather than at the first request.</summary>
public sealed class SwitchboardOptionsValidator : IValidateOptions<SwitchboardOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SwitchboardOptions options)
    {
        var failures = new List<string>();
        void Require(bool condition, string message)
        {
            if (!condition)
            {
                failures.Add(message);
            }
        }

        Require(options.Limits.MaxEventBytes is >= 16 and <= 16 * 1024 * 1024, "Limits:MaxEventBytes must be between 16 B and 16 MiB.");
        Require(options.Limits.MaxBatchBytes >= options.Limits.MaxEventBytes, "Limits:MaxBatchBytes must be at least Limits:MaxEventBytes.");
        Require(options.Limits.MaxBatchEvents is >= 1 and <= 100_000, "Limits:MaxBatchEvents must be between 1 and 100,000.");
        Require(options.Limits.MaxTopicLength is >= 1 and <= 1024, "Limits:MaxTopicLength must be between 1 and 1024.");
        Require(options.Limits.MaxTypeLength is >= 1 and <= 1024, "Limits:MaxTypeLength must be between 1 and 1024.");
        Require(options.Limits.MaxPatternsPerSubscription is >= 1 and <= 1024, "Limits:MaxPatternsPerSubscription must be between 1 and 1024.");
        Require(options.Limits.MaxIdempotencyKeyLength is >= 1 and <= 1024, "Limits:MaxIdempotencyKeyLength must be between 1 and 1024.");
        Require(options.Limits.MaxConnections >= 1, "Limits:MaxConnections must be at least 1.");
        Require(options.Limits.MaxConnectionsPerIp >= 0, "Limits:MaxConnectionsPerIp must not be negative.");
        Require(options.Limits.MaxConnectionsPerSubject >= 0, "Limits:MaxConnectionsPerSubject must not be negative.");
        Require(options.Limits.MaxLongPollsPerSubject >= 0, "Limits:MaxLongPollsPerSubject must not be negative.");
        Require(options.Limits.RequestsPerSecondPerKey >= 0, "Limits:RequestsPerSecondPerKey must not be negative.");
        Require(options.Limits.RequestsPerSecondPerSubject >= 0, "Limits:RequestsPerSecondPerSubject must not be negative.");
        Require(options.Limits.RequestsPerSecondPerIp >= 0, "Limits:RequestsPerSecondPerIp must not be negative.");
        Require(options.Polling.DefaultLimit >= 1 && options.Polling.DefaultLimit <= options.Polling.MaxLimit, "Polling:DefaultLimit must be between 1 and Polling:MaxLimit.");
        Require(options.Polling.MaxLimit is >= 1 and <= 10_000, "Polling:MaxLimit must be between 1 and 10,000.");
        Require(options.Polling.MaxWait > TimeSpan.Zero && options.Polling.MaxWait <= TimeSpan.FromMinutes(10), "Polling:MaxWait must be between 0 and 10 minutes.");
        Require(options.Polling.PollIntervalSeconds >= 1, "Polling:PollIntervalSeconds must be at least 1.");
        Require(options.Sse.HeartbeatInterval >= TimeSpan.FromMilliseconds(10), "Sse:HeartbeatInterval must be at least 10 ms.");
        Require(options.Sse.ReconnectDelay >= TimeSpan.Zero, "Sse:ReconnectDelay must not be negative.");
        Require(options.Sse.BatchSize is >= 1 and <= 10_000, "Sse:BatchSize must be between 1 and 10,000.");
        Require(options.Sse.MaxStreamDuration is null || options.Sse.MaxStreamDuration > TimeSpan.Zero, "Sse:MaxStreamDuration must be positive when set.");
        Require(options.Sse.SlowClientTimeout >= TimeSpan.FromMilliseconds(10) && options.Sse.SlowClientTimeout <= TimeSpan.FromDays(1), "Sse:SlowClientTimeout must be between 10 ms and 1 day.");
        var ws = options.WebSockets;
        Require(ws.MaxMessageBytes is >= 128 and <= 16 * 1024 * 1024, "WebSockets:MaxMessageBytes must be between 128 B and 16 MiB.");
        Require(ws.MaxMessagesPerSecond >= 1, "WebSockets:MaxMessagesPerSecond must be at least 1.");
        Require(ws.MaxRateLimitViolations >= 1, "WebSockets:MaxRateLimitViolations must be at least 1.");
        Require(ws.MaxSubscriptionsPerConnection >= 1, "WebSockets:MaxSubscriptionsPerConnection must be at least 1.");
        Require(ws.MaxConnections >= 1, "WebSockets:MaxConnections must be at least 1.");
        Require(ws.KeepAliveInterval > TimeSpan.Zero, "WebSockets:KeepAliveInterval must be positive.");
        Require(ws.KeepAliveTimeout > TimeSpan.Zero, "WebSockets:KeepAliveTimeout must be positive.");
        Require(ws.SendQueueCapacity >= 1, "WebSockets:SendQueueCapacity must be at least 1.");
        Require(ws.SlowClientTimeout > TimeSpan.Zero, "WebSockets:SlowClientTimeout must be positive.");
        Require(ws.CloseTimeout > TimeSpan.Zero, "WebSockets:CloseTimeout must be positive.");
        Require(ws.MaxHistory >= 0, "WebSockets:MaxHistory must not be negative.");
        foreach (var pattern in ws.Publishable)
        {
            Require(Topics.TopicPattern.TryParse(pattern, 1024, out _) is not null, $"WebSockets:Publishable entry '{pattern}' is not a valid topic pattern.");
        }

        Require(options.Retention.MaxAge is null || options.Retention.MaxAge > TimeSpan.Zero, "Retention:MaxAge must be positive when set.");
        Require(options.Retention.MaxEventsPerTopic is null or >= 1, "Retention:MaxEventsPerTopic must be at least 1 when set.");
        Require(options.Retention.TrimInterval >= TimeSpan.FromMilliseconds(10), "Retention:TrimInterval must be at least 10 ms.");
        foreach (var (prefix, rule) in options.Retention.Topics)
        {
            Require(Topics.TopicName.Validate(prefix) is null, $"Retention:Topics:{prefix} is not a valid topic prefix.");
            Require(rule.MaxAge is null || rule.MaxAge > TimeSpan.Zero, $"Retention:Topics:{prefix}:MaxAge must be positive when set.");
            Require(rule.MaxEventsPerTopic is null or >= 1, $"Retention:Topics:{prefix}:MaxEventsPerTopic must be at least 1 when set.");
        }

        Require(options.Idempotency.KeyRetention > TimeSpan.Zero, "Idempotency:KeyRetention must be positive.");
        ValidateWebhooks(options.Webhooks, Require);
        options.Jobs.Validate(Require);
        options.Config.Validate(Require);
        options.Auth.Validate(Require);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateWebhooks(WebhookOptions webhooks, Action<bool, string> require)
    {
        foreach (var network in webhooks.AllowedNetworks)
        {
            var valid = true;
            try
            {
                Webhooks.WebhookNetworks.Parse(network);
            }
            catch (FormatException)
            {
                valid = false;
            }

            require(valid, $"Webhooks:AllowedNetworks entry '{network}' is not a CIDR such as 127.0.0.0/8.");
        }

        require(webhooks.RetrySchedule is null || webhooks.RetrySchedule.All(delay => delay > TimeSpan.Zero), "Webhooks:RetrySchedule delays must be positive.");
        require(webhooks.RetryJitter is >= 0 and < 1, "Webhooks:RetryJitter must be between 0 and 1.");
        require(webhooks.RequestTimeout > TimeSpan.Zero, "Webhooks:RequestTimeout must be positive.");
        require(webhooks.MinRetryAfter > TimeSpan.Zero && webhooks.MinRetryAfter <= webhooks.MaxRetryAfter, "Webhooks:MinRetryAfter must be positive and at most Webhooks:MaxRetryAfter.");
        require(webhooks.MaxResponseBodyBytes is >= 0 and <= 64 * 1024, "Webhooks:MaxResponseBodyBytes must be between 0 and 64 KiB.");
        require(webhooks.MaxConcurrentDeliveries >= 1, "Webhooks:MaxConcurrentDeliveries must be at least 1.");
        require(webhooks.DefaultMaxInFlight >= 1 && webhooks.DefaultMaxInFlight <= webhooks.MaxInFlightLimit, "Webhooks:DefaultMaxInFlight must be between 1 and Webhooks:MaxInFlightLimit.");
        require(webhooks.MaxPendingRetriesPerEndpoint >= 1, "Webhooks:MaxPendingRetriesPerEndpoint must be at least 1.");
        require(webhooks.CircuitFailureThreshold >= 1, "Webhooks:CircuitFailureThreshold must be at least 1.");
        require(webhooks.CircuitBreakDuration > TimeSpan.Zero, "Webhooks:CircuitBreakDuration must be positive.");
        require(webhooks.DisableAfter > TimeSpan.Zero, "Webhooks:DisableAfter must be positive.");
        require(webhooks.SecretRotationGrace >= TimeSpan.Zero, "Webhooks:SecretRotationGrace must not be negative.");
        require(webhooks.AttemptsKeptPerEndpoint >= 1, "Webhooks:AttemptsKeptPerEndpoint must be at least 1.");
        require(webhooks.MaxEndpoints >= 1, "Webhooks:MaxEndpoints must be at least 1.");
    }
}

/// <summary>Webhook delivery: retries, limits, circuit breaking and SSRF protection.</summary>
public sealed class WebhookOptions
{
    /// <summary>The default retry schedule: the delays before the 2nd, 3rd, ... attempt.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    /// <summary>
    /// CIDRs webhooks may reach although they are not public (loopback, private, ...), for example <c>127.0.0.0/8</c>.
    /// Default: none, so a webhook cannot be aimed at the hub's own network.
    /// </summary>
    public List<string> AllowedNetworks { get; set; } = [];

    /// <summary>
    /// The delays between attempts; an event is given up after the last. Unset: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    /// (Unset rather than pre-filled, because configuration binding appends to a pre-filled list.)
    /// </summary>
    public List<TimeSpan>? RetrySchedule { get; set; }

    /// <summary>The schedule in force.</summary>
    public IReadOnlyList<TimeSpan> EffectiveRetrySchedule => RetrySchedule is { Count: > 0 } schedule ? schedule : DefaultRetrySchedule;

    /// <summary>Each retry delay is moved by up to this fraction either way, so failed deliveries do not return in lockstep. Default 0.2.</summary>
    public double RetryJitter { get; set; } = 0.2;

    /// <summary>Plain <c>http://</c> targets. Unset: allowed in the Development environment only; production requires https.</summary>
    public bool? AllowHttp { get; set; }

    /// <summary>How long one delivery may take, connect to last byte. Default 15 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The floor for a receiver's <c>Retry-After</c> on 429 and 503. Default 1 s.</summary>
    public TimeSpan MinRetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The ceiling for a receiver's <c>Retry-After</c>. Default 1 h.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How much of a response body is read and kept in the attempt log. Default 1 KiB.</summary>
    public int MaxResponseBodyBytes { get; set; } = 1024;

    /// <summary>Deliveries in flight across all endpoints. Default 256.</summary>
    public int MaxConcurrentDeliveries { get; set; } = 256;

    /// <summary>An endpoint's <c>maxInFlight</c> when it gives none. Default 10.</summary>
    public int DefaultMaxInFlight { get; set; } = 10;

    /// <summary>The largest <c>maxInFlight</c> an endpoint may ask for. Default 100.</summary>
    public int MaxInFlightLimit { get; set; } = 100;

    /// <summary>
    /// Events one endpoint may have waiting for a retry. At the cap it takes no new events until retries drain,
    /// so a receiver that fails often cannot grow the hub's memory without bound. Default 10,000.
    /// </summary>
    public int MaxPendingRetriesPerEndpoint { get; set; } = 10_000;

    /// <summary>Consecutive failures that open an endpoint's circuit. Default 5.</summary>
    public int CircuitFailureThreshold { get; set; } = 5;

    /// <summary>How long an open circuit waits before one probe delivery. Default 30 s.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An endpoint failing without a success for this long is disabled. Default 5 days.</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>How long the old secret keeps signing after a rotation. Default 24 h.</summary>
    public TimeSpan SecretRotationGrace { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Attempts kept in each endpoint's attempt log. Default 1,000.</summary>
    public int AttemptsKeptPerEndpoint { get; set; } = 1000;

    /// <summary>Most webhook endpoints on the hub. Default 1,000.</summary>
    public int MaxEndpoints { get; set; } = 1000;
}
