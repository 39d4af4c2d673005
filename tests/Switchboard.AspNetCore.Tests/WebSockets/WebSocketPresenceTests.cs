using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.WebSockets;
using Switchboard.Presence;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>Rooms: joining with <c>presence: true</c>, and leaving by unsubscribe, close, crash or silence.</summary>
public sealed class WebSocketPresenceTests
{
    private const string Room = "chat.room";

    [Fact]
    public async Task Subscribe_WithPresence_JoinerGetsMembersAndOthersGetJoined()
    {
        await using var server = await HubServer.StartAsync();
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await using var bob = await HubSocket.ConnectAsync(server, "bob");

        var aliceAlone = await alice.JoinAsync("a", Room);
        var bobJoins = await bob.JoinAsync("b", Room);
        var aliceSeesBob = await alice.WaitForAsync(m => m.IsPresence(Room), "alice's notice that bob joined");

        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["alice"]}""", aliceAlone.GetRawText());
        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["alice","bob"]}""", bobJoins.GetRawText());
        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["alice","bob"],"joined":"bob"}""", aliceSeesBob.GetRawText());
    }

    [Fact]
    public async Task Subscribe_WithPresenceOnTwoRooms_JoinsBoth()
    {
        await using var server = await HubServer.StartAsync();
        await using var alice = await HubSocket.ConnectAsync(server, "alice");

        await alice.SubscribeAsync("both", ["chat.one", "chat.two"], presence: true);
        var one = await alice.WaitForAsync(m => m.IsPresence("chat.one"), "presence for chat.one");
        var two = await alice.WaitForAsync(m => m.IsPresence("chat.two"), "presence for chat.two");

        Assert.Equal(["alice"], one.Members());
        Assert.Equal(["alice"], two.Members());
    }

    [Fact]
    public async Task Connect_WithoutName_JoinsAsGuest()
    {
        await using var server = await HubServer.StartAsync();
        await using var anonymous = await HubSocket.ConnectAsync(server);

        var joined = await anonymous.JoinAsync("r", Room);

        Assert.Matches("^guest-[0-9]{4}$", Assert.Single(joined.Members()));
    }

    [Fact]
    public async Task Unsubscribe_PresenceSubscription_OthersGetLeft()
    {
        await using var server = await HubServer.StartAsync();
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await using var bob = await HubSocket.ConnectAsync(server, "bob");
        await alice.JoinAsync("a", Room);
        await bob.JoinAsync("b", Room);
        await alice.WaitForAsync(m => m.IsPresence(Room) && m.Members().Length == 2, "bob in the room");

        var ack = await bob.RequestAsync("""{"op":"unsubscribe","id":"u","subscription":"b"}""");
        var left = await alice.WaitForAsync(m => m.IsPresence(Room), "bob's leave");

        Assert.Equal("ack", ack.Op());
        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["alice"],"left":"bob"}""", left.GetRawText());
    }

    [Fact]
    public async Task Close_PresenceMember_OthersGetLeft()
    {
        await using var server = await HubServer.StartAsync();
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await using var bob = await HubSocket.ConnectAsync(server, "bob");
        await alice.JoinAsync("a", Room);
        await bob.JoinAsync("b", Room);
        await alice.WaitForAsync(m => m.IsPresence(Room) && m.Members().Length == 2, "bob in the room");

        await bob.CloseAsync();
        var left = await alice.WaitForAsync(m => m.IsPresence(Room), "bob's leave");

        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["alice"],"left":"bob"}""", left.GetRawText());
        Assert.Equal(["alice"], Presence(server).Members(Room));
    }

    [Fact]
    public async Task Abort_PresenceMemberDropsTcpWithoutCloseFrame_OthersGetLeft()
    {
        await using var server = await HubServer.StartAsync();
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await using var bob = await HubSocket.ConnectAsync(server, "bob");
        await alice.JoinAsync("a", Room);
        await bob.JoinAsync("b", Room);
        await alice.WaitForAsync(m => m.IsPresence(Room) && m.Members().Length == 2, "bob in the room");

        bob.Abort();
        var left = await alice.WaitForAsync(m => m.IsPresence(Room), "bob's leave");

        Assert.Equal("bob", left.Str("left"));
        Assert.Equal(["alice"], left.Members());
    }

    [Fact]
    public async Task Vanish_PeerStopsAnsweringPings_IsDroppedAndOthersGetLeftAfterKeepAliveTimeout()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            // Short enough to drop the ghost quickly, long enough that alice's pongs are never late on a busy
            // 2-core machine running the other tests in parallel (300 ms once dropped alice too).
            o.WebSockets.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            o.WebSockets.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        });
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await alice.JoinAsync("a", Room);

        // A hand-written client: it upgrades, joins the room, and from then on neither reads nor answers pings,
        // while its TCP connection stays open, as a laptop that went to sleep.
        using var ghost = await RawWebSocket.HandshakeAsync(server, "/v1/ws?name=ghost");
        Assert.True(ghost.Status == 101, ghost.ResponseHead);
        await ghost.SendTextAsync("""{"op":"subscribe","id":"g","topics":["chat.room"],"presence":true}""");
        var joined = await alice.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("joined", out _), "the ghost joining");
        // Alice keeps answering pings (her pump reads), so only the ghost may be dropped.
        var left = await alice.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("left", out _), "the ghost to be dropped", TimeSpan.FromSeconds(10));

        Assert.Equal("ghost", joined.Str("joined"));
        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["alice"],"left":"ghost"}""", left.GetRawText());
        await Waiting.UntilAsync(() => Counter(server).Open == 1, "the ghost's connection to be released");
        await alice.AssertPingPongAsync();
    }

    [Fact]
    public async Task Close_OneOfTwoConnectionsOfTheSameName_StaysAMemberUntilTheLastLeaves()
    {
        await using var server = await HubServer.StartAsync();
        await using var bob = await HubSocket.ConnectAsync(server, "bob");
        await using var aliceTab1 = await HubSocket.ConnectAsync(server, "alice");
        await using var aliceTab2 = await HubSocket.ConnectAsync(server, "alice");
        await bob.JoinAsync("b", Room);
        await aliceTab1.JoinAsync("a", Room);
        await bob.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("joined", out _), "alice joining");
        await aliceTab2.JoinAsync("a", Room);

        await aliceTab1.CloseAsync();
        await Waiting.UntilAsync(() => Counter(server).Open == 2, "the first tab's connection to end");
        // A query is answered after any notice the first tab's leave would have queued for bob.
        var query = await bob.RequestAsync("""{"op":"presence","id":"q","topic":"chat.room"}""");
        var noticesMeanwhile = bob.Pending();
        await aliceTab2.CloseAsync();
        var left = await bob.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("left", out _), "alice's leave");

        Assert.Equal(["alice", "bob"], query.Members());
        // The second tab's join and the first tab's close changed nothing bob should be told about.
        Assert.DoesNotContain(noticesMeanwhile, m => m.TryGetProperty("joined", out _) || m.TryGetProperty("left", out _));
        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["bob"],"left":"alice"}""", left.GetRawText());
    }

    [Fact]
    public async Task Close_ConnectionWithTwoPresenceSubscriptionsForTheSameRoom_OthersGetLeft()
    {
        await using var server = await HubServer.StartAsync();
        await using var bob = await HubSocket.ConnectAsync(server, "bob");
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await bob.JoinAsync("b", Room);
        await alice.JoinAsync("a1", Room);
        await alice.SubscribeAsync("a2", [Room], presence: true);
        await bob.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("joined", out _), "alice joining");

        await alice.CloseAsync();
        var left = await bob.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("left", out _), "alice's leave");

        Assert.Equal("""{"op":"presence","topic":"chat.room","members":["bob"],"left":"alice"}""", left.GetRawText());
        await Waiting.UntilAsync(() => Counter(server).Open == 1, "alice's connection to end");
        Assert.Equal(["bob"], Presence(server).Members(Room));
    }

    [Fact]
    public async Task Unsubscribe_OneOfTwoPresenceSubscriptionsForTheSameRoom_StaysUntilTheSecondGoes()
    {
        await using var server = await HubServer.StartAsync();
        await using var bob = await HubSocket.ConnectAsync(server, "bob");
        await using var alice = await HubSocket.ConnectAsync(server, "alice");
        await bob.JoinAsync("b", Room);
        await alice.JoinAsync("a1", Room);
        await alice.SubscribeAsync("a2", [Room], presence: true);
        await bob.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("joined", out _), "alice joining");

        await alice.RequestAsync("""{"op":"unsubscribe","id":"u1","subscription":"a1"}""");
        var stillThere = await bob.RequestAsync("""{"op":"presence","id":"q","topic":"chat.room"}""");
        var noticesMeanwhile = bob.Pending();
        await alice.RequestAsync("""{"op":"unsubscribe","id":"u2","subscription":"a2"}""");
        var left = await bob.WaitForAsync(m => m.IsPresence(Room) && m.TryGetProperty("left", out _), "alice's leave");

        Assert.Equal(["alice", "bob"], stillThere.Members());
        Assert.DoesNotContain(noticesMeanwhile, m => m.TryGetProperty("left", out _));
        Assert.Equal("alice", left.Str("left"));
    }

    private static PresenceRegistry Presence(HubServer server) => server.App.Services.GetRequiredService<PresenceRegistry>();

    private static WebSocketConnectionCounter Counter(HubServer server) => server.App.Services.GetRequiredService<WebSocketConnectionCounter>();

    [Fact]
    public async Task APresenceStoreBug_IsAnInternalError_AndTheConnectionGoesOn()
    {
        await using var server = await HubServer.StartAsync(services: s => s.AddSingleton<IPresenceStore>(new BrokenPresenceStore()));
        await using var socket = await HubSocket.ConnectAsync(server, "alice");
        await socket.SubscribeAsync("s", [Room]);

        var error = await socket.RequestAsync($$"""{"op":"presence","id":"p","topic":"{{Room}}"}""");

        Assert.Equal("error", error.Op());
        Assert.Equal("internal_error", error.GetProperty("code").GetString());
        Assert.Equal("pong", (await socket.RequestAsync("""{"op":"ping","id":"q"}""")).Op());
        using var client = server.CreateClient();
        await client.PublishAsync(Room);
        Assert.Single(await socket.EventsAsync("s", 1));
    }

    /// <summary>A store with a bug of its own (not a store fault the hub recognizes) in its member list.</summary>
    private sealed class BrokenPresenceStore : IPresenceStore
    {
        public ValueTask<IReadOnlyList<string>> MembersAsync(string room, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("a bug in the store");

        public ValueTask<IReadOnlyList<string>> JoinAsync(string room, string connectionId, string name, IPresenceListener listener, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IReadOnlyList<string>>([name]);

        public ValueTask LeaveAsync(string room, string connectionId, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
