using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// Offline checks of the parts that are easy to get subtly wrong (option parsing, percentiles,
/// timestamp extraction, SSE preamble handling, WebSocket framing), so the tool can be verified without a server.
/// </summary>
internal static partial class SelfTest
{
    private static int s_passed;
    private static int s_failed;

    public static async Task<int> RunAsync(CancellationToken ct)
    {
        CliParsing();
        Percentiles();
        Recorder();
        Timestamps();
        await SseAsync(ct);
        WebSocketOptionsParsing();
        WebSocketHandshakeChecks();
        await WebSocketReaderCrossCheckAsync(ct);
        await WebSocketWriterCrossCheckAsync(ct);
        await WebSocketMessagesAsync(ct);
        await WebSocketEndToEndAsync(ct);
        ServerProbeChecks();
        WebhookChecks();
        Check("free port is a valid port", Program.FreeLoopbackPort() is > 0 and < 65536);

        Console.WriteLine($"selftest: {s_passed} passed, {s_failed} failed");
        return s_failed == 0 ? 0 : 1;
    }

    private static void Check(string name, bool ok)
    {
        if (ok)
        {
            s_passed++;
        }
        else
        {
            s_failed++;
            Console.WriteLine($"FAIL: {name}");
        }
    }

    private static void Throws(string name, Action action)
    {
        try
        {
            action();
            Check(name, false);
        }
        catch (CliException)
        {
            Check(name, true);
        }
    }

    private static void CliParsing()
    {
        var a = CliArgs.Parse(["publish", "--url", "http://127.0.0.1:5000", "--publishers", "16", "--duration=2.5", "--warmup", "0"]);
        var o = PublishOptions.From(a);
        a.EnsureNoUnknownOptions();
        Check("mode", a.Mode == "publish");
        Check("url gets trailing slash", o.BaseUrl.ToString() == "http://127.0.0.1:5000/");
        Check("int option", o.Publishers == 16);
        Check("--name=value form", o.DurationSeconds == 2.5);
        Check("zero warmup", o.WarmupSeconds == 0);
        Check("defaults", o.PayloadBytes == 64 && o.Topic == "bench.pub");
        Check("publish uri", BenchHttp.PublishUri(o.BaseUrl, o.Topic).ToString() == "http://127.0.0.1:5000/v1/topics/bench.pub/events");
        Check("stream uri", BenchHttp.StreamUri(o.BaseUrl, "bench.fan").ToString() == "http://127.0.0.1:5000/v1/stream?topic=bench.fan&after=latest");

        var f = FanoutOptions.From(CliArgs.Parse(["fanout", "--url", "http://h:1/base", "--rate", "0"]));
        Check("fanout defaults", f.Subscribers == 1000 && f.Publishers == 4 && f.Rate == 0 && f.Topic == "bench.fan");
        Check("base path kept", BenchHttp.PublishUri(f.BaseUrl, "a b").AbsoluteUri == "http://h:1/base/v1/topics/a%20b/events");

        Throws("unknown option rejected", () =>
        {
            var x = CliArgs.Parse(["publish", "--url", "http://h:1", "--publisher", "3"]);
            _ = PublishOptions.From(x);
            x.EnsureNoUnknownOptions();
        });
        Throws("missing value rejected", () => CliArgs.Parse(["publish", "--publishers", "--duration", "3"]));
        Throws("out of range rejected", () => PublishOptions.From(CliArgs.Parse(["publish", "--url", "http://h:1", "--publishers", "0"])));
        Throws("non-number rejected", () => PublishOptions.From(CliArgs.Parse(["publish", "--url", "http://h:1", "--duration", "ten"])));
        Throws("missing url rejected", () => PublishOptions.From(CliArgs.Parse(["publish"])));
        Throws("bad url rejected", () => PublishOptions.From(CliArgs.Parse(["publish", "--url", "ftp://h"])));
        Throws("duplicate option rejected", () => CliArgs.Parse(["publish", "--url", "http://h:1", "--url", "http://h:2"]));
        Check("no args means help", CliArgs.Parse([]).Mode == "help");
    }

