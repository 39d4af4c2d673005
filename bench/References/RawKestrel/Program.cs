// Raw Kestrel broadcaster: the reference the delivery engine is measured against (issue 13).
//
//   GET  /v1/stream?topic=T          SSE: "retry: 3000" at once, then "id: <seq>\ndata: <event json>\n\n" per event
//   GET  /v1/ws (subprotocol switchboard.v1)
//        first message {"op":"subscribe","id":"s","topics":["T",...]} -> {"op":"ack","id":"s"}, then
//        {"op":"event","subscription":"s","event":<event json>} per event
//   POST /v1/topics/{topic}/events   {"type":..., "data":...} -> 201 {"seq":N}
//   GET  /v1/health
//
// Each event is serialized once per transport; the same bytes go to every connection's bounded channel.
// A connection whose channel is full is closed (a slow client). No store, no auth, no heartbeats.
using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxConcurrentConnections = null;
    k.Limits.MaxConcurrentUpgradedConnections = null;
});
var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });

var hub = new Broadcaster();

app.MapGet("/v1/health", () => Results.Text("ok"));

app.MapPost("/v1/topics/{topic}/events", async (string topic, HttpRequest request) =>
{
    using var body = await JsonDocument.ParseAsync(request.Body);
    var seq = hub.Publish(topic, body.RootElement);
    return Results.Text($"{{\"seq\":{seq}}}", "application/json", statusCode: 201);
});

app.MapGet("/v1/stream", async (HttpContext context) =>
{
    var topic = context.Request.Query["topic"].ToString();
    if (topic.Length == 0)
    {
        context.Response.StatusCode = 400;
        return;
    }

    context.Response.ContentType = "text/event-stream";
    context.Response.Headers.CacheControl = "no-cache";
    var output = context.Response.BodyWriter;
    await output.WriteAsync("retry: 3000\n\n"u8.ToArray(), context.RequestAborted);
    var connection = new Connection(sse: true);
    hub.Add(topic, connection);
    try
    {
        await connection.PumpAsync(async (frame, more, ct) =>
        {
            output.Write(frame.Span);
            if (!more)
            {
                await output.FlushAsync(ct);
            }
        }, context.RequestAborted);
    }
    catch (OperationCanceledException)
    {
    }
    finally
    {
        hub.Remove(topic, connection);
    }
});

app.Map("/v1/ws", async (HttpContext context) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = 400;
        return;
    }

    using var socket = await context.WebSockets.AcceptWebSocketAsync("switchboard.v1");
    var buffer = new byte[1024];
    var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
    if (received.MessageType != WebSocketMessageType.Text || !received.EndOfMessage)
    {
        return;
    }

    string[] topics;
    string id;
    using (var subscribe = JsonDocument.Parse(buffer.AsMemory(0, received.Count)))
    {
        id = subscribe.RootElement.GetProperty("id").GetString() ?? "s";
        topics = [.. subscribe.RootElement.GetProperty("topics").EnumerateArray().Select(t => t.GetString() ?? string.Empty)];
    }

    var connection = new Connection(sse: false);
    foreach (var topic in topics)
    {
        hub.Add(topic, connection);
    }

    using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
    try
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes($"{{\"op\":\"ack\",\"id\":{JsonSerializer.Serialize(id)}}}"), WebSocketMessageType.Text, true, stop.Token);
        // The receive side only watches for the close; the send loop is the connection's channel.
        var receive = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var r = await socket.ReceiveAsync(buffer, stop.Token);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }

            connection.Complete();
        });
        await connection.PumpAsync((frame, _, ct) => socket.SendAsync(frame, WebSocketMessageType.Text, true, ct), stop.Token);
        stop.Cancel();
        await receive;
    }
    catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
    {
    }
    finally
    {
        foreach (var topic in topics)
        {
            hub.Remove(topic, connection);
        }
    }
});

app.Run();

/// <summary>One subscriber: a bounded channel of pre-serialized frames, drained by the connection's own loop.</summary>
internal sealed class Connection(bool sse)
{
    private readonly Channel<ReadOnlyMemory<byte>> _channel = Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });

    public bool Sse { get; } = sse;

    /// <summary>False when the channel is full: the caller drops the connection as too slow.</summary>
    public bool Offer(ReadOnlyMemory<byte> frame)
    {
        if (_channel.Writer.TryWrite(frame))
        {
            return true;
        }

        _channel.Writer.TryComplete();
        return false;
    }

    public void Complete() => _channel.Writer.TryComplete();

    public async Task PumpAsync(Func<ReadOnlyMemory<byte>, bool, CancellationToken, ValueTask> write, CancellationToken ct)
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync(ct))
        {
            while (reader.TryRead(out var frame))
            {
                await write(frame, reader.Count > 0, ct);
            }
        }
    }
}

/// <summary>Topic → connections (copy-on-write arrays, so a publish iterates without a lock).</summary>
internal sealed class Broadcaster
{
    private readonly ConcurrentDictionary<string, Connection[]> _topics = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _seq;

    public void Add(string topic, Connection connection)
    {
        lock (_gate)
        {
            _topics[topic] = _topics.TryGetValue(topic, out var list) ? [.. list, connection] : [connection];
        }
    }

    public void Remove(string topic, Connection connection)
    {
        lock (_gate)
        {
            if (!_topics.TryGetValue(topic, out var list))
            {
                return;
            }

            var rest = Array.FindAll(list, c => !ReferenceEquals(c, connection));
            if (rest.Length == 0)
            {
                _topics.TryRemove(topic, out _);
            }
            else
            {
                _topics[topic] = rest;
            }
        }
    }

    public long Publish(string topic, JsonElement body)
    {
        var seq = Interlocked.Increment(ref _seq);
        if (!_topics.TryGetValue(topic, out var list))
        {
            return seq;
        }

        // The event JSON once, then one SSE frame and one WebSocket message around it.
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("seq", seq);
            writer.WriteString("topic", topic);
            if (body.TryGetProperty("type", out var type))
            {
                writer.WritePropertyName("type");
                type.WriteTo(writer);
            }

            writer.WriteString("time", DateTimeOffset.UtcNow);
            if (body.TryGetProperty("data", out var data))
            {
                writer.WritePropertyName("data");
                data.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        var json = buffer.WrittenSpan;
        ReadOnlyMemory<byte> sseFrame = null, wsFrame = null;
        foreach (var c in list)
        {
            if (c.Sse)
            {
                if (sseFrame.IsEmpty)
                {
                    sseFrame = Concat(Encoding.ASCII.GetBytes($"id: {seq}\ndata: "), json, "\n\n"u8);
                }

                c.Offer(sseFrame);
            }
            else
            {
                if (wsFrame.IsEmpty)
                {
                    wsFrame = Concat("{\"op\":\"event\",\"subscription\":\"s\",\"event\":"u8, json, "}"u8);
                }

                c.Offer(wsFrame);
            }
        }

        return seq;
    }

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c)
    {
        var bytes = new byte[a.Length + b.Length + c.Length];
        a.CopyTo(bytes);
        b.CopyTo(bytes.AsSpan(a.Length));
        c.CopyTo(bytes.AsSpan(a.Length + b.Length));
        return bytes;
    }
}
