using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Switchboard.Bench;

/// <summary>
/// One switchboard.v1 WebSocket subscriber: sends <c>{"op":"subscribe","id":"s","topics":[topic]}</c>,
/// is ready at the server's <c>ack</c> (the subscription starts at the head the server had when it
/// acked, so every event published afterwards is delivered) and counts <c>event</c> messages.
/// </summary>
internal abstract class WebSocketSubscriber(MeasurementWindow window, int expectedSamples, string topic)
    : Subscriber(window, expectedSamples)
{
    public const string SubProtocol = "switchboard.v1";

    private bool _stopReading;

    /// <summary>The subscribe request, UTF-8 JSON.</summary>
    protected byte[] SubscribeMessage { get; } = Encoding.UTF8.GetBytes(
        $"{{\"op\":\"subscribe\",\"id\":\"s\",\"topics\":[\"{JsonEncodedText.Encode(topic)}\"]}}");

    /// <summary>Set when the server refused the subscription: the read loop should end.</summary>
    protected bool StopReading => _stopReading;

    /// <summary>Accounts one complete text message from the server.</summary>
    protected void OnServerMessage(ReadOnlySpan<byte> message)
    {
        // The server writes compact JSON with "op" first; events are by far the most frequent message.
        if (message.StartsWith("{\"op\":\"event\""u8))
        {
            OnFrame(EventTimestamp.TryParse(message, out var t) && t >= 0 ? t : NotABenchEvent);
            return;
        }

        switch (ClassifyOp(message))
        {
            case "event":
                OnFrame(EventTimestamp.TryParse(message, out var t) && t >= 0 ? t : NotABenchEvent);
                break;
            case "ack" when !IsReady:
                MarkReady();
                break;
            case "error":
                // A refused subscribe (or anything else the server objects to) is an error of this subscriber.
                Fail("server error message: " + Truncate(message));
                _stopReading |= !IsReady;
                OnFrame(NotABenchEvent);
                break;
            default:
                // reset, presence, pong, a second ack: control traffic, not deliveries.
                OnFrame(NotABenchEvent);
                break;
        }
    }

    /// <summary>Records the server's close frame; the cursor in a 1013 reason is cut so errors group by cause.</summary>
    protected void OnServerClose(int? code, string reason)
    {
        var cut = reason.IndexOf("; resume", StringComparison.Ordinal);
        Fail($"server closed the connection: {(code is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "no status")} {(cut >= 0 ? reason[..cut] : reason)}".TrimEnd());
    }

    /// <summary>The value of the top-level "op" property, or null.</summary>
    public static string? ClassifyOp(ReadOnlySpan<byte> message)
    {
        try
        {
            var reader = new Utf8JsonReader(message);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isOp = reader.ValueTextEquals("op"u8);
                if (!reader.Read())
                {
                    return null;
                }

                if (isOp)
                {
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    private static string Truncate(ReadOnlySpan<byte> message) =>
        Encoding.UTF8.GetString(message[..Math.Min(message.Length, 200)]);
}

/// <summary>
/// Low-overhead WebSocket subscriber: a plain socket, a hand-written upgrade, and
/// <see cref="WebSocketFrameReader"/>, which hands whole frames to the message handler in place.
/// Answers the server's keep-alive pings with masked pongs and its close frame with a close.
/// The receive buffer lives on the pinned heap (10,000 of them must not fragment gen0). http:// only.
/// </summary>
internal sealed class RawWebSocketSubscriber : WebSocketSubscriber, IWebSocketFrameSink
{
    private readonly Uri _uri;
    private readonly int _receiveBufferBytes;
    private readonly List<byte[]> _pendingSends = [];

    public RawWebSocketSubscriber(Uri wsUri, MeasurementWindow window, int expectedSamples, string topic, int receiveBufferBytes)
        : base(window, expectedSamples, topic)
    {
        if (wsUri.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException("the raw WebSocket client speaks plain http only; use --client clientws for https", nameof(wsUri));
        }

        _uri = wsUri;
        _receiveBufferBytes = receiveBufferBytes;
    }

    protected override async Task RunCoreAsync(CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(_uri.IdnHost, _uri.Port, ct);
        var key = WebSocketHandshake.NewKey();
        await socket.SendAsync(WebSocketHandshake.Request(_uri, key, SubProtocol), SocketFlags.None, ct);

        var buffer = GC.AllocateUninitializedArray<byte>(_receiveBufferBytes, pinned: true);
        var count = 0;
        int headEnd;
        while ((headEnd = buffer.AsSpan(0, count).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (count == buffer.Length)
            {
                throw new InvalidDataException($"upgrade response head exceeds {buffer.Length} bytes");
            }

            var n = await socket.ReceiveAsync(buffer.AsMemory(count), SocketFlags.None, ct);
            if (n == 0)
            {
                throw new IOException("connection closed during the WebSocket upgrade");
            }

            count += n;
        }

        WebSocketHandshake.Validate(Encoding.ASCII.GetString(buffer, 0, headEnd), buffer.AsSpan(headEnd + 4, count - headEnd - 4), key, SubProtocol);
        await socket.SendAsync(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpText, SubscribeMessage), SocketFlags.None, ct);

        var reader = new WebSocketFrameReader(this);
        var open = reader.Feed(buffer.AsSpan(headEnd + 4, count - headEnd - 4));
        while (open && !StopReading)
        {
            // Pongs (and our close reply) are queued by the sink during Feed and sent here, in order.
            if (_pendingSends.Count > 0)
            {
                await FlushAsync(socket, ct);
            }

            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            if (n == 0)
            {
                return;
            }

            open = reader.Feed(buffer.AsSpan(0, n));
        }

        await FlushAsync(socket, ct);
    }

    private async Task FlushAsync(Socket socket, CancellationToken ct)
    {
        foreach (var frame in _pendingSends)
        {
            await socket.SendAsync(frame, SocketFlags.None, ct);
        }

        _pendingSends.Clear();
    }

    void IWebSocketFrameSink.OnMessage(bool isText, ReadOnlySpan<byte> payload)
    {
        if (!isText)
        {
            Fail("server sent a binary message");
            return;
        }

        OnServerMessage(payload);
    }

    void IWebSocketFrameSink.OnPing(ReadOnlySpan<byte> payload) =>
        _pendingSends.Add(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpPong, payload));

    void IWebSocketFrameSink.OnPong(ReadOnlySpan<byte> payload)
    {
    }

    void IWebSocketFrameSink.OnClose(int? code, ReadOnlySpan<byte> reason)
    {
        OnServerClose(code, Encoding.UTF8.GetString(reason));
        _pendingSends.Add(WebSocketFrameWriter.Close(code));
    }
}

/// <summary>
/// Reference subscriber on the runtime's <see cref="ClientWebSocket"/> (one shared handler for all
/// connections). Spec-complete and simple, but it costs more CPU per delivery than
/// <see cref="RawWebSocketSubscriber"/>; use "--client clientws" to cross-check the raw client's numbers.
/// </summary>
internal sealed class ClientWebSocketSubscriber(Uri wsUri, HttpMessageInvoker invoker, MeasurementWindow window, int expectedSamples, string topic, int receiveBufferBytes)
    : WebSocketSubscriber(window, expectedSamples, topic)
{
    private readonly Uri _uri = new UriBuilder(wsUri) { Scheme = wsUri.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" }.Uri;

    /// <summary>Handler shared by all ClientWebSocket subscribers of a run.</summary>
    public static HttpMessageInvoker CreateInvoker() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    });

    protected override async Task RunCoreAsync(CancellationToken ct)
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(SubProtocol);
        // The server pings; the runtime answers by itself. No client-initiated keep-alive traffic.
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        try
        {
            await socket.ConnectAsync(_uri, invoker, ct);
        }
        catch (WebSocketException ex)
        {
            var status = socket.HttpStatusCode == 0 ? string.Empty : $" (HTTP {(int)socket.HttpStatusCode})";
            throw new IOException($"upgrade failed{status}: {ex.Message}", ex);
        }

        await socket.SendAsync(SubscribeMessage, WebSocketMessageType.Text, endOfMessage: true, ct);
        var buffer = new byte[receiveBufferBytes];
        var length = 0;
        try
        {
            while (!StopReading)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(length), ct);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    OnServerClose(socket.CloseStatus is { } status ? (int)status : null, socket.CloseStatusDescription ?? string.Empty);
                    // Echo the server's code, as the raw client does.
                    await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, null, ct);
                    return;
                }

                length += result.Count;
                if (!result.EndOfMessage)
                {
                    if (length == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    continue;
                }

                if (result.MessageType == WebSocketMessageType.Text)
                {
                    OnServerMessage(buffer.AsSpan(0, length));
                }
                else
                {
                    Fail("server sent a binary message");
                }

                length = 0;
            }
        }
        catch (WebSocketException ex)
        {
            throw new IOException($"{ex.WebSocketErrorCode}: {ex.Message}", ex);
        }
    }
}