    private static void Percentiles()
    {
        var oneToHundred = Enumerable.Range(1, 100).Select(i => (long)i).ToArray();
        Check("p50 of 1..100", LatencySummary.Percentile(oneToHundred, 50) == 50);
        Check("p90 of 1..100", LatencySummary.Percentile(oneToHundred, 90) == 90);
        Check("p99 of 1..100", LatencySummary.Percentile(oneToHundred, 99) == 99);
        Check("p99.9 of 1..100", LatencySummary.Percentile(oneToHundred, 99.9) == 100);
        Check("p0 is min", LatencySummary.Percentile(oneToHundred, 0) == 1);
        Check("single sample", LatencySummary.Percentile([7], 99) == 7);

        // Unsorted input, expressed in Stopwatch ticks of 1..1000 ms.
        var msTicks = Stopwatch.Frequency / 1000;
        var shuffled = Enumerable.Range(1, 1000).Select(i => i * msTicks).OrderBy(x => (x * 7919) % 1009).ToArray();
        var s = LatencySummary.FromTicks(shuffled);
        Check("summary count", s.Count == 1000);
        Check("summary p50 ms", s.P50Ms == 500);
        Check("summary p99 ms", s.P99Ms == 990);
        Check("summary min/max ms", s.MinMs == 1 && s.MaxMs == 1000);
        Check("summary mean ms", s.MeanMs == 500.5);
        Check("empty summary", LatencySummary.FromTicks([]) is { Count: 0, P50Ms: null });
    }

    private static void Recorder()
    {
        var a = new LatencyRecorder();
        var b = new LatencyRecorder(100_000);
        for (var i = 0; i < 300_000; i++)
        {
            a.Record(i);
        }

        b.Record(-5);
        var all = new long[a.Count + b.Count];
        var end = b.CopyTo(all, a.CopyTo(all, 0));
        var inOrder = true;
        for (var i = 0; i < 300_000; i++)
        {
            inOrder &= all[i] == i;
        }

        Check("recorder keeps all samples across chunks in order", a.Count == 300_000 && end == all.Length && inOrder && all[^1] == -5);
        Check("summary from recorders", LatencySummary.FromRecorders([a, b]).Count == 300_001);
    }

    private static void Timestamps()
    {
        static long? T(string json) => EventTimestamp.TryParse(Encoding.UTF8.GetBytes(json), out var t) ? t : null;

        Check("compact envelope", T("""{"seq":5,"topic":"bench.fan","type":"bench","time":"2025-01-01T00:00:00Z","data":{"t":123456789012}}""") == 123456789012);
        Check("t with padding after", T("""{"seq":5,"data":{"t":42,"p":"xxxx"}}""") == 42);
        Check("whitespace falls back to reader", T("""{ "data" : { "t" : 77 } }""") == 77);
        Check("no t", T("""{"seq":5,"type":"bench","data":{}}""") is null);
        Check("string t is not a timestamp", T("""{"data":{"t":"x"}}""") is null);
        Check("not json", T("garbage") is null);
        Check("round trip of bench body", T(Encoding.UTF8.GetString(BenchHttp.TimestampedBody(987654321, "pp"))) == 987654321);
        Check("reset frame ignored", SseHttpSubscriber.ParseItem("switchboard.reset", """{"t":5}"""u8) == Subscriber.NotABenchEvent);
        Check("message frame parsed", SseHttpSubscriber.ParseItem(SseParser.EventTypeDefault, """{"data":{"t":5}}"""u8) == 5);
    }

