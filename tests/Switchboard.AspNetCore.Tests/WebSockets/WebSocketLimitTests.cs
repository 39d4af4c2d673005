using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>The per-connection limits, each with the close code or error it ends in.</summary>
public sealed class WebSocketLimitTests
{
    [Fact]
    public async Task Receive_MessageOfExactlyMaxMessageBytes_IsServed()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxMessageBytes = 1024);
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SendAsync(PaddedPing("at-limit", 1024), WebSocketMessageType.Text);
        var reply = await socket.ReceiveAsync();

        Assert.Equal("""{"op":"pong","id":"at-limit"}""", reply.GetRawText());
    }

    [Fact]
    public async Task Receive_MessageOverMaxMessageBytes_ClosesWith1009()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxMessageBytes = 1024);
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SendAsync(PaddedPing("over", 1025), WebSocketMessageType.Text);
        var (status, description) = await socket.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
        Assert.Contains("1024", description, StringComparison.Ordinal);
        Assert.Empty(socket.Pending());
    }

    [Fact]
    public async Task Receive_OversizedMessageSentInSmallFrames_ClosesWith1009()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxMessageBytes = 1024);
        await using var socket = await HubSocket.ConnectAsync(server);
        var message = PaddedPing("fragmented", 4000);

        for (var offset = 0; offset < message.Length && socket.Socket.State == WebSocketState.Open; offset += 100)
        {
            var end = Math.Min(offset + 100, message.Length);
            try
            {
                await socket.Socket.SendAsync(message.AsMemory(offset, end - offset), WebSocketMessageType.Text, end == message.Length, CancellationToken.None);
            }
            catch (WebSocketException)
            {
                break; // the server closed mid-message, as it should
            }
        }

        var (status, _) = await socket.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
    }

    [Fact]
    public async Task Receive_OversizedMessageStillArriving_GetsItsCloseFrame_NotAReset()
    {
        // A client (the npm ws package, for one) writes a whole fragmented message without waiting. The hub stops
        // reading at the limit; if it then closed the TCP connection with the rest unread, the kernel would answer with a
        // reset and the client would see the connection drop (1006) instead of the 1009 sent just before.
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxMessageBytes = 1024);
        var fragment = Encoding.UTF8.GetBytes(new string('x', 1024));
        var frames = new List<byte>(RawWebSocket.Frame(0x1, Encoding.UTF8.GetBytes("{\"op\":\"ping\",\"id\":\""), fin: false));
        for (var i = 0; i < 256; i++)
        {
            frames.AddRange(RawWebSocket.Frame(0x0, fragment, fin: false));
        }

        frames.AddRange(RawWebSocket.Frame(0x0, Encoding.UTF8.GetBytes("\"}"), fin: true));
        for (var attempt = 0; attempt < 5; attempt++)
        {
            using var socket = await RawWebSocket.HandshakeAsync(server);
            Assert.Equal(101, socket.Status);
            var writing = socket.WriteRawAsync([.. frames]);

            var (opcode, payload) = await socket.ReadFrameAsync(TimeSpan.FromSeconds(10))
                ?? throw new Xunit.Sdk.XunitException($"attempt {attempt}: the connection dropped before a close frame came");
            Assert.Equal(0x8, opcode);
            Assert.Equal((int)WebSocketCloseStatus.MessageTooBig, (payload[0] << 8) | payload[1]);

            // The client's answer completes the close; its writes were all taken, none refused by a reset.
            await socket.SendFrameAsync(0x8, payload[..2]);
            await writing;
        }
    }

    [Fact]
    public async Task Receive_UnfinishedMessageJustPastTheLimit_ClosesWith1009_WithoutWaitingForMore()
    {
        // The server holds at most the limit and one byte of a message: 1,100 bytes of a message that never ends must
        // already be refused (a buffer rounded up to the pool's 2,048 would wait for more).
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxMessageBytes = 1024);
        await using var socket = await HubSocket.ConnectAsync(server);
        var fragment = Encoding.UTF8.GetBytes(new string(' ', 100));

        for (var sent = 0; sent < 1100 && socket.Socket.State == WebSocketState.Open; sent += fragment.Length)
        {
            try
            {
                await socket.Socket.SendAsync(fragment, WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
            }
            catch (WebSocketException)
            {
                break;
            }
        }

        var (status, _) = await socket.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
    }

    [Fact]
    public async Task Receive_BinaryMessage_ClosesWith1003()
    {
        await using var server = await HubServer.StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SendAsync(Encoding.UTF8.GetBytes("""{"op":"ping","id":"b"}"""), WebSocketMessageType.Binary);
        var (status, description) = await socket.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, status);
        Assert.Contains("text", description, StringComparison.Ordinal);
        Assert.Empty(socket.Pending());
    }

    [Fact]
    public async Task Send_OverMaxMessagesPerSecond_ExcessGetsRateLimitedErrorsAndConnectionStaysOpen()
    {
        const int Burst = 20;
        await using var server = await HubServer.StartAsync(o =>
        {
            o.WebSockets.MaxMessagesPerSecond = 5;
            o.WebSockets.MaxRateLimitViolations = 1000;
        });
        await using var socket = await HubSocket.ConnectAsync(server);

        for (var i = 0; i < Burst; i++)
        {
            await socket.SendAsync($$"""{"op":"ping","id":{{i}}}""");
        }

        var replies = new List<JsonElement>();
        for (var i = 0; i < Burst; i++)
        {
            replies.Add(await socket.ReceiveAsync());
        }

        var pongs = replies.Count(r => r.Op() == "pong");
        var limited = replies.Where(r => r.Op() == "error").ToList();
        // A burst is over in milliseconds; even if it straddles a one-second window, at most twice the limit passes.
        Assert.InRange(pongs, 5, 10);
        Assert.Equal(Burst, pongs + limited.Count);
        Assert.All(limited, e => Assert.Equal("rate_limited", e.Str("code")));
        Assert.Equal(WebSocketState.Open, socket.Socket.State);
        // Once the window has passed, requests are served again (re-asked while still limited).
        var attempt = 0;
        await Eventually.UntilAsync(async () =>
        {
            var id = $"again-{attempt++}";
            await socket.SendAsync($$"""{"op":"ping","id":"{{id}}"}""");
            // Replies come in request order: the next one is this ping's pong or its (id-less) rate_limited error.
            var reply = await socket.WaitForAsync(m => m.Op() == "pong" || m.Op() == "error", "the reply to " + id);
            Assert.True(reply.Op() == "pong" ? reply.Str("id") == id : reply.Str("code") == "rate_limited", reply.GetRawText());
            return reply.Op() == "pong";
        }, "a ping served after the rate window", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Send_PersistentRateLimitViolations_ClosesWith1008()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.WebSockets.MaxMessagesPerSecond = 2;
            o.WebSockets.MaxRateLimitViolations = 3;
        });
        await using var socket = await HubSocket.ConnectAsync(server);

        for (var i = 0; i < 10 && socket.Socket.State == WebSocketState.Open; i++)
        {
            try
            {
                await socket.SendAsync($$"""{"op":"ping","id":{{i}}}""");
            }
            catch (WebSocketException)
            {
                break;
            }
        }

        var (status, description) = await socket.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Contains("rate limit", description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribe_OverMaxSubscriptionsPerConnection_ErrorsUntilOneIsRemoved()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxSubscriptionsPerConnection = 2);
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("one", ["limit.one"]);
        await socket.SubscribeAsync("two", ["limit.two"]);

        var refused = await socket.RequestAsync("""{"op":"subscribe","id":"three","topics":["limit.three"]}""");
        await socket.RequestAsync("""{"op":"unsubscribe","id":"u","subscription":"one"}""");
        var accepted = await socket.RequestAsync("""{"op":"subscribe","id":"three","topics":["limit.three"]}""");

        Assert.Equal(("error", "too_many_subscriptions", "three"), (refused.Op(), refused.Str("code"), refused.Str("id")));
        Assert.Equal("ack", accepted.Op());
        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Publish_DataOverMaxEventBytes_ErrorsPayloadTooLargeAndStoresNothing()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxEventBytes = 1024);
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        var big = new string('x', 1100);

        var refused = await socket.RequestAsync($$"""{"op":"publish","id":"big","topic":"chat.big","data":"{{big}}"}""");
        var fits = await socket.RequestAsync($$"""{"op":"publish","id":"fits","topic":"chat.big","data":"{{big[..1000]}}"}""");

        Assert.Equal(("error", "payload_too_large", "big"), (refused.Op(), refused.Str("code"), refused.Str("id")));
        Assert.Equal("ack", fits.Op());
        Assert.Equal([fits.GetProperty("seq").GetInt64()], (await client.PollAsync("topic=chat.big&after=earliest")).Seqs);
    }

    [Fact]
    public async Task StopAsync_ServerShuttingDown_ClosesOpenConnectionsWith1001()
    {
        await using var server = await HubServer.StartAsync();
        await using var idle = await HubSocket.ConnectAsync(server);
        await using var subscribed = await HubSocket.ConnectAsync(server, "member");
        await subscribed.JoinAsync("room", "chat.shutdown");

        var stopping = server.App.StopAsync();
        var idleClose = await idle.WaitForCloseAsync();
        var subscribedClose = await subscribed.WaitForCloseAsync();
        await stopping.Within();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, idleClose.Status);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, subscribedClose.Status);
        Assert.Equal("server shutting down", subscribedClose.Description);
    }

    /// <summary>A ping padded with a <c>pad</c> field to exactly <paramref name="bytes"/> bytes of UTF-8.</summary>
    private static byte[] PaddedPing(string id, int bytes)
    {
        var empty = $$"""{"op":"ping","id":"{{id}}","pad":""}""";
        var message = Encoding.UTF8.GetBytes(empty.Insert(empty.Length - 2, new string('p', bytes - empty.Length)));
        Assert.Equal(bytes, message.Length);
        return message;
    }
}
