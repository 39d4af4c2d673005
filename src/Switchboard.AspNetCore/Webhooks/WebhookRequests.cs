using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Webhooks;

// The request bodies of /v1/webhooks. They are also the OpenAPI document's request schemas, so their doc comments are
// what API users read. Each member records whether it was given: for some, null is an answer ("description": null
// clears it), for others a refusal ("url": null), and on a patch an absent member keeps its value.

/// <summary>What a webhook create or patch may set; absent members are not changed.</summary>
/// <remarks>
/// Abstract: the create body is this one with <c>after</c>, the patch body this one alone, and the two share their rules.
/// The leaves carry <see cref="JsonUnmappedMemberHandlingAttribute"/>, which is not inherited, so the document sees it too.
/// </remarks>
internal abstract class WebhookSettingsBody
{
    /// <summary>Where deliveries are POSTed: an absolute https URL (http only where the hub allows it), at most 2048 characters.</summary>
    [NeverNull]
    public string? Url { get; set { field = value; UrlGiven = true; } }

    /// <summary>Topic patterns to deliver, such as <c>orders.></c>.</summary>
    [NeverNull]
    public List<string?>? Topics { get; set { field = value; TopicsGiven = true; } }

    /// <summary>Event types to deliver, at most 100; null or absent means every type.</summary>
    public List<string?>? Types { get; set { field = value; TypesGiven = true; } }

    /// <summary>A label, at most 1024 characters; null clears it.</summary>
    public string? Description { get; set { field = value; DescriptionGiven = true; } }

    /// <summary><c>parallel</c> (up to maxInFlight at once) or <c>ordered</c> (one at a time, in log order).</summary>
    [NeverNull]
    public string? Mode { get; set { field = value; ModeGiven = true; } }

    /// <summary>Deliveries in flight at once in parallel mode (1 in ordered mode).</summary>
    [NeverNull]
    public int? MaxInFlight { get; set { field = value; MaxInFlightGiven = true; } }

    /// <summary>At most this many deliveries per second; null removes the limit.</summary>
    [NullClears]
    public WebhookRateLimitBody? RateLimit { get; set { field = value; RateLimitGiven = true; } }

    internal bool UrlGiven { get; private set; }

    internal bool TopicsGiven { get; private set; }

    internal bool TypesGiven { get; private set; }

    internal bool DescriptionGiven { get; private set; }

    internal bool ModeGiven { get; private set; }

    internal bool MaxInFlightGiven { get; private set; }

    internal bool RateLimitGiven { get; private set; }

    /// <summary>The body is a JSON object; an empty body is the empty object.</summary>
    public static SwitchboardException NotAnObjectRefusal() =>
        SwitchboardException.Invalid("invalid-body", "Invalid body", "The body must be a JSON object.");

    /// <summary>The refusal of a member given with a value it cannot take.</summary>
    public static SwitchboardException Invalid(string name, string expected) =>
        SwitchboardException.Invalid("invalid-body", $"Invalid {name}", $"\"{name}\" must be {expected}.");

    /// <summary>What each member must be, for the refusal of a wrong JSON type; the limits that hang on options are checked after reading.</summary>
    protected static SwitchboardException InvalidMemberType(string name) => name switch
    {
        "url" => Invalid("url", "a string"),
        "topics" or "types" => Invalid(name, "an array of non-empty strings"),
        "description" => Invalid("description", $"a string of at most {WebhookEndpoints.MaxDescriptionLength} characters"),
        "mode" => Invalid("mode", "\"parallel\" or \"ordered\""),
        "maxInFlight" => Invalid("maxInFlight", "a whole number"),
        "rateLimit" => WebhookRateLimitBody.Refusal(),
        "after" => Invalid("after", "a cursor, 'earliest' or 'latest'"),
        _ => Invalid(name, "of another type"),
    };

    protected static SwitchboardException Unknown(string name, bool creating) =>
        SwitchboardException.Invalid("invalid-body", "Unknown property",
            $"Unknown property \"{name}\"; a webhook has url, topics, types, description, mode, maxInFlight, rateLimit{(creating ? " and after" : "")}.");
}