    private static async Task SseAsync(CancellationToken ct)
    {
        const string Body = "id: 1\ndata: {\"seq\":1,\"data\":{\"t\":5}}\n\n"
            + ": heartbeat\n\n"
            + "event: switchboard.reset\ndata: {\"reason\":\"x\"}\n\n"
            + "id: 2\ndata: {\"seq\":2,\"data\":{\"t\":7}}\n\n";

        var cases = new (string Name, string Wire, string Expected)[]
        {
            ("retry preamble, LF", "retry: 3000\n\n" + Body, "5,7,-1x1"),
            ("retry preamble, CRLF", ("retry: 3000\n\n" + Body).Replace("\n", "\r\n", StringComparison.Ordinal), "5,7,-1x1"),
            ("CR-only line ends", ("retry: 3000\n\n" + Body).Replace("\n", "\r", StringComparison.Ordinal), "5,7,-1x1"),
            ("retry sharing a frame with an event", "retry: 3000\nid: 9\ndata: {\"data\":{\"t\":9}}\n\n", "9,-1x0"),
            ("no retry line: nothing consumed", Body, "5,7,-1x1"),
            ("incomplete last frame not dispatched", "data: {\"t\":1}\n\ndata: {\"t\":2}\n", "1,-1x0"),
        };

        foreach (var (name, wire, expected) in cases)
        {
            var viaSseParser = await ParseWithSseParserAsync(wire, trickle: false, ct);
            Check($"SseParser: {name} (got {viaSseParser})", viaSseParser == expected);
            Check($"SseParser byte-at-a-time: {name}", await ParseWithSseParserAsync(wire, trickle: true, ct) == expected);
            Check($"push parser: {name}", ParseWithPushParser(wire, 1 << 20) == expected);
            Check($"push parser byte-at-a-time: {name}", ParseWithPushParser(wire, 1) == expected);
            Check($"chunked decoder: {name}", DecodeChunked(wire, 3) == expected + "|end");
        }

        // Where SseParser deviates from the WHATWG algorithm (it keeps the event type of a frame that
        // had no data, and reports "event:" with an empty value as type ""), the push parser follows
        // the spec, so a data-less reset frame cannot mis-type the next real event.
        Check("push parser: data-less frame resets event type", ParseWithPushParser("event: switchboard.reset\n\ndata: {\"t\":4}\n\n", 5) == "4,-1x0");
        Check("push parser: empty event field means message", ParseWithPushParser("data: {\"t\":1}\nevent: other\n\ndata: {\"t\":2}\nevent:\n\n", 7) == "2,-1x1");

        // Randomised cross-check: the allocation-free push parser must agree with the inbox SseParser.
        var random = new Random(12345);
        var agree = 0;
        const int Streams = 300;
        for (var i = 0; i < Streams; i++)
        {
            var wire = RandomStream(random);
            var oracle = await ParseWithSseParserAsync(wire, trickle: false, ct);
            var split = random.Next(1, 40);
            if (ParseWithPushParser(wire, split) == oracle && DecodeChunked(wire, split) == oracle + "|end")
            {
                agree++;
            }
            else
            {
                Console.WriteLine($"  mismatch: SseParser {oracle} push {ParseWithPushParser(wire, split)} on: {wire.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}");
            }
        }

        Check($"push parser agrees with SseParser on {Streams} random streams", agree == Streams);

        try
        {
            await SseHttpSubscriber.ReadPreambleAsync(new MemoryStream([]), ct);
            Check("empty stream rejected", false);
        }
        catch (IOException)
        {
            Check("empty stream rejected", true);
        }

        try
        {
            new HttpResponseDecoder().Feed("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"u8, new SseFrameParser(new CollectingSink()));
            Check("non-200 stream rejected", false);
        }
        catch (InvalidDataException)
        {
            Check("non-200 stream rejected", true);
        }

        var untilClose = new CollectingSink();
        var decoder = new HttpResponseDecoder();
        var more = decoder.Feed(Encoding.UTF8.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {\"t\":3}\n\n"), new SseFrameParser(untilClose));
        Check("unchunked body read until close", more && decoder.StatusCode == 200 && untilClose.ToString() == "3,-1x0");
    }

