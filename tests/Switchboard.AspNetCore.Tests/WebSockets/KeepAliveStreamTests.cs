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
