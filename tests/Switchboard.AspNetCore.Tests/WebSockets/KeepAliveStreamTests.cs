using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Switchboard.AspNetCore.WebSockets;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>The stream under the server's WebSocket: pings only between frames, and the time of the last bytes received.</summary>
public sealed class KeepAliveStreamTests
{
    private static readonly byte[] Ping = [0x89, 0x08, .. "swbdping"u8];

    [Fact]
    public async Task TryPing_InsideAFrame_Refuses_AndAtTheNextBoundaryWritesAWholePingFrame()
    {
        var wire = new MemoryStream();
        using var stream = new KeepAliveStream(wire, new FakeTimeProvider());
        byte[] header = [0x81, 0x05];
        var payload = "hello"u8.ToArray();

        await stream.WriteAsync(header);
        Assert.False(stream.TryPing());
        await stream.WriteAsync(payload.AsMemory(0, 3));
        Assert.False(stream.TryPing());
        await stream.WriteAsync(payload.AsMemory(3));
        Assert.True(stream.TryPing());

        Assert.Equal([.. header, .. payload, .. Ping], wire.ToArray());
    }

    [Theory]
    [InlineData(300)] // 16-bit length
    [InlineData(70_000)] // 64-bit length
    public async Task TryPing_FollowsExtendedLengths_EvenWithTheHeaderSplitAcrossWrites(int length)
    {
        var wire = new MemoryStream();
        using var stream = new KeepAliveStream(wire, new FakeTimeProvider());
        var frame = new List<byte> { 0x82 };
        if (length <= ushort.MaxValue)
        {
            frame.AddRange([126, (byte)(length >> 8), (byte)length]);
        }
        else
        {
            frame.Add(127);
            frame.AddRange(BitConverter.GetBytes((ulong)length).Reverse());
        }

        var headerLength = frame.Count;
        frame.AddRange(new byte[length]);
        var bytes = frame.ToArray();

        for (var i = 0; i < headerLength; i++)
        {
            await stream.WriteAsync(bytes.AsMemory(i, 1));
            Assert.False(stream.TryPing());
        }

        await stream.WriteAsync(bytes.AsMemory(headerLength, length - 1));
        Assert.False(stream.TryPing());
        await stream.WriteAsync(bytes.AsMemory(headerLength + length - 1));
        Assert.True(stream.TryPing());
        Assert.Equal(Ping, wire.ToArray()[^Ping.Length..]);
    }