    private static string RandomStream(Random random)
    {
        string[] terminators = ["\n", "\r\n", "\r"];
        var sb = new StringBuilder();
        if (random.Next(2) == 0)
        {
            sb.Append("retry: 3000\n\n");
        }

        for (var frames = random.Next(0, 8); frames > 0; frames--)
        {
            var nl = terminators[random.Next(terminators.Length)];
            var lines = new List<string>();
            for (var n = random.Next(0, 4); n > 0; n--)
            {
                lines.Add(random.Next(8) switch
                {
                    0 => ": comment",
                    1 => "event: switchboard.reset",
                    2 => "event: message",
                    3 => "id: c" + random.Next(100),
                    4 => "retry: 10",
                    5 => "data",
                    _ => $"data: {{\"seq\":{random.Next(100)},\"data\":{{\"t\":{random.Next(1_000_000)}}}}}",
                });
            }

            // Stay inside the subset where SseParser follows the spec (see the checks above).
            if (lines.Any(l => l.StartsWith("event", StringComparison.Ordinal)) && !lines.Any(l => l.StartsWith("data", StringComparison.Ordinal)))
            {
                lines.Add("data");
            }

            foreach (var line in lines)
            {
                sb.Append(line).Append(nl);
            }

            sb.Append(nl);
        }

        return sb.ToString();
    }

    /// <summary>Returns "t1,t2,...,-1xN" where N counts non-bench frames.</summary>
    private static async Task<string> ParseWithSseParserAsync(string wire, bool trickle, CancellationToken ct)
    {
        Stream raw = new MemoryStream(Encoding.UTF8.GetBytes(wire));
        if (trickle)
        {
            raw = new TrickleStream(raw);
        }

        Stream stream;
        try
        {
            stream = await SseHttpSubscriber.ReadPreambleAsync(raw, ct);
        }
        catch (IOException)
        {
            // No complete line at all: nothing to dispatch either.
            return ",-1x0";
        }

        await using (stream)
        {
            var sink = new CollectingSink();
            await foreach (var item in SseParser.Create(stream, SseHttpSubscriber.ParseItem).EnumerateAsync(ct))
            {
                sink.Add(item.Data);
            }

            return sink.ToString();
        }
    }

    private static string ParseWithPushParser(string wire, int pieceSize)
    {
        var sink = new CollectingSink();
        var parser = new SseFrameParser(sink);
        var bytes = Encoding.UTF8.GetBytes(wire);
        for (var i = 0; i < bytes.Length; i += pieceSize)
        {
            parser.Feed(bytes.AsSpan(i, Math.Min(pieceSize, bytes.Length - i)));
        }

        return sink.ToString();
    }

    /// <summary>Wraps <paramref name="wire"/> in a chunked HTTP response (odd chunk sizes, an extension) and decodes it.</summary>
    private static string DecodeChunked(string wire, int pieceSize)
    {
        var body = Encoding.UTF8.GetBytes(wire);
        var response = new MemoryStream();
        response.Write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
        for (int i = 0, size = 1; i < body.Length; i += size, size = size % 7 + 1)
        {
            var n = Math.Min(size, body.Length - i);
            response.Write(Encoding.ASCII.GetBytes(n.ToString("x", CultureInfo.InvariantCulture) + (size == 3 ? ";ext=1" : string.Empty) + "\r\n"));
            response.Write(body, i, n);
            response.Write("\r\n"u8);
        }

        response.Write("0\r\n\r\n"u8);

        var sink = new CollectingSink();
        var parser = new SseFrameParser(sink);
        var decoder = new HttpResponseDecoder();
        var bytes = response.ToArray();
        var ended = false;
        for (var i = 0; i < bytes.Length && !ended; i += pieceSize)
        {
            ended = !decoder.Feed(bytes.AsSpan(i, Math.Min(pieceSize, bytes.Length - i)), parser);
        }

        return sink + (ended ? "|end" : "|open");
    }

    private sealed class CollectingSink : ISseSink
    {
        private readonly List<long> _values = [];
        private int _control;

        public void Add(long timestamp)
        {
            if (timestamp == Subscriber.NotABenchEvent)
            {
                _control++;
            }
            else
            {
                _values.Add(timestamp);
            }
        }

        public void OnEvent(bool isDefaultType, ReadOnlySpan<byte> data) => Add(SseFrameParser.TimestampOf(isDefaultType, data));

        public void OnLine(bool isRetry)
        {
        }

        public override string ToString() => string.Join(',', _values) + $",-1x{_control}";
    }

    /// <summary>Returns one byte per read, to exercise line reassembly across reads.</summary>
    private sealed class TrickleStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 1));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer[..Math.Min(buffer.Length, 1)], cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
