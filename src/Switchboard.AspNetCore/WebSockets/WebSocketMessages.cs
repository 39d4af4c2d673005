using System.Buffers;
using System.Text;
using System.Text.Json;
using Switchboard.AspNetCore.Http;
using Switchboard.Events;

namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// Builds the server's messages. An event message wraps the event's cached JSON, so the event itself is
/// serialized once for every WebSocket subscriber; only the small envelope is per subscription.
/// </summary>
internal static class WebSocketMessages
{
    public static byte[] Event(byte[] subscriptionPrefix, EventRecord record)
    {
        // {"op":"event","subscription":"s1","cursor":"<cursor>","event":<json>}
        var cursor = record.Cursor;
        var json = record.Json.Span;
        var buffer = new byte[subscriptionPrefix.Length + 11 + Encoding.UTF8.GetByteCount(cursor) + 10 + json.Length + 1];
        var span = buffer.AsSpan();
        subscriptionPrefix.CopyTo(span);
        var at = subscriptionPrefix.Length;
        at += Copy(",\"cursor\":\""u8, span[at..]);
        at += Encoding.UTF8.GetBytes(cursor, span[at..]);
        at += Copy("\",\"event\":"u8, span[at..]);
        json.CopyTo(span[at..]);
        at += json.Length;
        span[at++] = (byte)'}';
        return at == buffer.Length ? buffer : buffer[..at];
    }

    /// <summary><c>{"op":"event","subscription":"id"</c>, built once per subscription.</summary>
    public static byte[] EventPrefix(string subscription)
    {
        var whole = Build(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("op", "event");
            writer.WriteString("subscription", subscription);
            writer.WriteEndObject();
        });
        return whole[..^1]; // without the closing brace; Event() appends the rest
    }

    public static byte[] Ack(JsonElement? id, string? cursor = null, long? seq = null) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("op", "ack");
        WriteId(writer, id);
        if (seq is { } value)
        {
            writer.WriteNumber("seq", value);
        }

        if (cursor is not null)
        {
            writer.WriteString("cursor", cursor);
        }

        writer.WriteEndObject();
    });

    public static byte[] Pong(JsonElement? id) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("op", "pong");
        WriteId(writer, id);
        writer.WriteEndObject();
    });

    /// <summary>An <c>error</c> op; <paramref name="subscription"/> names the subscription it ended, when it answers no request of its own.</summary>
    public static byte[] Error(JsonElement? id, string code, string message, string? subscription = null) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("op", "error");
        WriteId(writer, id);
        if (subscription is not null)
        {
            writer.WriteString("subscription", subscription);
        }

        writer.WriteString("code", code);
        writer.WriteString("message", WellFormed(message));
        writer.WriteEndObject();
    });

    public static byte[] Reset(string subscription, string reason, string cursor) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("op", "reset");
        writer.WriteString("subscription", subscription);
        writer.WriteString("reason", reason);
        writer.WriteString("cursor", cursor);
        writer.WriteEndObject();
    });

    public static byte[] Presence(JsonElement? id, string topic, IReadOnlyList<string> members, string? joined, string? left) => Build(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("op", "presence");
        WriteId(writer, id);
        writer.WriteString("topic", topic);
        writer.WriteStartArray("members");
        foreach (var member in members)
        {
            writer.WriteStringValue(member);
        }

        writer.WriteEndArray();
        if (joined is not null)
        {
            writer.WriteString("joined", joined);
        }

        if (left is not null)
        {
            writer.WriteString("left", left);
        }

        writer.WriteEndObject();
    });

    /// <summary>An error message may quote what the client sent; a lone surrogate in it becomes U+FFFD so it can be written.</summary>
    private static string WellFormed(string text) =>
        text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF') ? System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(text)) : text;

    private static void WriteId(Utf8JsonWriter writer, JsonElement? id)
    {
        if (id is { } value)
        {
            // The id's text as it came (escapes and all): it was parsed, so it is valid JSON, and it is echoed byte for byte.
            writer.WritePropertyName("id");
            writer.WriteRawValue(value.GetRawText(), skipInputValidation: true);
        }
    }

    private static int Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }

    private static byte[] Build(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, JsonWire.Compact))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
