using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Switchboard.Bench;

/// <summary>
/// A SignalR subscriber without the client library: a plain socket, the raw WebSocket upgrade (no
/// negotiate; the server accepts a WebSocket on the hub URL directly), the JSON hub protocol's
/// handshake <c>{"protocol":"json","version":1}</c> + 0x1e, then an invocation of the hub method
/// <c>Join(topic)</c>. Ready at that invocation's completion (type 3); every invocation of
/// <c>event</c> (type 1) is a delivery whose first argument carries <c>data.t</c>. Pings (type 6) are
/// control frames; a close message (type 7) fails the subscriber. Used against bench/References/SignalRHub.
/// </summary>
internal sealed class SignalRSubscriber : Subscriber, IWebSocketFrameSink
{
    private const byte RecordSeparator = 0x1e;

    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");

    private readonly Uri _uri;
    private readonly int _receiveBufferBytes;
    private readonly byte[] _join;
    private readonly List<byte[]> _pendingSends = [];
    private bool _handshakeDone;
    private bool _stopReading;

    public SignalRSubscriber(Uri hubUri, MeasurementWindow window, int expectedSamples, string topic, int receiveBufferBytes)
        : base(window, expectedSamples)
    {
        if (hubUri.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException("the SignalR bench client speaks plain http only", nameof(hubUri));
        }

        _uri = hubUri;
        _receiveBufferBytes = receiveBufferBytes;
        _join = Encoding.UTF8.GetBytes(
            $"{{\"type\":1,\"invocationId\":\"1\",\"target\":\"Join\",\"arguments\":[\"{JsonEncodedText.Encode(topic)}\"]}}\u001e");
    }

    protected override async Task RunCoreAsync(CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(_uri.IdnHost, _uri.Port, ct);
        var key = WebSocketHandshake.NewKey();
        await socket.SendAsync(WebSocketHandshake.Request(_uri, key, null), SocketFlags.None, ct);

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

        WebSocketHandshake.Validate(Encoding.ASCII.GetString(buffer, 0, headEnd), buffer.AsSpan(headEnd + 4, count - headEnd - 4), key, null);
        await socket.SendAsync(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpText, Handshake), SocketFlags.None, ct);

        var reader = new WebSocketFrameReader(this);
        var open = reader.Feed(buffer.AsSpan(headEnd + 4, count - headEnd - 4));
        while (open && !_stopReading)
        {
            foreach (var frame in _pendingSends)
            {
                await socket.SendAsync(frame, SocketFlags.None, ct);
            }

            _pendingSends.Clear();
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            if (n == 0)
            {
                return;
            }

            open = reader.Feed(buffer.AsSpan(0, n));
        }
    }

    void IWebSocketFrameSink.OnMessage(bool isText, ReadOnlySpan<byte> payload)
    {
        if (!isText)
        {
            Fail("server sent a binary message");
            return;
        }

        // One WebSocket message may carry several records, each ended by 0x1e.
        while (!payload.IsEmpty)
        {
            var end = payload.IndexOf(RecordSeparator);
            var record = end < 0 ? payload : payload[..end];
            OnRecord(record);
            payload = end < 0 ? default : payload[(end + 1)..];
        }
    }

    /// <summary>One hub protocol message (without its separator).</summary>
    internal void OnRecord(ReadOnlySpan<byte> record)
    {
        if (record.StartsWith("{\"type\":1,"u8))
        {
            OnFrame(EventTimestamp.TryParse(record, out var t) && t >= 0 ? t : NotABenchEvent);
            return;
        }

        if (!_handshakeDone)
        {
            // The handshake response: {} or {"error":"..."}.
            _handshakeDone = true;
            if (record.IndexOf("\"error\""u8) >= 0)
            {
                Fail("SignalR handshake refused: " + Encoding.UTF8.GetString(record));
                _stopReading = true;
                return;
            }

            _pendingSends.Add(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpText, _join));
            return;
        }

        if (record.StartsWith("{\"type\":3,"u8))
        {
            if (record.IndexOf("\"error\""u8) >= 0)
            {
                Fail("Join failed: " + Encoding.UTF8.GetString(record));
                _stopReading = true;
            }
            else
            {
                MarkReady();
            }

            OnFrame(NotABenchEvent);
            return;
        }

        if (record.StartsWith("{\"type\":7"u8))
        {
            Fail("server sent a SignalR close: " + Encoding.UTF8.GetString(record));
        }

        OnFrame(NotABenchEvent);
    }

    void IWebSocketFrameSink.OnPing(ReadOnlySpan<byte> payload) =>
        _pendingSends.Add(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpPong, payload));

    void IWebSocketFrameSink.OnPong(ReadOnlySpan<byte> payload)
    {
    }

    void IWebSocketFrameSink.OnClose(int? code, ReadOnlySpan<byte> reason)
    {
        Fail($"server closed the connection: {code} {Encoding.UTF8.GetString(reason)}".TrimEnd());
        _pendingSends.Add(WebSocketFrameWriter.Close(code));
    }
}
