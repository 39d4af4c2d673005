using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// The health document: <c>status</c> is <c>ok</c>, or <c>degraded</c> while the store refuses writes; <c>store</c> is
/// <c>ok</c>, <c>unavailable</c> or <c>full</c>.
/// </summary>
internal sealed record HealthResponse(string Status, string Epoch, string Cursor, string Store);

internal sealed record PresenceResponse(string Topic, IReadOnlyList<string> Members);

/// <summary>A webhook endpoint as the API shows it; <c>secret</c> only at creation and rotation.</summary>
internal sealed record WebhookEndpointResponse(
    string Id,
    string Url,
    IReadOnlyList<string> Topics,
    IReadOnlyList<string> Types,
    string? Description,
    string Mode,
    int MaxInFlight,
    WebhookRateLimitResponse? RateLimit,
    string Status,
    string? DisabledReason,
    WebhookCircuitResponse Circuit,
    string Cursor,
    WebhookCountsResponse Counts,
    DateTimeOffset? FailingSince,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Secret,
    DateTimeOffset? PreviousSecretExpiresAt);

internal sealed record WebhookRateLimitResponse(int PerSecond);

internal sealed record WebhookCircuitResponse(string State, int ConsecutiveFailures, DateTimeOffset? OpenUntil);

/// <summary>
/// Where an endpoint's events stand (<c>deliveredEvents</c>, <c>failedEvents</c>: given up, <c>pendingEvents</c>) and how
/// its HTTP attempts went (<c>succeededAttempts</c>, <c>failedAttempts</c>, the outcomes the attempt log lists).
/// <c>delivered</c>, <c>failed</c> and <c>pending</c> are the event counts under their first names, kept for older clients.
/// </summary>
internal sealed record WebhookCountsResponse(long Delivered, long Failed, long Pending, long DeliveredEvents, long FailedEvents, long PendingEvents, long SucceededAttempts, long FailedAttempts)
{
    public WebhookCountsResponse(Switchboard.Webhooks.WebhookProgress progress, long pendingEvents)
        : this(progress.Delivered, progress.Failed, pendingEvents, progress.Delivered, progress.Failed, pendingEvents, progress.SucceededAttempts, progress.FailedAttempts)
    {
    }
}

internal sealed record WebhookListResponse(IReadOnlyList<WebhookEndpointResponse> Data);

internal sealed record WebhookRecoverResponse(int Recovered, WebhookEndpointResponse Endpoint);

internal sealed record WebhookAttemptResponse(long Id, long Seq, int Attempt, DateTimeOffset Time, string Status, int? StatusCode, double LatencyMs, string? Error, string? ResponseBody);

internal sealed record WebhookAttemptListResponse(IReadOnlyList<WebhookAttemptResponse> Data);

/// <summary>Source-generated serialization for the small fixed-shape documents; events are written from cached bytes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, Converters = [typeof(WireTimeJsonConverter)])]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(PresenceResponse))]
[JsonSerializable(typeof(WebhookEndpointResponse))]
[JsonSerializable(typeof(WebhookListResponse))]
[JsonSerializable(typeof(WebhookRecoverResponse))]
[JsonSerializable(typeof(WebhookAttemptResponse))]
[JsonSerializable(typeof(WebhookAttemptListResponse))]
internal sealed partial class SwitchboardJsonContext : JsonSerializerContext
{
    /// <summary>
    /// What answers are written with: <see cref="Default"/>'s settings with the hub's relaxed escaping
    /// (<see cref="JsonWire.Compact"/>). Default escaping wrote <c>+</c> and <c>&gt;</c> as <c>\u002B</c> and <c>\u003E</c>, so a
    /// webhook secret copied from the create answer did not verify, and <c>orders.&gt;</c> read <c>orders.\u003E</c>.
    /// </summary>
    public static SwitchboardJsonContext Wire { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new WireTimeJsonConverter() },
    });
}
