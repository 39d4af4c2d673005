using System.ComponentModel.DataAnnotations;
using Switchboard.Retention;

namespace Switchboard;

/// <summary>Explicit input limits; exceeding one is a 4xx, never a crash.</summary>
public sealed class LimitsOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Limits";

    /// <summary>Largest event payload (the <c>data</c> JSON, or a single publish body), in bytes. Over it: 413. Default 64 KiB.</summary>
    [SettingRange(16, 16 * 1024 * 1024, ErrorMessage = "Limits:MaxEventBytes must be between 16 B and 16 MiB.")]
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>Largest batch publish body, in bytes. Over it: 413. Default 1 MiB.</summary>
    public int MaxBatchBytes { get; set; } = 1024 * 1024;

    /// <summary>Most events in one batch publish. Over it: 413. Default 1,000.</summary>
    [SettingRange(1, 100_000, ErrorMessage = "Limits:MaxBatchEvents must be between 1 and 100,000.")]
    public int MaxBatchEvents { get; set; } = 1000;

    /// <summary>Longest topic name or pattern, in characters. Default 255.</summary>
    [SettingRange(1, 1024, ErrorMessage = "Limits:MaxTopicLength must be between 1 and 1024.")]
    public int MaxTopicLength { get; set; } = 255;

    /// <summary>Longest event type, in characters. Default 128.</summary>
    [SettingRange(1, 1024, ErrorMessage = "Limits:MaxTypeLength must be between 1 and 1024.")]
    public int MaxTypeLength { get; set; } = 128;

    /// <summary>Most topic patterns in one subscription. Default 32.</summary>
    [SettingRange(1, 1024, ErrorMessage = "Limits:MaxPatternsPerSubscription must be between 1 and 1024.")]
    public int MaxPatternsPerSubscription { get; set; } = 32;

    /// <summary>Longest <c>Idempotency-Key</c>, in characters. Default 255.</summary>
    [SettingRange(1, 1024, ErrorMessage = "Limits:MaxIdempotencyKeyLength must be between 1 and 1024.")]
    public int MaxIdempotencyKeyLength { get; set; } = 255;

    /// <summary>
    /// Long-lived connections on this server: SSE streams, WebSockets and held long polls together. A new one beyond
    /// it is refused with 503 and <c>Retry-After</c>; open ones are unaffected. Default 20,000.
    /// </summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Limits:MaxConnections must be at least 1.")]
    public int MaxConnections { get; set; } = 20_000;

    /// <summary>Long-lived connections from one client IP address; beyond it, 429. 0 turns the check off. Default 2,000.</summary>
    [SettingRange(0, int.MaxValue, ErrorMessage = "Limits:MaxConnectionsPerIp must not be negative.")]
    public int MaxConnectionsPerIp { get; set; } = 2000;

    /// <summary>Long-lived connections of one API key or token subject; beyond it, 429. 0 turns the check off. Default 100.</summary>
    [SettingRange(0, int.MaxValue, ErrorMessage = "Limits:MaxConnectionsPerSubject must not be negative.")]
    public int MaxConnectionsPerSubject { get; set; } = 100;

    /// <summary>Held long polls of one API key or token subject; beyond it, 429. 0 turns the check off. Default 20.</summary>
    [SettingRange(0, int.MaxValue, ErrorMessage = "Limits:MaxLongPollsPerSubject must not be negative.")]
    public int MaxLongPollsPerSubject { get; set; } = 20;

    /// <summary>Requests per second per API key (bursts of twice as many pass); beyond it, 429 with <c>Retry-After</c>. 0 turns it off. Default 1,000.</summary>
    [SettingRange(0, int.MaxValue, ErrorMessage = "Limits:RequestsPerSecondPerKey must not be negative.")]
    public int RequestsPerSecondPerKey { get; set; } = 1000;

    /// <summary>Requests per second per token subject; beyond it, 429. 0 turns it off. Default 50.</summary>
    [SettingRange(0, int.MaxValue, ErrorMessage = "Limits:RequestsPerSecondPerSubject must not be negative.")]
    public int RequestsPerSecondPerSubject { get; set; } = 50;

    /// <summary>Requests per second per IP address for callers without credentials; beyond it, 429. 0 turns it off. Default 1,000.</summary>
    [SettingRange(0, int.MaxValue, ErrorMessage = "Limits:RequestsPerSecondPerIp must not be negative.")]
    public int RequestsPerSecondPerIp { get; set; } = 1000;

    /// <inheritdoc />
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var rules = new OptionRules();
        rules.Require(MaxBatchBytes >= MaxEventBytes, "Limits:MaxBatchBytes must be at least Limits:MaxEventBytes.");
        return rules.Failures;
    }
}

/// <summary>Short and long polling.</summary>
public sealed class PollingOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Polling";

    /// <summary>Events per response when the client gives no <c>limit</c>. Default 100.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Polling:DefaultLimit must be between 1 and Polling:MaxLimit.")]
    public int DefaultLimit { get; set; } = 100;

    /// <summary>The cap on <c>limit</c>. Default 1,000.</summary>
    [SettingRange(1, 10_000, ErrorMessage = "Polling:MaxLimit must be between 1 and 10,000.")]
    public int MaxLimit { get; set; } = 1000;

    /// <summary>The cap on <c>wait</c> for long polls. Default 60 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "00:10:00", ErrorMessage = "Polling:MaxWait must be between 0 and 10 minutes.")]
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The <c>X-Poll-Interval</c> hint for short pollers, in seconds. Default 2.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Polling:PollIntervalSeconds must be at least 1.")]
    public int PollIntervalSeconds { get; set; } = 2;

    /// <inheritdoc />
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var rules = new OptionRules();
        rules.Require(DefaultLimit <= MaxLimit, "Polling:DefaultLimit must be between 1 and Polling:MaxLimit.");
        return rules.Failures;
    }
}