/// <summary>A webhook endpoint to register.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class WebhookCreateBody : WebhookSettingsBody, IJsonRequest<WebhookCreateBody>
{
    /// <summary>Where to start in the log: a cursor, <c>earliest</c> or <c>latest</c> (the default: now).</summary>
    [NeverNull]
    public string? After { get; set { field = value; AfterGiven = true; } }

    internal bool AfterGiven { get; private set; }

    public static JsonTypeInfo<WebhookCreateBody> TypeInfo => WebhookJsonContext.Default.WebhookCreateBody;

    public static SwitchboardException NotAnObject() => NotAnObjectRefusal();

    public static SwitchboardException UnknownMember(string name) => Unknown(name, creating: true);

    public static SwitchboardException InvalidMember(string name) => InvalidMemberType(name);
}

/// <summary>The members of a webhook endpoint to change; the others keep their values.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class WebhookPatchBody : WebhookSettingsBody, IJsonRequest<WebhookPatchBody>
{
    public static JsonTypeInfo<WebhookPatchBody> TypeInfo => WebhookJsonContext.Default.WebhookPatchBody;

    public static SwitchboardException NotAnObject() => NotAnObjectRefusal();

    public static SwitchboardException UnknownMember(string name) => Unknown(name, creating: false);

    public static SwitchboardException InvalidMember(string name) => InvalidMemberType(name);
}

/// <summary>A delivery rate limit.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class WebhookRateLimitBody
{
    public const int MaxPerSecond = 100_000;

    /// <summary>Deliveries per second, from 1 to 100000.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, MaxPerSecond)]
    public int PerSecond { get; set; }

    /// <summary>Any fault inside the limit (a missing, null, fractional or extra member) is this one refusal, as it always was.</summary>
    public static SwitchboardException Refusal() =>
        WebhookSettingsBody.Invalid("rateLimit", $"null or {{\"perSecond\": n}} with n from 1 to {MaxPerSecond}");
}

/// <summary>Redeliver everything after a cursor.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class WebhookReplayBody : IJsonRequest<WebhookReplayBody>
{
    /// <summary>A cursor, or <c>earliest</c>.</summary>
    [NeverNull]
    public string? After { get; set; }

    public static JsonTypeInfo<WebhookReplayBody> TypeInfo => WebhookJsonContext.Default.WebhookReplayBody;

    public static SwitchboardException NotAnObject() => WebhookSettingsBody.NotAnObjectRefusal();

    public static SwitchboardException UnknownMember(string name) => WebhookRequests.UnknownSingle(name, "after");

    // A wrong type is refused as a missing value, as the hand-written reader did.
    public static SwitchboardException InvalidMember(string name) => Missing();

    public static SwitchboardException Missing() => WebhookRequests.MissingSingle("after", "a cursor, or 'earliest'");
}

/// <summary>Redeliver the events whose delivery failed since a time.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class WebhookRecoverBody : IJsonRequest<WebhookRecoverBody>
{
    /// <summary>An ISO 8601 time, such as <c>2026-11-28T00:00:00Z</c> (UTC when it has no offset).</summary>
    [NeverNull]
    public string? Since { get; set; }

    public static JsonTypeInfo<WebhookRecoverBody> TypeInfo => WebhookJsonContext.Default.WebhookRecoverBody;

    public static SwitchboardException NotAnObject() => WebhookSettingsBody.NotAnObjectRefusal();

    public static SwitchboardException UnknownMember(string name) => WebhookRequests.UnknownSingle(name, "since");

    public static SwitchboardException InvalidMember(string name) => Missing();

    public static SwitchboardException Missing() => WebhookRequests.MissingSingle("since", "an ISO 8601 time such as 2026-11-28T00:00:00Z");
}

/// <summary>The refusals the one-member bodies share.</summary>
internal static class WebhookRequests
{
    public static SwitchboardException UnknownSingle(string name, string member) =>
        SwitchboardException.Invalid("invalid-body", "Unknown property", $"Unknown property \"{name}\"; give \"{member}\".");

    public static SwitchboardException MissingSingle(string name, string what) =>
        SwitchboardException.Invalid("invalid-body", $"Missing {name}", $"\"{name}\" is required: {what}.");
}

/// <summary>
/// Source-generated reading of the webhook request bodies. Not the web defaults: those read numbers from strings and
/// names in any case, which this API has never accepted (<c>"maxInFlight": "5"</c> and <c>"URL"</c> are refusals).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(WebhookCreateBody))]
[JsonSerializable(typeof(WebhookPatchBody))]
[JsonSerializable(typeof(WebhookReplayBody))]
[JsonSerializable(typeof(WebhookRecoverBody))]
internal sealed partial class WebhookJsonContext : JsonSerializerContext;
