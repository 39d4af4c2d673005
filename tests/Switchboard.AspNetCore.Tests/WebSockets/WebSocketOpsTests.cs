using System.Net.WebSockets;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>Each client operation of switchboard.v1 and the shape of its replies.</summary>
public sealed class WebSocketOpsTests
{
    [Fact]
    public async Task Connect_WithSubprotocol_NegotiatesSwitchboardV1()
    {
        await using var server = await HubServer.StartAsync();

        await using var socket = await HubSocket.ConnectAsync(server);

        Assert.Equal(WebSocketState.Open, socket.Socket.State);
        Assert.Equal("switchboard.v1", socket.Socket.SubProtocol);
    }

    [Fact]
    public async Task Ping_WithStringOrNumberId_AnswersPongEchoingTheId()
    {
        await using var server = await HubServer.StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server);

        var text = await socket.RequestAsync("""{"op":"ping","id":"p-1"}""");
        var number = await socket.RequestAsync("""{"op":"ping","id":42}""");

        Assert.Equal("""{"op":"pong","id":"p-1"}""", text.GetRawText());
        Assert.Equal("""{"op":"pong","id":42}""", number.GetRawText());
    }

    [Theory]
    [InlineData("""{"op":"ping","id":{"n":1}}""")]
    [InlineData("""{"op":"ping","id":[1]}""")]
    [InlineData("""{"op":"ping","id":true}""")]
    [InlineData("""{"op":"presence","id":{"n":1},"topic":"room.1"}""")]
    [InlineData("""{"op":"subscribe","id":{"n":1},"topics":["orders"]}""")]
    public async Task AnIdThatCannotBeEchoed_IsAnInvalidFieldError_ForEveryOp_AndTheConnectionGoesOn(string message)
    {
        await using var server = await HubServer.StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SendAsync(message);
        var answer = await socket.WaitForAsync(m => m.Op() is "pong" or "presence" or "ack" or "error", "the answer to " + message);

        // Not a pong (or presence, or a "missing id" error) that drops the id: the client is told what is wrong with it.
        Assert.Equal("error", answer.Op());
        Assert.Equal("invalid_field", answer.Str("code"));
        Assert.Contains("\"id\" must be a string or a number", answer.Str("message"), StringComparison.Ordinal);
        Assert.False(answer.TryGetProperty("id", out _));
        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Subscribe_ExactTopic_AcksWithCursorThenDeliversEventsWithFullShape()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);

        var ack = await socket.SubscribeAsync("s1", ["orders.eu"]);
        var published = await client.PublishAsync("orders.eu", """{"type":"order.created","data":{"n":7,"text":"hi"}}""");
        var message = await socket.ReceiveAsync();

        Assert.Equal(["op", "id", "cursor"], ack.EnumerateObject().Select(p => p.Name));
        Assert.Equal("s1", ack.Str("id"));
        // The ack's cursor is where the subscription starts: "latest" at subscribe time, just before the event.
        Assert.Equal(published.Seq() - 1, SocketMessages.CursorSeq(ack.Str("cursor")));
        Assert.Equal(["op", "subscription", "cursor", "event"], message.EnumerateObject().Select(p => p.Name));
        Assert.Equal("event", message.Op());
        Assert.Equal("s1", message.Str("subscription"));
        // The event is exactly what the HTTP API returns for it: seq, topic, type, time, data.
        Assert.Equal(published.GetRawText(), message.Event().GetRawText());
        Assert.Equal(["seq", "topic", "type", "time", "data"], message.Event().EnumerateObject().Select(p => p.Name));
        Assert.Equal("order.created", message.Event().Str("type"));
        // The event's cursor resumes right after it.
        Assert.Empty((await client.PollAsync("topic=orders.eu&after=" + message.Str("cursor"))).Events);
        Assert.Equal([published.Seq()], (await client.PollAsync("topic=orders.eu&after=" + ack.Str("cursor"))).Seqs);
    }

    [Fact]
    public async Task Subscribe_WildcardPatterns_DeliversOnlyMatchingTopics()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("wild", ["metrics.*.cpu", "alerts.>"]);

        await client.PublishAsync("metrics.a.cpu", """{"data":{"n":1}}""");
        await client.PublishAsync("metrics.a.mem", """{"data":{"n":2}}""");
        await client.PublishAsync("metrics.a.b.cpu", """{"data":{"n":3}}""");
        await client.PublishAsync("alerts", """{"data":{"n":4}}""");
        await client.PublishAsync("alerts.disk.full", """{"data":{"n":5}}""");
        await client.PublishAsync("metrics.b.cpu", """{"data":{"n":6}}""");
        var events = await socket.EventsAsync("wild", 3);

        Assert.Equal([1, 5, 6], events.Select(e => e.EventN()));
        Assert.Equal(["metrics.a.cpu", "alerts.disk.full", "metrics.b.cpu"], events.Select(e => e.Event().Str("topic")));
    }

    [Fact]
    public async Task Subscribe_TwoSubscriptionsOnOneConnection_EachGetsItsOwnCopyTaggedWithItsId()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("all", ["shop.>"]);
        await socket.SubscribeAsync("carts", ["shop.carts"]);

        var published = await client.PublishAsync("shop.carts", """{"data":{"n":1}}""");
        var first = await socket.ReceiveAsync();
        var second = await socket.ReceiveAsync();

        Assert.Equal(["all", "carts"], new[] { first.Str("subscription"), second.Str("subscription") }.Order(StringComparer.Ordinal));
        Assert.All(new[] { first, second }, m => Assert.Equal(published.Seq(), m.EventSeq()));
    }

    [Fact]
    public async Task Unsubscribe_BySubscriptionId_AcksAndStopsOnlyThatSubscription()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("gone", ["unsub.x"]);
        await socket.SubscribeAsync("kept", ["unsub.x"]);

        var ack = await socket.RequestAsync("""{"op":"unsubscribe","id":"u1","subscription":"gone"}""");
        await client.PublishAsync("unsub.x", """{"data":{"n":1}}""");
        await client.PublishAsync("unsub.x", """{"data":{"n":2}}""");
        var received = new List<JsonElement> { await socket.ReceiveAsync(), await socket.ReceiveAsync() };

        Assert.Equal("""{"op":"ack","id":"u1"}""", ack.GetRawText());
        Assert.Equal(["kept", "kept"], received.Select(m => m.Str("subscription")));
        Assert.Equal([1, 2], received.Select(m => m.EventN()));
        // The id is free again.
        await socket.SubscribeAsync("gone", ["unsub.y"]);
    }

    [Fact]
    public async Task Unsubscribe_ByTopics_RemovesEverySubscriptionHavingThatPattern()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("a", ["topics.x"]);
        await socket.SubscribeAsync("b", ["topics.y", "topics.x"]);
        await socket.SubscribeAsync("c", ["topics.>"]);

        var ack = await socket.RequestAsync("""{"op":"unsubscribe","id":"u","topics":["topics.x"]}""");
        await client.PublishAsync("topics.x", """{"data":{"n":1}}""");
        await client.PublishAsync("topics.y", """{"data":{"n":2}}""");
        var received = new List<JsonElement> { await socket.ReceiveAsync(), await socket.ReceiveAsync() };
        var again = await socket.RequestAsync("""{"op":"unsubscribe","id":"u2","subscription":"a"}""");

        Assert.Equal("ack", ack.Op());
        Assert.Equal(["c", "c"], received.Select(m => m.Str("subscription")));
        Assert.Equal("error", again.Op());
        Assert.Equal("not_subscribed", again.Str("code"));
    }

    [Fact]
    public async Task Publish_ToChatTopic_AcksWithSeqAndCursorAndStoresTheEvent()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("room", ["chat.lobby"]);

        var ack = await socket.RequestAsync("""{"op":"publish","id":"m1","topic":"chat.lobby","type":"chat.message","data":{"text":"hello","n":1}}""");
        var echo = await socket.WaitForAsync(m => m.Op() == "event", "the published event");
        var untyped = await socket.RequestAsync("""{"op":"publish","id":"m2","topic":"chat.lobby","data":"plain"}""");

        Assert.Equal(["op", "id", "seq", "cursor"], ack.EnumerateObject().Select(p => p.Name));
        Assert.Equal("ack", ack.Op());
        Assert.Equal("m1", ack.Str("id"));
        var stored = Assert.Single((await client.PollAsync("topic=chat.lobby&after=earliest&limit=1")).Events);
        Assert.Equal(stored.Seq(), ack.GetProperty("seq").GetInt64());
        Assert.Equal(stored.GetRawText(), echo.Event().GetRawText());
        Assert.Equal("chat.message", stored.Str("type"));
        Assert.Equal("""{"text":"hello","n":1}""", stored.GetProperty("data").GetRawText());
        Assert.Equal(ack.Str("cursor"), echo.Str("cursor"));
        Assert.Equal("ack", untyped.Op());
        var second = (await client.PollAsync("topic=chat.lobby&after=" + ack.Str("cursor"))).Events.Single();
        Assert.Equal("message", second.Str("type"));
        Assert.Equal("\"plain\"", second.GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task Publish_OutsidePublishablePatterns_ErrorsForbiddenAndStoresNothing()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.Publishable = ["chat.>", "games.*.moves"]);
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);

        var forbidden = await socket.RequestAsync("""{"op":"publish","id":"p1","topic":"orders","data":{}}""");
        var alsoForbidden = await socket.RequestAsync("""{"op":"publish","id":"p2","topic":"chat","data":{}}""");
        var allowed = await socket.RequestAsync("""{"op":"publish","id":"p3","topic":"games.g1.moves","data":{}}""");

        Assert.Equal(("error", "forbidden"), (forbidden.Op(), forbidden.Str("code")));
        Assert.Equal("p1", forbidden.Str("id"));
        Assert.Equal(("error", "forbidden"), (alsoForbidden.Op(), alsoForbidden.Str("code")));
        Assert.Equal("ack", allowed.Op());
        Assert.Empty((await client.PollAsync("topic=orders&after=earliest")).Events);
        Assert.Empty((await client.PollAsync("topic=chat&after=earliest")).Events);
    }

    [Fact]
    public async Task Presence_Query_ReturnsTheRoomsMembersSorted()
    {
        await using var server = await HubServer.StartAsync();
        await using var bob = await HubSocket.ConnectAsync(server, "bob");
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await using var observer = await HubSocket.ConnectAsync(server, "observer");
        await bob.JoinAsync("r", "chat.room1");
        await alice.JoinAsync("r", "chat.room1");

        var reply = await observer.RequestAsync("""{"op":"presence","id":"q","topic":"chat.room1"}""");
        var empty = await observer.RequestAsync("""{"op":"presence","id":"q2","topic":"chat.nobody"}""");

        Assert.Equal("""{"op":"presence","id":"q","topic":"chat.room1","members":["alice","bob"]}""", reply.GetRawText());
        Assert.Equal("""{"op":"presence","id":"q2","topic":"chat.nobody","members":[]}""", empty.GetRawText());
    }

    [Fact]
    public async Task Close_ByClient_ServerAnswersWithNormalClosure()
    {
        await using var server = await HubServer.StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("s", ["closing"]);

        var status = await socket.CloseAsync();

        Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        Assert.Equal(WebSocketState.Closed, socket.Socket.State);
    }
}