    [Fact]
    public async Task RuntimeWebSocketOverTheStream_MessagesAndPingsComeOutAsWholeFrames()
    {
        var wire = new MemoryStream();
        var stream = new KeepAliveStream(wire, new FakeTimeProvider());
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });

        await socket.SendAsync(Encoding.UTF8.GetBytes("""{"op":"pong","id":1}"""), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        Assert.True(stream.TryPing());
        await socket.SendAsync(new byte[200], WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        Assert.True(stream.TryPing());

        Assert.Equal([0x1, 0x9, 0x1, 0x9], Opcodes(wire.ToArray()));
    }

    [Fact]
    public async Task LastReceived_MovesWhenBytesArrive_NotOnAnEmptyRead()
    {
        var time = new FakeTimeProvider();
        var wire = new MemoryStream([1, 2, 3]);
        using var stream = new KeepAliveStream(wire, time);
        var opened = stream.LastReceived;

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, await stream.ReadAsync(Memory<byte>.Empty));
        Assert.Equal(opened, stream.LastReceived);
        Assert.Equal(3, await stream.ReadAsync(new byte[8]));
        Assert.Equal(TimeSpan.FromSeconds(5), time.GetElapsedTime(opened, stream.LastReceived));
    }

    [Fact]
    public async Task Corked_MessagesLeaveInOneWrite_AtUncork_InOrder()
    {
        var (wire, stream, socket) = ServerSocketOverCountingStream();
        using var _ = socket;

        stream.Cork();
        for (var i = 0; i < 5; i++)
        {
            var send = socket.SendAsync(Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            Assert.True(send.IsCompletedSuccessfully, "a corked send completes at once");
        }

        Assert.Equal(0, wire.Writes);
        Assert.False(stream.TryPing(), "a ping must not overtake the frames the cork holds");
        await stream.UncorkAsync();

        Assert.Equal(1, wire.Writes);
        Assert.Equal([0x1, 0x1, 0x1, 0x1, 0x1], Opcodes(wire.ToArray()));
        Assert.Contains("{\"n\":4}", Encoding.UTF8.GetString(wire.ToArray()), StringComparison.Ordinal);
        Assert.True(stream.TryPing());
        Assert.Equal(2, wire.Writes);
    }

    [Fact]
    public async Task Corked_AFrameOverTheLimit_SendsWhatIsHeldFirst_ThenItself()
    {
        var (wire, stream, socket) = ServerSocketOverCountingStream();
        using var _ = socket;

        stream.Cork();
        await socket.SendAsync("small"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        var big = new byte[KeepAliveStream.CorkLimit + 1];
        big.AsSpan().Fill((byte)'x');
        await socket.SendAsync(big, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        await socket.SendAsync("after"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        await stream.UncorkAsync();

        var text = Encoding.ASCII.GetString(wire.ToArray());
        Assert.True(text.IndexOf("small", StringComparison.Ordinal) < text.IndexOf('x', StringComparison.Ordinal));
        Assert.True(text.LastIndexOf('x') < text.IndexOf("after", StringComparison.Ordinal));
        Assert.Equal([0x1, 0x1, 0x1], Opcodes(wire.ToArray()));
        Assert.True(wire.Writes <= 4, $"{wire.Writes} writes for three messages");
    }

    [Fact]
    public async Task Uncorked_EachMessageIsItsOwnWrite()
    {
        var (wire, stream, socket) = ServerSocketOverCountingStream();
        using var _ = socket;

        await socket.SendAsync("one"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        await socket.SendAsync("two"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        await stream.UncorkAsync(); // nothing held: no write

        Assert.Equal(2, wire.Writes);
    }

    private static (CountingStream Wire, KeepAliveStream Stream, WebSocket Socket) ServerSocketOverCountingStream()
    {
        var wire = new CountingStream();
        var stream = new KeepAliveStream(wire, new FakeTimeProvider());
        return (wire, stream, WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero }));
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 3)]
    public async Task WebSocketSends_OverAWriteThroughStream_DoNotFlushIt_ButEveryByteArrives(bool writesThrough, int expectedFlushes)
    {
        var wire = new CountingStream();
        using var stream = new KeepAliveStream(wire, new FakeTimeProvider(), innerWritesThrough: writesThrough);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });

        foreach (var text in new[] { "a", "bb", "ccc" })
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        }

        Assert.Equal(3, wire.Writes);
        Assert.Equal(expectedFlushes, wire.Flushes);
        Assert.Equal([1, 1, 1], Opcodes(wire.ToArray()));
        Assert.Equal(2 + 1 + 2 + 2 + 2 + 3, wire.Length);
    }

    /// <summary>A memory stream that counts the async writes reaching it (the runtime's WebSocket writes only those), as Kestrel's stream turns each into a flush.</summary>
    private sealed class CountingStream : MemoryStream
    {
        public int Writes { get; private set; }

        public int Flushes { get; private set; }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return base.FlushAsync(cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            return base.WriteAsync(buffer, cancellationToken);
        }
    }

    /// <summary>The opcodes of the unmasked frames in <paramref name="bytes"/>.</summary>
    private static List<int> Opcodes(byte[] bytes)
    {
        var opcodes = new List<int>();
        var at = 0;
        while (at < bytes.Length)
        {
            opcodes.Add(bytes[at] & 0x0F);
            long length = bytes[at + 1] & 0x7F;
            at += 2;
            if (length == 126)
            {
                length = (bytes[at] << 8) | bytes[at + 1];
                at += 2;
            }
            else if (length == 127)
            {
                length = BitConverter.ToInt64(bytes.AsSpan(at, 8).ToArray().Reverse().ToArray());
                at += 8;
            }

            at += (int)length;
        }

        return opcodes;
    }
}
