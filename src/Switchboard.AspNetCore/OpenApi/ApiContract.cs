using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.AspNetCore.OpenApi;

// The shapes of the HTTP API as the OpenAPI document shows them, for the bodies no DTO reads or writes. The endpoints
// write their answers with Utf8JsonWriter (events from cached bytes), so these records describe the wire rather than
// serialize it; OpenApiContractTests checks real answers against the published schemas, so the two cannot drift apart
// unnoticed. The request bodies of webhooks and keys are described by the DTOs that read them (WebhookRequests.cs,
// KeyRequests.cs).

/// <summary>An event as every read and publish answer shows it.</summary>
/// <param name="Seq">Its position in the log, strictly increasing across all topics.</param>
/// <param name="Topic">The topic it was published to.</param>
/// <param name="Type">Its type; <c>message</c> when the publisher gave none.</param>
/// <param name="Time">When the hub appended it (UTC).</param>
/// <param name="Data">The payload, any JSON value, as published (minified).</param>
internal sealed record EventContract(long Seq, string Topic, string Type, DateTimeOffset Time, JsonElement Data);

/// <summary>One event to publish on the topic in the path.</summary>
/// <param name="Type">The event type, such as <c>order.created</c>; defaults to <c>message</c>.</param>
/// <param name="Data">The payload: any JSON value.</param>
internal sealed record PublishContract(string? Type, JsonElement? Data);

/// <summary>One event of a batch.</summary>
/// <param name="Topic">The topic to publish to.</param>
/// <param name="Type">The event type; defaults to <c>message</c>.</param>
/// <param name="Data">The payload: any JSON value.</param>
internal sealed record BatchItemContract(string Topic, string? Type, JsonElement? Data);

/// <summary>The events a batch appended, in order.</summary>
internal sealed record BatchContract(IReadOnlyList<EventContract> Events);

/// <summary>A poll's answer.</summary>
/// <param name="Events">The events after the cursor, oldest first (empty when a long poll timed out).</param>
/// <param name="Cursor">Pass it back as <c>after</c> on the next poll, on any transport.</param>
internal sealed record PollContract(IReadOnlyList<EventContract> Events, string Cursor);

/// <summary>Problem details (RFC 9457) with the hub's stable machine-readable <c>code</c>.</summary>
/// <param name="Type">A URN naming the problem: <c>urn:switchboard:problem:{code}</c>.</param>
/// <param name="Title">A short human summary.</param>
/// <param name="Status">The HTTP status.</param>
/// <param name="Detail">What went wrong and what to do about it.</param>
/// <param name="Code">The stable code to branch on, such as <c>invalid-cursor</c>, <c>store-full</c> or <c>rate-limited</c>; docs/protocol.md lists them.</param>
/// <param name="Instance">The request path.</param>
/// <param name="Cursor">On 410 <c>cursor-expired</c> / <c>epoch-changed</c>: the cursor to restart from.</param>
internal sealed record ProblemContract(
    string Type,
    string Title,
    int Status,
    string? Detail,
    string Code,
    string? Instance,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Cursor);

/// <summary>A job's state.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobStatusContract>))]
internal enum JobStatusContract
{
    [JsonStringEnumMemberName("queued")] Queued,
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("succeeded")] Succeeded,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("canceled")] Canceled,
}

/// <summary>A job.</summary>
/// <param name="Id">The job's id; its events are on topic <c>jobs.{id}</c>.</param>
/// <param name="Type">The queue it is on.</param>
/// <param name="Status">Where it stands.</param>
/// <param name="Progress">The last percentage a worker reported, if any.</param>
/// <param name="CreatedAt">When it was submitted.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="Attempts">Attempts started so far.</param>
/// <param name="MaxAttempts">Attempts allowed before it fails for good.</param>
/// <param name="Input">The submitted input (only in a claim's answer).</param>
/// <param name="Result">The result, once succeeded.</param>
/// <param name="Error">The failure as problem details, once failed.</param>
internal sealed record JobContract(
    string Id,
    string Type,
    JobStatusContract Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Progress,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int Attempts,
    int MaxAttempts,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Input,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Result,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Error);

/// <summary>A job to submit.</summary>
/// <param name="Type">The queue: letters, digits, '-', '_' and '.'.</param>
/// <param name="Input">Any JSON value the worker needs.</param>
/// <param name="IdempotencyKey">The same as the Idempotency-Key header: a retried submit returns the first job.</param>
/// <param name="MaxAttempts">Attempts allowed; the hub's default when absent.</param>
internal sealed record SubmitJobContract(string Type, JsonElement? Input, string? IdempotencyKey, int? MaxAttempts);

/// <summary>A claim on a queue.</summary>
/// <param name="Worker">A name for the worker, shown in the job's events.</param>
/// <param name="LeaseSeconds">How long the lease lasts before the job is requeued.</param>
/// <param name="Complete">The job this worker just finished: it is completed first, and the claim follows only once that is stored.</param>
internal sealed record ClaimContract(string? Worker, double? LeaseSeconds, ClaimCompleteContract? Complete);