/// <summary>Server-Sent Events.</summary>
public sealed class SseOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Sse";

    /// <summary>How often an idle stream sends a comment, so proxies keep it open. Default 15 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.010", "10675199.02:48:05.4775807", ErrorMessage = "Sse:HeartbeatInterval must be at least 10 ms.")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The <c>retry:</c> reconnection delay sent to clients. Default 3 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", ErrorMessage = "Sse:ReconnectDelay must not be negative.")]
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Most events read and written per flush. Default 256.</summary>
    [SettingRange(1, 10_000, ErrorMessage = "Sse:BatchSize must be between 1 and 10,000.")]
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// When set, a stream is closed after this long and the client reconnects and resumes; lets a load
    /// balancer rebalance long-lived streams. Default: unlimited.
    /// </summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Sse:MaxStreamDuration must be positive when set.")]
    public TimeSpan? MaxStreamDuration { get; set; }

    /// <summary>
    /// How long one write to a stream may wait for the client to take the bytes already sent. A merely slow reader is
    /// held, with bounded memory (the write waits for it); one that has not taken a buffer's worth in this long is cut,
    /// logged and counted, and resumes with <c>Last-Event-ID</c>. Default 30 s.
    /// </summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.010", "1.00:00:00", ErrorMessage = "Sse:SlowClientTimeout must be between 10 ms and 1 day.")]
    public TimeSpan SlowClientTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// WebSocket connections. Kestrel does not limit upgraded connections, so every cap here is the hub's own.
/// </summary>
public sealed class WebSocketOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:WebSockets";

    /// <summary>Largest inbound message, in bytes. Over it the connection is closed with 1009. Default 64 KiB + 1 KiB.</summary>
    [SettingRange(128, 16 * 1024 * 1024, ErrorMessage = "WebSockets:MaxMessageBytes must be between 128 B and 16 MiB.")]
    public int MaxMessageBytes { get; set; } = 65 * 1024;

    /// <summary>Inbound messages allowed per second per connection; more get an <c>error</c> with code <c>rate_limited</c>. Default 50.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "WebSockets:MaxMessagesPerSecond must be at least 1.")]
    public int MaxMessagesPerSecond { get; set; } = 50;

    /// <summary>Rate-limited messages tolerated within 10 seconds before the connection is closed with 1008. Default 100.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "WebSockets:MaxRateLimitViolations must be at least 1.")]
    public int MaxRateLimitViolations { get; set; } = 100;

    /// <summary>Most subscriptions on one connection. Default 100.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "WebSockets:MaxSubscriptionsPerConnection must be at least 1.")]
    public int MaxSubscriptionsPerConnection { get; set; } = 100;

    /// <summary>Most WebSocket connections on this server; more are refused with 503 before the upgrade. Default 10,000.</summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "WebSockets:MaxConnections must be at least 1.")]
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// How long a connection may go without receiving anything before the server pings it (a WebSocket ping frame).
    /// One sweep per node sends the pings, so one may go out up to a second late. Default 15 s.
    /// </summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "WebSockets:KeepAliveInterval must be positive.")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long the server waits after a ping for any frame from the peer (its pong or anything else) before
    /// dropping it as dead, and its presence with it. Default 30 s.
    /// </summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "WebSockets:KeepAliveTimeout must be positive.")]
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
    [SettingRange(1, int.MaxValue, ErrorMessage = "WebSockets:SendQueueCapacity must be at least 1.")]
    public int SendQueueCapacity { get; set; } = 256;

    /// <summary>
    /// How long a full send queue may stay full before the client counts as too slow and is closed with 1013
    /// (with its last cursor, so it can resume). Default 10 s.
    /// </summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "WebSockets:SlowClientTimeout must be positive.")]
    public TimeSpan SlowClientTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a closing connection may take to get its close frame out (a client that stopped reading keeps the
    /// last send blocked) before it is dropped. Default 10 s.
    /// </summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "WebSockets:CloseTimeout must be positive.")]
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most events <c>history</c> may ask for on subscribe. Default 1,000.</summary>
    [SettingRange(0, int.MaxValue, ErrorMessage = "WebSockets:MaxHistory must not be negative.")]
    public int MaxHistory { get; set; } = 1000;

    /// <inheritdoc />
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        var rules = new OptionRules();
        foreach (var pattern in Publishable)
        {
            rules.Require(Topics.TopicPattern.TryParse(pattern, 1024, out _) is not null, $"WebSockets:Publishable entry '{pattern}' is not a valid topic pattern.");
        }

        return rules.Failures;
    }
}

/// <summary>Idempotent publishing.</summary>
public sealed class IdempotencyOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Idempotency";

    /// <summary>How long an <c>Idempotency-Key</c> is remembered. Default 24 h.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.0000001", "10675199.02:48:05.4775807", ErrorMessage = "Idempotency:KeyRetention must be positive.")]
    public TimeSpan KeyRetention { get; set; } = TimeSpan.FromHours(24);
}
