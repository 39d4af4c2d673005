using System.Text.Json;
using Switchboard.AspNetCore.Http;
using Switchboard.Events;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Publishing;

/// <summary>
/// Reads a publish body into drafts in one pass of a <see cref="Utf8JsonReader"/>: no JsonDocument, and each event's
/// <c>data</c> is minified straight from the body into the exact-size array the store keeps.
/// </summary>
/// <remarks>
/// The answers are those of parsing the whole body first and reading it after: a body that is not JSON is
/// <c>malformed-json</c> whatever else is wrong with it, so a refusal found on the way is held until the reader has
/// checked the rest; and a batch's shape and size (<c>invalid-body</c>, <c>batch-too-large</c>) outrank its events' errors.
/// </remarks>
internal static class PublishBody
{
    /// <summary>The event of a single publish to <paramref name="topic"/> (already validated from the route).</summary>
    public static EventDraft ReadOne(byte[] body, string topic, EventDraftValidator drafts)
    {
        JsonWire.ThrowIfNotUtf8(body);
        var reader = new Utf8JsonReader(body, JsonWire.ReaderOptions);
        EventDraft? draft = null;
        SwitchboardException? refused = null;
        try
        {
            reader.Read();
            try
            {
                draft = ReadDraft(ref reader, drafts, topic, allowTopic: false);
            }
            catch (SwitchboardException problem)
            {
                refused = problem;
            }
            catch (InvalidOperationException ex) when (JsonWire.IsUnreadableString(ex))
            {
                refused = JsonWire.InvalidString();
            }

            // The rest must still parse, with nothing after the value.
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            throw JsonWire.Malformed(ex);
        }

        return refused is null ? draft! : throw refused;
    }

    /// <summary>The events of a batch publish: a JSON array of <c>{"topic", "type", "data"}</c> objects.</summary>
    public static List<EventDraft> ReadBatch(byte[] body, EventDraftValidator drafts, int maxEvents)
    {
        JsonWire.ThrowIfNotUtf8(body);
        var reader = new Utf8JsonReader(body, JsonWire.ReaderOptions);
        var events = new List<EventDraft>();
        var count = 0;
        var isArray = true;
        SwitchboardException? refused = null;
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                isArray = false;
            }
            else
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var index = count++;
                    if (refused is not null || count > maxEvents)
                    {
                        // Already refused: the rest is only counted (and checked to be JSON).
                        reader.Skip();
                        continue;
                    }

                    try
                    {
                        events.Add(ReadDraft(ref reader, drafts, topic: null, allowTopic: true));
                    }
                    catch (SwitchboardException problem)
                    {
                        refused = problem.WithDetail($"Event {index}: {problem.Message}");
                        SkipToEndOfElement(ref reader);
                    }
                    catch (InvalidOperationException ex) when (JsonWire.IsUnreadableString(ex))
                    {
                        var problem = JsonWire.InvalidString();
                        refused = problem.WithDetail($"Event {index}: {problem.Message}");
                        SkipToEndOfElement(ref reader);
                    }
                }
            }

            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            throw JsonWire.Malformed(ex);
        }

        if (!isArray)
        {
            throw SwitchboardException.Invalid("invalid-body", "Invalid batch", "A batch is a JSON array of {\"topic\", \"type\", \"data\"} objects.");
        }

        if (count == 0)
        {
            throw SwitchboardException.Invalid("invalid-body", "Empty batch", "A batch needs at least one event.");
        }

        if (count > maxEvents)
        {
            throw SwitchboardException.TooLarge("batch-too-large", "Batch too large", $"The batch has {count} events; the limit is {maxEvents}.");
        }

        return refused is null ? events : throw refused;
    }

    /// <summary>
    /// Reads one event object, the reader on its first token; leaves it on the object's end. Member errors come in member
    /// order; then the topic, the type, an unreadable <c>data</c> and its size, in the order the hub has always checked them.
    /// </summary>
    private static EventDraft ReadDraft(ref Utf8JsonReader reader, EventDraftValidator drafts, string? topic, bool allowTopic)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw SwitchboardException.Invalid("invalid-body", "Invalid event", "An event is a JSON object such as {\"type\": \"order.created\", \"data\": {...}}.");
        }

        string? type = null;
        byte[]? data = null;
        var dataUnreadable = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                switch (reader.TokenType)
                {
                    case JsonTokenType.String:
                        type = reader.GetString();
                        break;
                    case JsonTokenType.Null:
                        break;
                    default:
                        throw SwitchboardException.Invalid("invalid-type", "Invalid event type", "\"type\" must be a string.");
                }
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                var depth = reader.CurrentDepth;
                var container = reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray;
                try
                {
                    data = JsonWire.MinifyValue(ref reader);
                    dataUnreadable = false;
                }
                catch (InvalidOperationException ex) when (JsonWire.IsUnreadableString(ex))
                {
                    // Refused only once topic and type pass, as when data was re-serialized after reading them.
                    data = null;
                    dataUnreadable = true;
                    SkipToEnd(ref reader, depth, container);
                }
            }
            else if (allowTopic && reader.ValueTextEquals("topic"u8))
            {
                reader.Read();
                topic = reader.TokenType == JsonTokenType.String ? reader.GetString() : throw UnknownProperty("topic", allowTopic);
            }
            else
            {
                throw UnknownProperty(reader.GetString()!, allowTopic);
            }
        }

        drafts.ValidateTopic(topic);
        var normalizedType = drafts.NormalizeType(type);
        if (dataUnreadable)
        {
            throw JsonWire.InvalidString();
        }

        data ??= EventDraftValidator.NullData;
        drafts.ValidateData(data.Length);
        return new EventDraft(topic!, normalizedType, data);
    }

    private static SwitchboardException UnknownProperty(string name, bool allowTopic) =>
        SwitchboardException.Invalid("invalid-body", "Unknown property",
            $"Unknown or mistyped property \"{name}\"; an event has {(allowTopic ? "\"topic\", " : "")}\"type\" and \"data\".");

    /// <summary>After a refusal somewhere inside a batch element (at depth 1), moves the reader to that element's last token.</summary>
    private static void SkipToEndOfElement(ref Utf8JsonReader reader)
    {
        if (reader.CurrentDepth == 1)
        {
            // On the element's first token (a non-object refused as it came) or already on its end.
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }

            return;
        }

        SkipToEnd(ref reader, 1, container: true);
    }

    /// <summary>Moves the reader from inside a value that starts at <paramref name="depth"/> to its last token.</summary>
    private static void SkipToEnd(ref Utf8JsonReader reader, int depth, bool container)
    {
        if (!container)
        {
            return;
        }

        while (!(reader.CurrentDepth == depth && reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray))
        {
            reader.Read();
        }
    }
}
