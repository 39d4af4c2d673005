using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// WebSocket part of the self-test: the hand-written frame reader and writer are cross-checked
/// against the runtime's own WebSocket (as the peer), and both subscribers run against an in-process
/// switchboard.v1 imitation that pings, sends events and closes with 1013.
/// </summary>
internal static partial class SelfTest
{
    private static void WebSocketOptionsParsing()
    {
        var w = FanoutOptions.From(CliArgs.Parse(["ws-fanout", "--url", "http://h:1", "--idle-memory", "--server-pid", "42"]));
        Check("ws-fanout defaults", w.IsWebSocket && w.Topic == "chat.bench" && w.Subscribers == 1000 && w.Client == "raw" && w.ReceiveBufferBytes == 8192);
        Check("--idle-memory is a valueless flag", w.IdleMemory && w.IdleSeconds == 5 && w.ServerPid == 42);
        Check("--idle-memory=false", !FanoutOptions.From(CliArgs.Parse(["ws-fanout", "--url", "http://h:1", "--idle-memory=false"])).IdleMemory);
        Check("ws uri", BenchHttp.WebSocketUri(w.BaseUrl, "bench 1").AbsoluteUri == "http://h:1/v1/ws?name=bench%201");
        Check("clientws client", FanoutOptions.From(CliArgs.Parse(["ws-fanout", "--url", "http://h:1", "--client", "clientws"])).Client == "clientws");
        Throws("--idle-memory needs --server-pid", () => FanoutOptions.From(CliArgs.Parse(["ws-fanout", "--url", "http://h:1", "--idle-memory"])));
        Throws("clientws is not an SSE client", () => FanoutOptions.From(CliArgs.Parse(["fanout", "--url", "http://h:1", "--client", "clientws"])));
        Check("longpoll client (SSE mode)", FanoutOptions.From(CliArgs.Parse(["fanout", "--url", "http://h:1", "--client", "longpoll"])).Client == "longpoll");
        Throws("longpoll is not a WebSocket client", () => FanoutOptions.From(CliArgs.Parse(["ws-fanout", "--url", "http://h:1", "--client", "longpoll"])));
        Throws("ws-only option unknown to fanout", () =>
        {
            var x = CliArgs.Parse(["fanout", "--url", "http://h:1", "--idle-memory"]);
            _ = FanoutOptions.From(x);
            x.EnsureNoUnknownOptions();
        });
    }

