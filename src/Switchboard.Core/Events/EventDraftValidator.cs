using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.Events;

/// <summary>
/// The rules an event must pass before it reaches a log, written once for every way in: HTTP single publish, HTTP batch
/// publish and the WebSocket <c>publish</c> op all call these, so the same bad draft gets the same code everywhere (the
/// WebSocket spelling turns '-' into '_'). The options are read on every call: limits reload without a restart.
/// </summary>
/// <remarks>
/// What is left to each transport is the shape of its message (a member of the wrong JSON kind), since those codes
/// predate this class and clients match them: HTTP answers <c>invalid-body</c>/<c>invalid-type</c>, WebSocket
/// <c>missing_field</c>/<c>invalid_field</c>.
/// </remarks>
public sealed class EventDraftValidator(Func<LimitsOptions> limits)
{
    /// <summary>The payload of an event published without <c>data</c>; shared, since payloads are never written to.</summary>
    public static readonly byte[] NullData = "null"u8.ToArray();

    private LimitsOptions Limits => limits();

    /// <summary>Throws <c>invalid-topic</c> (400) unless <paramref name="topic"/> is a valid topic name.</summary>
    public void ValidateTopic(string? topic)
    {
        if (TopicName.Validate(topic, Limits.MaxTopicLength) is { } error)
        {
            throw SwitchboardException.Invalid("invalid-topic", "Invalid topic name", $"Topic '{Truncate(topic)}': {error}");
        }
    }

    /// <summary>
    /// The type to store: <see cref="Hubs.Hub.DefaultEventType"/> when absent; <c>invalid-type</c> (400) when empty, too long
    /// or with control characters; <c>reserved-type</c> (400) when it starts with <see cref="Hubs.Hub.ReservedTypePrefix"/>.
    /// </summary>
    public string NormalizeType(string? type)
    {
        if (type is null)
        {
            return Hubs.Hub.DefaultEventType;
        }

        var maxLength = Limits.MaxTypeLength;
        if (type.Length == 0 || type.Length > maxLength || type.Any(char.IsControl))
        {
            throw SwitchboardException.Invalid("invalid-type", "Invalid event type",
                $"The event type must be 1 to {maxLength} characters without control characters.");
        }

        if (type.StartsWith(Hubs.Hub.ReservedTypePrefix, StringComparison.Ordinal))
        {
            throw SwitchboardException.Invalid("reserved-type", "Reserved event type",
                $"Event types starting with '{Hubs.Hub.ReservedTypePrefix}' are reserved for the hub.");
        }

        return type;
    }

    /// <summary>Throws <c>payload-too-large</c> (413) when the stored (minified) data is over <c>Limits:MaxEventBytes</c>.</summary>
    public void ValidateData(int length)
    {
        var limit = Limits.MaxEventBytes;
        if (length > limit)
        {
            throw PayloadTooLarge($"The event data is {length} bytes; the limit is {limit}.");
        }
    }

    /// <summary>
    /// A whole draft: topic, then type, then data size, in the order the transports have always reported them. The
    /// <paramref name="data"/> array becomes the stored payload as is (no copy), so the caller must not write to it afterwards.
    /// </summary>
    public EventDraft Create(string? topic, string? type, byte[] data)
    {
        ValidateTopic(topic);
        var normalized = NormalizeType(type);
        ValidateData(data.Length);
        return new EventDraft(topic!, normalized, data);
    }

    /// <summary>Throws <c>invalid-idempotency-key</c> (400) unless <paramref name="key"/> is 1 to the limit's printable characters.</summary>
    public void ValidateIdempotencyKey(string key) => ValidateIdempotencyKey(key, Limits.MaxIdempotencyKeyLength);

    /// <summary>The <c>Idempotency-Key</c> rule, for the callers (job submission) that hold only the limits.</summary>
    public static void ValidateIdempotencyKey(string key, int maxLength)
    {
        if (key.Length == 0 || key.Length > maxLength || key.Any(char.IsControl))
        {
            throw SwitchboardException.Invalid("invalid-idempotency-key", "Invalid Idempotency-Key",
                $"The Idempotency-Key must be 1 to {maxLength} printable characters.");
        }
    }

    /// <summary>The one <c>payload-too-large</c> (413) error, whether a body, an event's data or a job's part is over its limit.</summary>
    public static SwitchboardException PayloadTooLarge(string detail) =>
        SwitchboardException.TooLarge("payload-too-large", "Payload too large", detail);

    private static string? Truncate(string? value) => value is { Length: > 80 } ? value[..80] + "…" : value;
}
