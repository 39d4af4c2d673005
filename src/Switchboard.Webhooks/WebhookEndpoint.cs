namespace Switchboard.Webhooks;

/// <summary>How an endpoint's deliveries are ordered.</summary>
public enum WebhookMode
{
    /// <summary>Up to <c>maxInFlight</c> deliveries at once; a failing event retries on its schedule while later ones go out.</summary>
    Parallel,

    /// <summary>Strict FIFO, one delivery in flight; a failing event holds back later ones until it succeeds or is given up.</summary>
    Ordered,
}

/// <summary>Whether an endpoint receives deliveries.</summary>
public enum WebhookStatus
{
    /// <summary>Deliveries flow.</summary>
    Active,

    /// <summary>Stopped by an operator; the cursor waits, and <c>enable</c> resumes from it.</summary>
    Paused,

    /// <summary>Stopped by the hub (410 Gone, or failing for too long); <c>enable</c> resumes from the cursor.</summary>
    Disabled,
}

/// <summary>
/// A webhook endpoint: a URL plus a durable subscription (filter and cursor) over the log. The configuration
/// changes through the API; <see cref="Progress"/> changes with every delivery.
/// </summary>
public sealed record WebhookEndpoint
{
    /// <summary>The id, <c>wh_</c> and random characters.</summary>
    public required string Id { get; init; }

    /// <summary>The absolute http(s) URL deliveries are POSTed to.</summary>
    public required string Url { get; init; }

    /// <summary>Topic patterns the endpoint receives.</summary>
    public required IReadOnlyList<string> Topics { get; init; }

    /// <summary>Event types the endpoint receives; empty means all.</summary>
    public IReadOnlyList<string> Types { get; init; } = [];

    public string? Description { get; init; }

    public WebhookMode Mode { get; init; } = WebhookMode.Parallel;

    /// <summary>Most deliveries in flight at once (1 in ordered mode).</summary>
    public int MaxInFlight { get; init; } = 10;

    /// <summary>Most deliveries started per second; null for no limit beyond the hub's.</summary>
    public int? RateLimitPerSecond { get; init; }

    public WebhookStatus Status { get; init; } = WebhookStatus.Active;

    /// <summary>Why the hub disabled the endpoint, when it did.</summary>
    public string? DisabledReason { get; init; }

    /// <summary>The signing secret, <c>whsec_…</c>. Never logged; shown only at creation and rotation.</summary>
    public required string Secret { get; init; }

    /// <summary>The secret before the last rotation, which keeps signing until <see cref="PreviousSecretExpiresAt"/>.</summary>
    public string? PreviousSecret { get; init; }

    public DateTimeOffset? PreviousSecretExpiresAt { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Where delivery stands; stored apart from the configuration.</summary>
    public WebhookProgress Progress { get; init; } = new(0, 0, 0, null);

    /// <summary>The secrets that sign a delivery at <paramref name="now"/>: the current one, then the previous one in its grace period.</summary>
    public IReadOnlyList<string> SigningSecrets(DateTimeOffset now) =>
        PreviousSecret is not null && PreviousSecretExpiresAt > now ? [Secret, PreviousSecret] : [Secret];
}

/// <summary>How far an endpoint has got.</summary>
/// <param name="AfterSeq">Every matching event up to here was delivered, failed for good, or has a stored pending retry.</param>
/// <param name="Delivered">Events delivered (2xx) since creation.</param>
/// <param name="Failed">Events given up after the last retry since creation.</param>
/// <param name="FailingSince">Start of the current run of failures; null after a success.</param>
/// <param name="SucceededAttempts">Delivery attempts the receiver accepted since creation (each is in the attempt log while kept).</param>
/// <param name="FailedAttempts">
/// Delivery attempts that failed since creation, retried ones included: an event delivered on its third attempt adds 2
/// here and 1 to <paramref name="Delivered"/>.
/// </param>
public sealed record WebhookProgress(long AfterSeq, long Delivered, long Failed, DateTimeOffset? FailingSince, long SucceededAttempts = 0, long FailedAttempts = 0);

/// <summary>State of an event that did not go through on its first attempt.</summary>
public enum WebhookDeliveryStatus
{
    /// <summary>Waiting for its next attempt.</summary>
    Pending,

    /// <summary>Given up after the last attempt; visible, and redelivered by <c>recover</c>.</summary>
    Failed,
}

/// <summary>An event owed to an endpoint after a failed attempt.</summary>
/// <param name="EndpointId">The endpoint.</param>
/// <param name="Seq">The event's seq in the log.</param>
/// <param name="Attempts">Attempts made so far.</param>
/// <param name="Status">Pending or failed.</param>
/// <param name="NextAttemptAt">When the next attempt is due (pending only).</param>
/// <param name="UpdatedAt">When the last attempt ended: for failed deliveries, when they were given up.</param>
/// <param name="LastError">What went wrong last.</param>
public sealed record WebhookDelivery(string EndpointId, long Seq, int Attempts, WebhookDeliveryStatus Status, DateTimeOffset NextAttemptAt, DateTimeOffset UpdatedAt, string? LastError);

/// <summary>One HTTP attempt, for the attempt log.</summary>
/// <param name="Id">Increasing id, assigned by the store (0 before).</param>
/// <param name="EndpointId">The endpoint.</param>
/// <param name="Seq">The event's seq (0 for a test ping).</param>
/// <param name="Attempt">1 for the first attempt of this event.</param>
/// <param name="Time">When the attempt started.</param>
/// <param name="Succeeded">2xx.</param>
/// <param name="StatusCode">The HTTP status, when a response came.</param>
/// <param name="LatencyMs">Time to the response or the error.</param>
/// <param name="Error">The failure, when there was one.</param>
/// <param name="ResponseBody">The first bytes of the response body (up to the configured limit), as text.</param>
public sealed record WebhookAttempt(long Id, string EndpointId, long Seq, int Attempt, DateTimeOffset Time, bool Succeeded, int? StatusCode, double LatencyMs, string? Error, string? ResponseBody);