    private static void WebSocketHandshakeChecks()
    {
        // RFC 6455 §1.3 example.
        Check("accept key (RFC 6455 example)", WebSocketHandshake.AcceptFor("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        var key = WebSocketHandshake.NewKey();
        var ok = $"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nsec-websocket-accept: {WebSocketHandshake.AcceptFor(key)}\r\nSec-WebSocket-Protocol: switchboard.v1";
        Check("101 with accept and subprotocol", Accepts(ok, key));
        Check("wrong accept rejected", !Accepts(ok.Replace(WebSocketHandshake.AcceptFor(key), WebSocketHandshake.AcceptFor("x"), StringComparison.Ordinal), key));
        Check("missing subprotocol rejected", !Accepts(ok[..ok.LastIndexOf("\r\n", StringComparison.Ordinal)], key));
        try
        {
            WebSocketHandshake.Validate("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json", "{\"code\":\"too-many-connections\"}"u8, key, "switchboard.v1");
            Check("refusal reported with status and body", false);
        }
        catch (InvalidDataException ex)
        {
            Check("refusal reported with status and body", ex.Message.Contains("503", StringComparison.Ordinal) && ex.Message.Contains("too-many-connections", StringComparison.Ordinal));
        }

        var request = Encoding.ASCII.GetString(WebSocketHandshake.Request(new Uri("http://127.0.0.1:8080/v1/ws?name=a"), key, "switchboard.v1"));
        Check("upgrade request", request.StartsWith("GET /v1/ws?name=a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", StringComparison.Ordinal)
            && request.Contains($"Sec-WebSocket-Key: {key}\r\n", StringComparison.Ordinal) && request.EndsWith("\r\n\r\n", StringComparison.Ordinal));

        static bool Accepts(string head, string key)
        {
            try
            {
                WebSocketHandshake.Validate(head, default, key, "switchboard.v1");
                return true;
            }
            catch (InvalidDataException)
            {
                return false;
            }
        }
    }

    /// <summary>Server frames written by the runtime's WebSocket (plus injected pings) must parse identically in any split.</summary>
    private static async Task WebSocketReaderCrossCheckAsync(CancellationToken ct)
    {
        var random = new Random(4242);
        const int Streams = 60;
        var agree = 0;
        for (var i = 0; i < Streams; i++)
        {
            var (wire, expected) = await ServerStreamAsync(random, ct);
            var splits = new[] { wire.Length, 1, random.Next(2, 20), random.Next(20, 3000) };
            if (splits.All(split => ReadFrames(wire, split) == expected))
            {
                agree++;
            }
            else
            {
                Console.WriteLine($"  frame reader mismatch on stream {i}: expected {Shorten(expected)} got {Shorten(ReadFrames(wire, 7))}");
            }
        }

        Check($"frame reader agrees with the runtime's WebSocket on {Streams} random streams", agree == Streams);

        // Malformed input is rejected, not misread.
        Check("masked server frame rejected", RejectsFrames([0x81, 0x81, 1, 2, 3, 4, 0x41]));
        Check("reserved bits rejected", RejectsFrames([0xC1, 0x01, 0x41]));
        Check("fragmented ping rejected", RejectsFrames([0x09, 0x00]));
        Check("orphan continuation rejected", RejectsFrames([0x80, 0x00]));
        Check("unknown opcode rejected", RejectsFrames([0x83, 0x00]));
        Check("new message inside a fragmented one rejected", RejectsFrames([0x01, 0x01, 0x41, 0x81, 0x01, 0x42]));
        Check("oversized message rejected", RejectsFrames([0x82, 0x7E, 0x10, 0x00], maxMessage: 1024));
    }

    /// <summary>Our masked client frames must be understood by the runtime's server-side WebSocket.</summary>
    private static async Task WebSocketWriterCrossCheckAsync(CancellationToken ct)
    {
        var random = new Random(99);
        var wire = new MemoryStream();
        var sent = new List<string>();
        foreach (var size in new[] { 0, 1, 125, 126, 127, 65535, 65536, 70000 }.Concat(Enumerable.Range(0, 20).Select(_ => random.Next(0, 3000))))
        {
            var payload = RandomText(random, size);
            sent.Add(payload);
            wire.Write(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpText, Encoding.UTF8.GetBytes(payload)));
        }

        // A fragmented message, a pong in between, then our close reply.
        wire.Write(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpText, "frag"u8, fin: false));
        wire.Write(WebSocketFrameWriter.Masked(WebSocketFrameWriter.OpPong, "p"u8));
        wire.Write(WebSocketFrameWriter.Masked(0, "mented"u8, fin: true));
        sent.Add("fragmented");
        wire.Write(WebSocketFrameWriter.Close(1013));

        wire.Position = 0;
        using var server = WebSocket.CreateFromStream(wire, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var received = new List<string>();
        var buffer = new byte[128 * 1024];
        WebSocketCloseStatus? closeStatus = null;
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await server.ReceiveAsync(buffer.AsMemory(length), ct);
                    length += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    closeStatus = server.CloseStatus;
                    break;
                }

                received.Add(Encoding.UTF8.GetString(buffer, 0, length));
            }
        }
        catch (WebSocketException ex)
        {
            Console.WriteLine($"  runtime WebSocket rejected our frames: {ex.Message}");
        }

        Check("masked frames read back by the runtime's server WebSocket", received.SequenceEqual(sent));
        Check("our close frame carries the echoed code", closeStatus == (WebSocketCloseStatus)1013);

        Span<byte> frame = stackalloc byte[WebSocketFrameWriter.MaskedSize(3)];
        var n = WebSocketFrameWriter.Write(frame, WebSocketFrameWriter.OpText, "abc"u8, 0x04030201);
        Check("mask applied byte by byte", n == 9 && frame[1] == 0x83 && frame[6] == ('a' ^ 1) && frame[7] == ('b' ^ 2) && frame[8] == ('c' ^ 3));
    }

    /// <summary>Message classification shared by both WebSocket subscribers.</summary>
    private static async Task WebSocketMessagesAsync(CancellationToken ct)
    {
        var window = new MeasurementWindow();
        window.Open(0, long.MaxValue);
        var s = new CannedWebSocketSubscriber(window,
        [
            """{"op":"event","subscription":"s","cursor":"e-1","event":{"seq":1,"topic":"chat.bench","type":"bench","time":"2025-01-01T00:00:00Z","data":{"t":5}}}""",
            """{"op":"ack","id":"s","cursor":"e-0"}""",
            """{"op":"event","subscription":"s","cursor":"e-1","event":{"seq":1,"topic":"chat.bench","type":"bench","time":"2025-01-01T00:00:00Z","data":{"t":5}}}""",
            """{ "subscription":"s", "op" : "event", "event":{"data":{"t":7}}}""",
            """{"op":"reset","subscription":"s","reason":"gap","cursor":"e-9"}""",
            """{"op":"event","subscription":"s","cursor":"e-2","event":{"seq":2,"data":{"x":1}}}""",
            """{"op":"ack","id":"p"}""",
        ]);
        using var gate = new SemaphoreSlim(1);
        await s.RunAsync(gate, ct);
        Check("ws: ready at the ack", s.ReadyAfterTicks >= 0);
        Check("ws: events before the ack still count, compact and spaced", s.ReceivedTotal == 3);
        Check("ws: reset, foreign event and second ack are control messages", s.ControlFrames == 3);

        var refused = new CannedWebSocketSubscriber(window, ["""{"op":"error","id":"s","code":"invalid_topic","message":"no"}""", """{"op":"ack","id":"s"}"""]);
        await refused.RunAsync(gate, ct);
        Check("ws: refused subscription fails and stops reading", !refused.IsReady && refused.Error?.Contains("invalid_topic", StringComparison.Ordinal) == true);
        Check("ws: classify op", WebSocketSubscriber.ClassifyOp("""{"id":1,"op":"pong"}"""u8) == "pong" && WebSocketSubscriber.ClassifyOp("[1]"u8) is null);
    }

    /// <summary>Both subscribers against an in-process imitation of the server: handshake, subscribe, events, keep-alive pings, 1013 close.</summary>
    private static async Task WebSocketEndToEndAsync(CancellationToken ct)
    {
        foreach (var client in new[] { "raw", "clientws" })
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var baseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
            var window = new MeasurementWindow();
            window.Open(0, long.MaxValue);
            using var invoker = ClientWebSocketSubscriber.CreateInvoker();
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(20));
            Subscriber subscriber = client == "raw"
                ? new RawWebSocketSubscriber(BenchHttp.WebSocketUri(baseUrl, "t"), window, 0, "chat.bench", 256)
                : new ClientWebSocketSubscriber(BenchHttp.WebSocketUri(baseUrl, "t"), invoker, window, 0, "chat.bench", 256);
            using var gate = new SemaphoreSlim(1);
            var serverTask = FakeServerAsync(listener, deadline.Token);
            var clientTask = subscriber.RunAsync(gate, deadline.Token);
            string serverView;
            try
            {
                serverView = await serverTask;
            }
            catch (Exception ex) when (ex is IOException or WebSocketException or OperationCanceledException or InvalidDataException)
            {
                serverView = $"server failed: {ex.GetType().Name}: {ex.Message}";
            }

            await clientTask;
            Check($"{client}: server saw subscribe, pongs and a clean close (got {serverView})", serverView == "subscribed; pongs ok; closed 1013");
            Check($"{client}: ready and all events counted (got {subscriber.ReceivedTotal})", subscriber.ReadyAfterTicks >= 0 && subscriber.ReceivedTotal == 4);
            Check($"{client}: 1013 close reported without the cursor (got {subscriber.Error})", subscriber.Error == "server closed the connection: 1013 too slow");
            subscriber.Dispose();
        }
    }

    private static async Task<string> FakeServerAsync(TcpListener listener, CancellationToken ct)
    {
        using var tcp = await listener.AcceptTcpClientAsync(ct);
        var stream = tcp.GetStream();
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, ct) == 0)
            {
                throw new IOException("client closed during handshake");
            }

            head.Append((char)one[0]);
        }

        var key = head.ToString().Split("\r\n").First(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))[18..].Trim();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {WebSocketHandshake.AcceptFor(key)}\r\nSec-WebSocket-Protocol: switchboard.v1\r\n\r\n"), ct);

        // Pings every 50 ms with a 300 ms pong deadline: a client that does not answer gets aborted.
        using var ws = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = "switchboard.v1",
            KeepAliveInterval = TimeSpan.FromMilliseconds(50),
            KeepAliveTimeout = TimeSpan.FromMilliseconds(300),
        });
        var buffer = new byte[4096];
        var request = await ws.ReceiveAsync(buffer.AsMemory(), ct);
        var subscribe = Encoding.UTF8.GetString(buffer, 0, request.Count);
        if (subscribe != """{"op":"subscribe","id":"s","topics":["chat.bench"]}""")
        {
            return "unexpected subscribe: " + subscribe;
        }

        async Task SendAsync(string text) => await ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, ct);
        string Event(long t, int pad) =>
            "{\"op\":\"event\",\"subscription\":\"s\",\"cursor\":\"e-" + t + "\",\"event\":{\"seq\":" + t
            + ",\"topic\":\"chat.bench\",\"type\":\"bench\",\"time\":\"2025-01-01T00:00:00Z\",\"data\":{\"t\":" + t + ",\"p\":\"" + new string('x', pad) + "\"}}}";
        await SendAsync("""{"op":"ack","id":"s","cursor":"e-0"}""");
        await SendAsync(Event(1, 0));
        await SendAsync(Event(2, 300)); // larger than the 256-byte receive buffer
        await SendAsync(Event(3, 70_000));
        var receive = ws.ReceiveAsync(buffer.AsMemory(), ct).AsTask();

        // Several keep-alive rounds; the pending receive processes the client's pongs.
        await Task.Delay(1000, ct);
        if (ws.State != WebSocketState.Open || receive.IsCompleted)
        {
            return $"keep-alive failed: state {ws.State}";
        }

        await SendAsync(Event(4, 10));
        await ws.CloseOutputAsync((WebSocketCloseStatus)1013, "too slow; resume after e-4", ct);
        var reply = await receive;
        return reply.MessageType == WebSocketMessageType.Close && ws.CloseStatus == (WebSocketCloseStatus)1013
            ? "subscribed; pongs ok; closed 1013"
            : $"no close reply ({reply.MessageType}, {ws.CloseStatus})";
    }

    /// <summary>Builds a random server-to-client stream and the sink log the reader must produce for it.</summary>
    private static async Task<(byte[] Wire, string Expected)> ServerStreamAsync(Random random, CancellationToken ct)
    {
        var wire = new MemoryStream();
        var expected = new StringBuilder();
        using var server = WebSocket.CreateFromStream(wire, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        for (var m = random.Next(1, 12); m > 0; m--)
        {
            var fragments = random.Next(4) == 0 ? random.Next(2, 5) : 1;
            var text = random.Next(3) != 0;
            var whole = new StringBuilder();
            for (var f = 0; f < fragments; f++)
            {
                var size = random.Next(6) switch { 0 => 0, 1 => random.Next(120, 130), 2 => random.Next(65530, 65540), _ => random.Next(1, 400) };
                var piece = RandomText(random, size);
                whole.Append(piece);
                await server.SendAsync(Encoding.UTF8.GetBytes(piece), text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, f == fragments - 1, ct);
                if (f == fragments - 1)
                {
                    expected.Append($"{(text ? "text" : "binary")}:{whole}|");
                }

                if (random.Next(5) == 0)
                {
                    // Control frames may appear between fragments and between messages.
                    var ping = RandomText(random, random.Next(0, 126));
                    wire.Write([0x89, (byte)ping.Length]);
                    wire.Write(Encoding.ASCII.GetBytes(ping));
                    expected.Append($"ping:{ping}|");
                }
            }
        }

        await server.CloseOutputAsync((WebSocketCloseStatus)1013, "too slow; resume after x", ct);
        expected.Append("close:1013:too slow; resume after x|");
        return (wire.ToArray(), expected.ToString());
    }

    private static string ReadFrames(byte[] wire, int pieceSize)
    {
        var sink = new RecordingFrameSink();
        var reader = new WebSocketFrameReader(sink);
        try
        {
            for (var i = 0; i < wire.Length; i += pieceSize)
            {
                if (!reader.Feed(wire.AsSpan(i, Math.Min(pieceSize, wire.Length - i))))
                {
                    sink.Log.Append(i + pieceSize < wire.Length ? "closed-early|" : string.Empty);
                    break;
                }
            }
        }
        catch (InvalidDataException ex)
        {
            sink.Log.Append($"error:{ex.Message}|");
        }

        return sink.Log.ToString();
    }

    private static bool RejectsFrames(byte[] wire, int maxMessage = 1 << 20)
    {
        try
        {
            new WebSocketFrameReader(new RecordingFrameSink(), maxMessage).Feed(wire);
            return false;
        }
        catch (InvalidDataException)
        {
            return true;
        }
    }

    private static string RandomText(Random random, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = (char)random.Next(0x20, 0x7F);
        }

        return new string(chars);
    }

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..200] + "...";

    private sealed class RecordingFrameSink : IWebSocketFrameSink
    {
        public StringBuilder Log { get; } = new();

        public void OnMessage(bool isText, ReadOnlySpan<byte> payload) => Log.Append($"{(isText ? "text" : "binary")}:{Encoding.UTF8.GetString(payload)}|");

        public void OnPing(ReadOnlySpan<byte> payload) => Log.Append($"ping:{Encoding.UTF8.GetString(payload)}|");

        public void OnPong(ReadOnlySpan<byte> payload) => Log.Append($"pong:{Encoding.UTF8.GetString(payload)}|");

        public void OnClose(int? code, ReadOnlySpan<byte> reason) => Log.Append($"close:{code}:{Encoding.UTF8.GetString(reason)}|");
    }

    /// <summary>Feeds canned server messages through the shared message handling.</summary>
    private sealed class CannedWebSocketSubscriber(MeasurementWindow window, string[] messages)
        : WebSocketSubscriber(window, 0, "chat.bench")
    {
        protected override Task RunCoreAsync(CancellationToken ct)
        {
            foreach (var message in messages)
            {
                if (StopReading)
                {
                    break;
                }

                OnServerMessage(Encoding.UTF8.GetBytes(message));
            }

            return Task.CompletedTask;
        }
    }

    private static void ServerProbeChecks()
    {
        var message = ServerProbe.Message(0x02, 0x01, [1, 2, 3]);
        Check("ipc header", message.Length == 23 && message.AsSpan(0, 14).SequenceEqual("DOTNET_IPC_V1\0"u8) && message[14] == 23 && message[15] == 0 && message[16] == 2 && message[17] == 1);

        // Name, DisplayName, Mean as the EventCounters payload lays them out.
        var payload = new MemoryStream();
        payload.Write([9, 9, 9]);
        payload.Write(Encoding.Unicode.GetBytes("gc-heap-size\0GC Heap Size\0"));
        payload.Write(BitConverter.GetBytes(12.5));
        payload.Write(Encoding.Unicode.GetBytes("junk\0"));
        Check("counter mean found in a trace", ServerProbe.FindCounterMean(payload.ToArray(), "gc-heap-size") == 12.5);
        Check("counter absent", ServerProbe.FindCounterMean(payload.ToArray(), "gc-committed") is null);
        Check("truncated counter payload", ServerProbe.FindCounterMean(payload.ToArray().AsSpan(0, 3 + 52 + 4), "gc-heap-size") is null);

        var self = ServerProbe.ReadMemory(Environment.ProcessId);
        Check("own RSS readable from /proc", self is { RssKiB: > 0, Threads: > 0 });
        Check("RSS of a missing pid is null", ServerProbe.ReadMemory(int.MaxValue) is null);
        Check("stopwatch is high resolution", Stopwatch.IsHighResolution);
    }
}
