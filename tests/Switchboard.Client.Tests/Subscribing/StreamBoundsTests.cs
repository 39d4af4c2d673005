using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Subscribing;

/// <summary>What the client buffers stays bounded even when the other end misbehaves (the hub itself never sends such lines).</summary>
public sealed class StreamBoundsTests
{
    [Fact]
    public async Task Sse_LineThatNeverEnds_DropsTheConnectionAtMaxMessageBytes_InsteadOfBufferingWithoutBound()
    {
        // An endpoint that answers every SSE request with a stream whose one line never ends: up to 64 MiB of it.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var connections = 0;
        long sent = 0;
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var socket = await listener.AcceptTcpClientAsync(stop.Token);
                Interlocked.Increment(ref connections);
                _ = Task.Run(async () =>
                {
                    using var client = socket;
                    var stream = client.GetStream();
                    try
                    {
                        var request = new byte[8192];
                        _ = await stream.ReadAsync(request, stop.Token);
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\nretry: 1000\n\ndata: "), stop.Token);
                        var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
                        for (var i = 0; i < 1024; i++)
                        {
                            await stream.WriteAsync(chunk, stop.Token);
                            Interlocked.Add(ref sent, chunk.Length);
                        }

                        await Task.Delay(Timeout.Infinite, stop.Token);
                    }
                    catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
                    {
                        // the client dropped the connection, or the test is over
                    }
                });
            }
        });

        var options = new SwitchboardClientOptions
        {
            BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/"),
            MaxMessageBytes = 256 * 1024,
            InitialReconnectDelay = TimeSpan.FromMilliseconds(20),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
        };
        options.Transports.Clear();
        options.Transports.Add(SwitchboardTransport.ServerSentEvents);
        using var client = new SwitchboardClient(options);
        using var cancel = new CancellationTokenSource();
        var subscribing = Task.Run(async () =>
        {
            await foreach (var _ in client.SubscribeAsync(["room"], "earliest", cancel.Token))
            {
            }
        });

        // Without a bound the client reads the whole 64 MiB into one line and waits for its end for ever; with it, it
        // drops the connection early and reconnects.
        await Waiting.UntilAsync(() => Volatile.Read(ref connections) >= 2, "a reconnect after the over-long line");
        Assert.True(Interlocked.Read(ref sent) < 32L * 1024 * 1024, $"{Interlocked.Read(ref sent)} bytes were taken in before the connection was dropped");

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => subscribing).WaitAsync(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        listener.Stop();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => serving).WaitAsync(TimeSpan.FromSeconds(10));
    }
}
