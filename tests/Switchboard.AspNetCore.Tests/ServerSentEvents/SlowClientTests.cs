using System.Net.Sockets;
using System.Text;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Xunit.Abstractions;

namespace Switchboard.AspNetCore.Tests.ServerSentEvents;

public sealed class SlowClientTests(ITestOutputHelper output)
{
    private const int Batches = 30;
    private const int PerBatch = 100;
    private const int Total = Batches * PerBatch;

    [Fact]
    public async Task Stream_ClientThatNeverReads_DoesNotSlowOtherStreamsOrGrowMemory()
    {
        await using var server = await ObservedEventLog.StartServerAsync();
        var log = ObservedEventLog.Of(server);
        using var client = server.CreateClient();
        var start = await client.CursorNowAsync("load.x");

        // The slow subscriber: a raw socket with a small receive buffer that sends its GET and never reads.
        using var slow = new TcpClient { ReceiveBufferSize = 4096 };
        await slow.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port).Within();
        await slow.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /v1/stream?topic=load.*&after={start} HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nAccept: text/event-stream\r\n\r\n")).AsTask().Within();
        await using var reader = await SseReader.OpenAsync(client, $"v1/stream?topic=load.x&after={start}");
        await Waiting.UntilAsync(() => log.ReadThrough("load.*") is not null && log.ReadThrough("load.x") is not null, "both streams to start reading");

        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var receiving = ReceiveNsAsync(reader);
        var pad = new string('p', 2000);
        long lastSeq = 0;
        for (var batch = 0; batch < Batches; batch++)
        {
            var body = "[" + string.Join(",", Enumerable.Range(batch * PerBatch, PerBatch).Select(n => $$$"""{"topic":"load.x","data":{"n":{{{n}}},"pad":"{{{pad}}}"}}""")) + "]";
            lastSeq = (await client.PublishBatchAsync(body))[^1].Seq();
        }

        var received = await receiving.Within(TimeSpan.FromSeconds(45));
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        var slowReadThrough = log.ReadThrough("load.*");

        output.WriteLine($"slow stream read through {slowReadThrough} of {lastSeq}; managed memory {memoryBefore / 1024} KB -> {memoryAfter / 1024} KB");
        Assert.Equal(Enumerable.Range(0, Total), received);
        Assert.True(slowReadThrough < lastSeq, $"The slow stream read through {slowReadThrough} of {lastSeq}: it was never held back, so the test did not exercise a slow client.");
        var growth = memoryAfter - memoryBefore;
        Assert.True(growth < 100L * 1024 * 1024, $"Managed memory grew by {growth / (1024 * 1024)} MB.");
        // The slow subscriber really was a live stream: its first bytes are waiting, unread, in its socket.
        Assert.True(slow.Available > 0, "The slow subscriber received nothing at all.");
        var head = new byte[Math.Min(slow.Available, 512)];
        var read = await slow.GetStream().ReadAsync(head).AsTask().Within();
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(head, 0, read), StringComparison.Ordinal);
    }

    /// <summary>Reads <see cref="Total"/> items and keeps only their <c>n</c>, so the payloads don't count as server memory.</summary>
    private static async Task<List<int>> ReceiveNsAsync(SseReader reader)
    {
        var ns = new List<int>(Total);
        while (ns.Count < Total)
        {
            var item = await reader.NextAsync(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException($"The stream ended after {ns.Count} events.");
            ns.Add(HubApi.Parse(item.Data).N());
        }

        return ns;
    }
}