/// <summary>The job a claim completes first, as <c>POST /v1/jobs/{id}/complete</c> would.</summary>
/// <param name="Id">The finished job's id.</param>
/// <param name="LeaseId">Its lease.</param>
/// <param name="Result">Its result; JSON null when absent.</param>
internal sealed record ClaimCompleteContract(string Id, string LeaseId, JsonElement? Result);

/// <summary>A claimed job and its lease.</summary>
internal sealed record ClaimedJobContract(JobContract Job, string LeaseId, DateTimeOffset LeaseExpiresAt);

/// <summary>A lease.</summary>
internal sealed record LeaseContract(string LeaseId, DateTimeOffset LeaseExpiresAt);

/// <summary>Extends a lease.</summary>
internal sealed record HeartbeatContract(string LeaseId, double? LeaseSeconds);

/// <summary>Progress and an output chunk; give <c>percent</c>, <c>output</c> or both.</summary>
internal sealed record ProgressContract(string LeaseId, int? Percent, string? Output, double? LeaseSeconds);

/// <summary>Completes a job.</summary>
internal sealed record CompleteContract(string LeaseId, JsonElement? Result);

/// <summary>Fails an attempt.</summary>
/// <param name="LeaseId">The lease the claim answered with.</param>
/// <param name="Error">A message, or a problem details object.</param>
/// <param name="Retryable">False fails the job for good; true (the default) retries while attempts remain.</param>
internal sealed record FailContract(string LeaseId, JsonElement? Error, bool? Retryable);

/// <summary>An app's settings at one version.</summary>
/// <param name="App">The app's name.</param>
/// <param name="Version">Increases by one with each change.</param>
/// <param name="Values">The settings: a JSON object.</param>
/// <param name="UpdatedAt">When this version was written.</param>
internal sealed record ConfigContract(string App, long Version, JsonElement Values, DateTimeOffset UpdatedAt);

/// <summary>An app's versions, newest first.</summary>
internal sealed record ConfigHistoryContract(string App, IReadOnlyList<ConfigContract> Versions);

/// <summary>The apps that changed past the versions the watcher holds (empty when the wait timed out).</summary>
internal sealed record ConfigChangesContract(IReadOnlyList<ConfigContract> Changes);

/// <summary>An API key; <c>key</c>, the secret, only in the answer that created it.</summary>
internal sealed record KeyContract(
    string Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key,
    string Hint,
    string? Name,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> Topics,
    DateTimeOffset CreatedAt);

/// <summary>The API keys, without their secrets.</summary>
internal sealed record KeyListContract(IReadOnlyList<KeyContract> Keys);

/// <summary>The query parameters every read takes.</summary>
internal static class Reading
{
    public static readonly (string Name, string Description) Topic =
        ("topic", "A topic or pattern to read; repeat the parameter for several (a comma is not a separator: it is an invalid-pattern). Patterns with * (one segment) and > (the rest) are allowed.");

    public static readonly (string Name, string Description) After =
        ("after", "Where to start: a cursor from an earlier answer (valid on every transport), earliest, or latest (the default).");

    public static readonly (string Name, string Description) LastEventId =
        ("lastEventId", "The Last-Event-ID header as a query parameter (any case), for clients that cannot set headers: resume exactly after that event. The header wins; both win over after.");
}

/// <summary>The request headers routes read, described once for every route that reads them.</summary>
internal static class RequestHeader
{
    public static readonly (string Name, string Description) IdempotencyKey =
        ("Idempotency-Key", "1 to 255 printable characters (Limits:MaxIdempotencyKeyLength). A retry with the same key and the same events "
            + "answers the first result (Idempotent-Replayed: true) and stores nothing again, for Idempotency:KeyRetention (24 h); the same key "
            + "with other events is 422 idempotency-key-reused. Send one: two headers are 400 invalid-idempotency-key.");

    public static readonly (string Name, string Description) JobIdempotencyKey =
        ("Idempotency-Key", "As the body's idempotencyKey (give one, or the same in both: 400 when they differ). The same key returns the existing "
            + "job (202, Idempotent-Replayed: true), also after it finished; with another type or input it is 422 idempotency-key-reused. "
            + "1 to 255 printable characters; two headers are 400 invalid-idempotency-key.");

    public static readonly (string Name, string Description) LastEventId =
        ("Last-Event-ID", "The id (cursor) of the last event received, as EventSource sends it when it reconnects: the stream resumes exactly after it. "
            + "Wins over the lastEventId and after query parameters.");

    public static (string Name, string Description) IfNoneMatch(string description) => ("If-None-Match", description);

    public static readonly (string Name, string Description) IfMatch =
        ("If-Match", "Write only if the app's current version has one of these ETags (strong comparison), or * for any existing settings; otherwise 412 precondition-failed and nothing is stored.");

    public static readonly (string Name, string Description) IfNoneMatchWrite =
        ("If-None-Match", "* : write only if the app has no settings yet (create only); a tag: write only if the current version does not have it. Otherwise 412 precondition-failed and nothing is stored.");
}
