using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.WebSockets;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>
/// The keep-alive over real sockets: the node's sweep pings quiet peers with WebSocket ping frames and drops the ones
/// that stop answering, with the runtime's per-socket keep-alive off.
/// </summary>
public sealed class WebSocketKeepAliveTests
{
    private const int Ping = 0x9;
    private const int Pong = 0xA;
    private const int Text = 0x1;

    private static WebSocketConnectionCounter Counter(HubServer server) => server.App.Services.GetRequiredService<WebSocketConnectionCounter>();

    private static ConnectionSweep Sweep(HubServer server) => server.App.Services.GetRequiredService<ConnectionSweep>();

    [Fact]
    public async Task DeadPeer_UpgradedThenNeverReadsOrAnswers_IsPingedThenDroppedWithinTheTimeout()
    {
        var logs = new LogCapture();
        await using var server = await HubServer.StartAsync(
            o =>
            {
                o.WebSockets.KeepAliveInterval = TimeSpan.FromMilliseconds(300);
                o.WebSockets.KeepAliveTimeout = TimeSpan.FromSeconds(1);
            },
            services: s => s.AddSingleton<ILoggerProvider>(logs));

        // A hand-written client that completes the upgrade and then neither reads nor sends, its TCP connection open.
        using var ghost = await RawWebSocket.HandshakeAsync(server, "/v1/ws?name=ghost");
        Assert.True(ghost.Status == 101, ghost.ResponseHead);
        var upgraded = System.Diagnostics.Stopwatch.StartNew();
        await Waiting.UntilAsync(() => Counter(server).Open == 1, "the ghost to be connected");

        await Waiting.UntilAsync(() => Counter(server).Open == 0, "the silent peer to be dropped", TimeSpan.FromSeconds(15));
        var dropped = upgraded.Elapsed;
        Assert.Contains(logs.Entries, e => e.EventId.Id == 304 && e.Message.Contains("ghost", StringComparison.Ordinal));
        Assert.True(dropped < TimeSpan.FromSeconds(10), $"dropped after {dropped}");
        await Waiting.UntilAsync(() => Sweep(server).Count == 0, "the sweep to let go of the dropped connection");

        // What the server sent meanwhile is still in the ghost's socket buffer: a ping, and then nothing (no close
        // frame, as from the runtime's keep-alive: a peer that does not read gets none).
        var first = await ghost.ReadFrameAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(first);
        Assert.Equal(Ping, first.Value.Opcode);
        Assert.Null(await ghost.ReadFrameAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task QuietPeer_ThatAnswersPings_IsPingedRepeatedlyAndStaysOpen()
    {
        var interval = TimeSpan.FromMilliseconds(300);
        var timeout = TimeSpan.FromMilliseconds(700);
        await using var server = await HubServer.StartAsync(o =>
        {
            o.WebSockets.KeepAliveInterval = interval;
            o.WebSockets.KeepAliveTimeout = timeout;
        });
        using var peer = await RawWebSocket.HandshakeAsync(server, "/v1/ws?name=quiet");
        Assert.True(peer.Status == 101, peer.ResponseHead);

        // Sends nothing of its own, only the pongs: enough pings to span several times interval + timeout.
        const int Pings = 8;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pings = new List<TimeSpan>();
        while (pings.Count < Pings)
        {
            var frame = await peer.ReadFrameAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(frame);
            Assert.Equal(Ping, frame.Value.Opcode);
            pings.Add(clock.Elapsed);
            await peer.SendPongAsync(frame.Value.Payload);
        }

        Assert.Equal(1, Counter(server).Open);
        Assert.True(pings[^1] - pings[0] > 2 * (interval + timeout), $"pings at {string.Join(", ", pings)}");
        // Pings wait for the interval to pass since the last pong; they do not go out every tick.
        Assert.All(pings.Zip(pings.Skip(1)), pair => Assert.True(pair.Second - pair.First >= interval * 0.9, $"pings at {string.Join(", ", pings)}"));

        await peer.SendTextAsync("""{"op":"ping","id":"p"}""");
        var reply = await NextNonPingAsync(peer);
        Assert.Equal(Text, reply.Opcode);
        Assert.Equal("""{"op":"pong","id":"p"}""", Encoding.UTF8.GetString(reply.Payload));
    }

    [Fact]
    public async Task BusyPeer_ThatKeepsSending_IsNotPingedAndStaysOpen()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.WebSockets.KeepAliveInterval = TimeSpan.FromSeconds(2);
            o.WebSockets.KeepAliveTimeout = TimeSpan.FromSeconds(2);
        });
        using var peer = await RawWebSocket.HandshakeAsync(server, "/v1/ws?name=busy");
        Assert.True(peer.Status == 101, peer.ResponseHead);

        // Messages every 100 ms for 5 s: a frame from the peer far more often than the 2 s interval (a loaded test
        // machine can stall a client for a second, rarely for two), so no ping is due, and the peer never answering
        // pings does not matter. Pinging by the connection's age instead would ping twice in this time.
        var frames = new List<(int Opcode, byte[] Payload)>();
        for (var i = 0; i < 50; i++)
        {
            await peer.SendTextAsync($$"""{"op":"ping","id":{{i}}}""");
            var reply = await peer.ReadFrameAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(reply);
            frames.Add(reply.Value);
            await Task.Delay(100);
        }

        Assert.DoesNotContain(frames, f => f.Opcode == Ping);
        Assert.Equal(50, frames.Count(f => f.Opcode == Text));
        Assert.Equal(1, Counter(server).Open);
    }

    [Fact]
    public async Task HubSocket_QuietForLongerThanIntervalAndTimeout_StaysOpen_TheRuntimeClientAnswersThePings()
    {
        var logs = new LogCapture();
        await using var server = await HubServer.StartAsync(
            o =>
            {
                o.WebSockets.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
                o.WebSockets.KeepAliveTimeout = TimeSpan.FromMilliseconds(600);
            },
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        await using var socket = await HubSocket.ConnectAsync(server, "client");
        await socket.SubscribeAsync("s", ["chat.quiet"]);
        var start = DateTimeOffset.UtcNow;
        await Waiting.UntilAsync(() => DateTimeOffset.UtcNow - start > TimeSpan.FromSeconds(3), "several keep-alive periods to pass");

        Assert.Equal(1, Counter(server).Open);
        Assert.False(logs.Contains(304), "a client that answers pings was dropped as dead");
        await socket.AssertPingPongAsync();
    }

    private static async Task<(int Opcode, byte[] Payload)> NextNonPingAsync(RawWebSocket peer)
    {
        while (true)
        {
            var frame = await peer.ReadFrameAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(frame);
            if (frame.Value.Opcode != Ping)
            {
                return frame.Value;
            }

            await peer.SendPongAsync(frame.Value.Payload);
        }
    }
}
