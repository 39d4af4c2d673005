using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Tests.Monitoring;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Xunit.Abstractions;

namespace Switchboard.AspNetCore.Tests.ServerSentEvents;

/// <summary>
/// A stream whose client stopped reading is cut after <c>Sse:SlowClientTimeout</c>, logged and counted, and not
/// before by Kestrel's minimum data rate; a reconnect with <c>Last-Event-ID</c> gets everything after it.
/// </summary>
public sealed class SlowReaderCutTests(ITestOutputHelper output)
{
    private const int PerBatch = 10;
    private static readonly string Pad = new('p', 30_000);

    [Fact]
    public async Task Stream_ReaderThatStopsReading_IsCutAfterSlowClientTimeout_LoggedCounted_AndResumesWithoutGap()
    {
        var logs = new LogCapture();
        await using var server = await HubServer.StartAsync(o => o.Sse.SlowClientTimeout = TimeSpan.FromMilliseconds(500), services: s => s.AddSingleton<ILoggerProvider>(logs));
        using var metrics = new MetricsRecorder(server);
        using var client = server.CreateClient();
        var start = await client.CursorNowAsync("slow.x");

        using var slow = new TcpClient { ReceiveBufferSize = 4096 };
        await slow.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port).Within();
        await slow.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /v1/stream?topic=slow.x&after={start} HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nAccept: text/event-stream\r\n\r\n")).AsTask().Within();

        // A few small events first, so the reader holds whole events and resumes from a real Last-Event-ID.
        var firstBody = "[" + string.Join(",", Enumerable.Range(0, PerBatch).Select(n => $$$"""{"topic":"slow.x","data":{"n":{{{n}}}}}""")) + "]";
        long lastSeq = (await client.PublishBatchAsync(firstBody))[^1].Seq();
        var published = PerBatch;

        // Publish large events until the hub gives up on the reader; the cut comes from the stream's own timer.
        while (SlowClosed(metrics) == 0 && published < 4000)
        {
            var body = "[" + string.Join(",", Enumerable.Range(published, PerBatch).Select(n => $$$"""{"topic":"slow.x","data":{"n":{{{n}}},"pad":"{{{Pad}}}"}}""")) + "]";
            lastSeq = (await client.PublishBatchAsync(body))[^1].Seq();
            published += PerBatch;
        }

        await Waiting.UntilAsync(() => SlowClosed(metrics) == 1, "the slow stream to be cut");
        Assert.Contains(logs.Entries, e => e.EventId.Id == 320);
        output.WriteLine($"cut after {published} events ({published * Pad.Length / 1024 / 1024} MB published)");

        // The server closed the connection: what it sent before drains, then the socket ends.
        var received = await ReadToEndAsync(slow.GetStream());
        var text = Encoding.UTF8.GetString(Dechunk(received));
        Assert.Contains("retry:", text, StringComparison.Ordinal);
        var lastId = LastCompleteEventId(text);
        Assert.NotNull(lastId);
        output.WriteLine($"the cut reader holds {received.Length} bytes; resumes after {lastId}");
        var resumeSeq = SeqOf(lastId);
        Assert.True(resumeSeq < lastSeq, $"The slow reader got everything ({resumeSeq} of {lastSeq}): it was never held back.");

        // More events after the cut, small ones.
        var republished = lastSeq;
        for (var i = 0; i < 3; i++)
        {
            var body = "[" + string.Join(",", Enumerable.Range(published + i * PerBatch, PerBatch).Select(n => $$$"""{"topic":"slow.x","data":{"n":{{{n}}},"pad":"x"}}""")) + "]";
            republished = (await client.PublishBatchAsync(body))[^1].Seq();
        }

        // Resume exactly where the cut reader's last complete event was: every later event, in order, no gap.
        await using var resumed = await SseReader.OpenAsync(client, "v1/stream?topic=slow.x", lastEventId: lastId);
        var expected = resumeSeq + 1;
        while (expected <= republished)
        {
            var item = await resumed.NextAsync(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException($"The resumed stream ended at {expected}.");
            if (item.EventType != "message" && item.EventId is null)
            {
                continue;
            }

            Assert.Equal(expected, SeqOf(item.EventId!));
            expected++;
        }

        Assert.Equal(1, SlowClosed(metrics));
    }

    private static double SlowClosed(MetricsRecorder metrics) => metrics.Sum("switchboard.connections.slow_closed", "transport=sse");

    private static long SeqOf(string cursor) => long.Parse(cursor[(cursor.LastIndexOf('.') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<byte[]> ReadToEndAsync(NetworkStream stream)
    {
        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                all.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // A reset after the data: the connection is closed all the same.
        }

        return all.ToArray();
    }

    /// <summary>The body of a chunked HTTP/1.1 response, as far as it arrived.</summary>
    private static byte[] Dechunk(byte[] response)
    {
        var text = Encoding.Latin1.GetString(response);
        var at = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(at > 0, "No response headers arrived.");
        Assert.StartsWith("HTTP/1.1 200", text, StringComparison.Ordinal);
        var position = at + 4;
        using var body = new MemoryStream();
        while (position < response.Length)
        {
            var lineEnd = text.IndexOf("\r\n", position, StringComparison.Ordinal);
            if (lineEnd < 0)
            {
                break;
            }

            var size = Convert.ToInt32(text[position..lineEnd].Split(';')[0], 16);
            if (size == 0)
            {
                break;
            }

            var dataStart = lineEnd + 2;
            var available = Math.Min(size, response.Length - dataStart);
            body.Write(response, dataStart, available);
            position = dataStart + size + 2;
        }

        return body.ToArray();
    }

    /// <summary>The id of the last event whose frame arrived whole (an EventSource's Last-Event-ID after the cut).</summary>
    private static string? LastCompleteEventId(string stream)
    {
        string? last = null;
        var frames = stream.Split("\n\n");
        for (var i = 0; i < frames.Length - 1; i++) // the last piece is incomplete (or empty)
        {
            foreach (var line in frames[i].Split('\n'))
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    last = line[4..];
                }
            }
        }

        return last;
    }
}
