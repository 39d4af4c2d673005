using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Switchboard.AspNetCore.Http;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Jobs;

/// <summary><c>POST /v1/jobs</c>.</summary>
internal sealed record SubmitJobRequest(string? Type, JsonElement? Input, string? IdempotencyKey, int? MaxAttempts);

/// <summary><c>POST /v1/queues/{type}/claim</c>; the body is optional. <c>complete</c> is read as <see cref="ClaimCompleteRequest"/>.</summary>
internal sealed record ClaimJobRequest(string? Worker, double? LeaseSeconds, JsonElement? Complete);

/// <summary>The <c>complete</c> member of a claim: the job the worker finished, completed before the claim.</summary>
internal sealed record ClaimCompleteRequest(string? Id, string? LeaseId, JsonElement? Result);

/// <summary><c>POST /v1/jobs/{id}/heartbeat</c>.</summary>
internal sealed record HeartbeatJobRequest(string? LeaseId, double? LeaseSeconds);

/// <summary><c>POST /v1/jobs/{id}/progress</c>.</summary>
internal sealed record ProgressJobRequest(string? LeaseId, int? Percent, string? Output, double? LeaseSeconds);

/// <summary><c>POST /v1/jobs/{id}/complete</c>.</summary>
internal sealed record CompleteJobRequest(string? LeaseId, JsonElement? Result);

/// <summary><c>POST /v1/jobs/{id}/fail</c>: <c>error</c> is a problem details object or a message string.</summary>
internal sealed record FailJobRequest(string? LeaseId, JsonElement? Error, bool? Retryable);

/// <summary>
/// The job request bodies, source-generated. Names are exactly the camelCase ones (no case folding), numbers are JSON
/// numbers (no strings, no NaN), and an unknown member is refused: a mistyped name must not be silently dropped.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(SubmitJobRequest))]
[JsonSerializable(typeof(ClaimJobRequest))]
[JsonSerializable(typeof(ClaimCompleteRequest))]
[JsonSerializable(typeof(HeartbeatJobRequest))]
[JsonSerializable(typeof(ProgressJobRequest))]
[JsonSerializable(typeof(CompleteJobRequest))]
[JsonSerializable(typeof(FailJobRequest))]
internal sealed partial class JobJsonContext : JsonSerializerContext;

/// <summary>Reads a job request body into its DTO, turning each refusal of the serializer into the API's problem.</summary>
internal static class JobRequests
{
    /// <summary>
    /// Deserializes <paramref name="root"/> (a JSON object). An unknown member is <c>invalid-body</c> naming it and
    /// <paramref name="members"/>, before anything else; then a member of the wrong type, or null where null is not one
    /// of <paramref name="nullIsAbsent"/>, is refused with <paramref name="wrongValue"/>'s problem for that member.
    /// </summary>
    public static T Read<T>(JsonElement root, JsonTypeInfo<T> info, Func<string, SwitchboardException> wrongValue, string members, params string[] nullIsAbsent)
    {
        // Unknown names first, before any value: a misspelt member is the answer whatever its value (the serializer
        // would report whichever problem comes first in the body).
        if (root.EnumerateObject().Select(p => p.Name).FirstOrDefault(name => !Known(info, name)) is { } unknown)
        {
            throw Unknown(unknown, members);
        }

        // The serializer reads null into a nullable member as if it were absent; for most members null is a wrong value.
        foreach (var property in root.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Null && !nullIsAbsent.Contains(property.Name) && Known(info, property.Name))
            {
                throw wrongValue(property.Name);
            }
        }

        try
        {
            return JsonSerializer.Deserialize(root, info) ?? throw new InvalidOperationException("An object deserialized to null.");
        }
        catch (JsonException ex)
        {
            // Every name is known by now, so the serializer refused a member's value: a string that is not text (a
            // lone surrogate escape), or a value of the wrong type.
            if (info.Properties.FirstOrDefault(p => ex.Path == "$." + p.Name) is not { } member)
            {
                throw SwitchboardException.Invalid("invalid-body", "Invalid body", $"The body does not fit: {ex.Message}");
            }

            throw IsUnreadableString(root.GetProperty(member.Name)) ? JsonWire.InvalidString() : wrongValue(member.Name);
        }
    }

    /// <summary>
    /// Whether the value is a string that parses but is not text. The serializer's exception cannot tell: a string
    /// given for a number fails with the same inner exception.
    /// </summary>
    private static bool IsUnreadableString(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        try
        {
            _ = value.GetString();
            return false;
        }
        catch (InvalidOperationException ex) when (JsonWire.IsUnreadableString(ex))
        {
            return true;
        }
    }

    /// <summary>The refusal of a member the request does not have, as publish words it.</summary>
    private static SwitchboardException Unknown(string name, string members) =>
        SwitchboardException.Invalid("invalid-body", "Unknown property", $"Unknown or mistyped property \"{name}\"; {members}.");

    private static bool Known(JsonTypeInfo info, string name) => info.Properties.Any(p => p.Name == name);
}
