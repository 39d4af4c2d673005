using System.Text;
using System.Text.Json;

namespace Switchboard.Events;

/// <summary>
/// An event in the log. Its wire forms (event JSON, SSE frame) are built once, on first use,
/// and the same bytes then go to every subscriber.
/// </summary>
public sealed class EventRecord
{
    private byte[]? _json;
    private byte[]? _sseFrame;
    private byte[]? _webSocketTail;
    private byte[]? _webhookBody;
    private string? _cursor;

    /// <summary>Creates a record as assigned by a log.</summary>
    public EventRecord(string epoch, long seq, string topic, string type, DateTimeOffset time, ReadOnlyMemory<byte> data)
    {
        Epoch = epoch;
        Seq = seq;
        Topic = topic;
        Type = type;
        Time = time;
        Data = data;
    }

    /// <summary>The epoch of the log that assigned <see cref="Seq"/>.</summary>
    public string Epoch { get; }

    /// <summary>The hub-wide, increasing position of this event.</summary>
    public long Seq { get; }

    public string Topic { get; }

    public string Type { get; }

    /// <summary>When the log accepted the event (UTC, millisecond precision).</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The payload as UTF-8 JSON.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The opaque cursor that resumes right after this event.</summary>
    public string Cursor => _cursor ??= Cursors.Cursor.Format(Epoch, Seq);

    /// <summary><c>{"seq","topic","type","time","data"}</c> as compact UTF-8 JSON.</summary>
    public ReadOnlyMemory<byte> Json => _json ??= BuildJson();

    /// <summary>The complete SSE frame: <c>id: cursor</c>, <c>data: json</c>, blank line.</summary>
    public ReadOnlyMemory<byte> SseFrame => _sseFrame ??= BuildSseFrame();

    /// <summary>
    /// The part of a WebSocket <c>event</c> message after the subscription: <c>,"cursor":"…","event":{…}}</c>. Built once;
    /// each delivery writes its subscription's prefix and then these bytes.
    /// </summary>
    public ReadOnlyMemory<byte> WebSocketTail => _webSocketTail ??= BuildWebSocketTail();

    /// <summary>
    /// The webhook body in the Standard Webhooks shape, <c>{"type","timestamp","data","seq","topic"}</c>:
    /// built once and POSTed to every endpoint that receives the event.
    /// </summary>
    public ReadOnlyMemory<byte> WebhookBody => _webhookBody ??= BuildWebhookBody();

    /// <summary>Writes the event object into <paramref name="writer"/>.</summary>
    public void WriteTo(Utf8JsonWriter writer) => writer.WriteRawValue(Json.Span, skipInputValidation: true);

    /// <summary>Reads an event back from its <see cref="Json"/> form (idempotency replays, stores that keep the JSON).</summary>
    public static EventRecord FromJson(string epoch, JsonElement element) => new(
        epoch,
        element.GetProperty("seq").GetInt64(),
        element.GetProperty("topic").GetString()!,
        element.GetProperty("type").GetString()!,
        element.GetProperty("time").GetDateTimeOffset(),
        Encoding.UTF8.GetBytes(element.GetProperty("data").GetRawText()));

    private byte[] BuildJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(Data.Length + 128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("seq"u8, Seq);
            writer.WriteString("topic"u8, Topic);
            writer.WriteString("type"u8, Type);
            writer.WriteString("time"u8, WireTime.Format(Time));
            writer.WritePropertyName("data"u8);
            writer.WriteRawValue(Data.Span, skipInputValidation: true);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private byte[] BuildWebhookBody()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(Data.Length + 128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, Type);
            writer.WriteString("timestamp"u8, WireTime.Format(Time));
            writer.WritePropertyName("data"u8);
            writer.WriteRawValue(Data.Span, skipInputValidation: true);
            writer.WriteNumber("seq"u8, Seq);
            writer.WriteString("topic"u8, Topic);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private byte[] BuildWebSocketTail()
    {
        var json = Json.Span;
        var cursor = Encoding.UTF8.GetBytes(Cursor);
        var tail = new byte[11 + cursor.Length + 10 + json.Length + 1];
        var span = tail.AsSpan();
        ",\"cursor\":\""u8.CopyTo(span);
        var at = 11;
        cursor.CopyTo(span[at..]);
        at += cursor.Length;
        "\",\"event\":"u8.CopyTo(span[at..]);
        at += 10;
        json.CopyTo(span[at..]);
        at += json.Length;
        span[at] = (byte)'}';
        return tail;
    }

    private byte[] BuildSseFrame()
    {
        // Compact JSON never contains a raw line break, so the payload is always a single data: line.
        var json = Json.Span;
        var cursor = Encoding.UTF8.GetBytes(Cursor);
        var frame = new byte[4 + cursor.Length + 1 + 6 + json.Length + 2];
        var span = frame.AsSpan();
        "id: "u8.CopyTo(span);
        var at = 4;
        cursor.CopyTo(span[at..]);
        at += cursor.Length;
        span[at++] = (byte)'\n';
        "data: "u8.CopyTo(span[at..]);
        at += 6;
        json.CopyTo(span[at..]);
        at += json.Length;
        span[at++] = (byte)'\n';
        span[at] = (byte)'\n';
        return frame;
    }
}
