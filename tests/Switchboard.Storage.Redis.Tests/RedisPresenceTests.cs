using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>WebSocket presence under the Redis store: one room across three nodes, as one hub.</summary>
public sealed class RedisPresenceTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const string Room = "chat.lobby";

    /// <summary>Short, so a dead node's members leave quickly; each node refreshes every quarter of it.</summary>
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    private static void ShortTtl(RedisStoreOptions options) => options.PresenceTtl = Ttl;

    [Fact]
    public async Task ThreeNodes_ClientsOnEachJoin_EveryNodeListsEveryMemberAndTellsItsClientsOfEachJoin()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, redisOptions: ShortTtl);
        await using var alice = await PresenceSocket.ConnectAsync(nodes[1].BaseAddress, "alice");
        await using var bob = await PresenceSocket.ConnectAsync(nodes[2].BaseAddress, "bob");
        await using var carol = await PresenceSocket.ConnectAsync(nodes[3].BaseAddress, "carol");

        var aliceAlone = await alice.JoinAsync("a", Room);
        var bobSees = await bob.JoinAsync("b", Room);
        var aliceSeesBob = await alice.JoinedAsync(Room, "bob");
        var carolSees = await carol.JoinAsync("c", Room);
        var aliceSeesCarol = await alice.JoinedAsync(Room, "carol");
        var bobSeesCarol = await bob.JoinedAsync(Room, "carol");

        Assert.Equal(["alice"], aliceAlone);
        Assert.Equal(["alice", "bob"], bobSees);
        Assert.Equal("""{"op":"presence","topic":"chat.lobby","members":["alice","bob"],"joined":"bob"}""", aliceSeesBob.GetRawText());
        Assert.Equal(["alice", "bob", "carol"], carolSees);
        Assert.Equal(["alice", "bob", "carol"], PresenceSocket.Members(aliceSeesCarol));
        Assert.Equal(["alice", "bob", "carol"], PresenceSocket.Members(bobSeesCarol));
        foreach (var client in new[] { alice, bob, carol })
        {
            Assert.Equal(["alice", "bob", "carol"], await client.MembersAsync(Room));
        }

        for (var node = 1; node <= 3; node++)
        {
            using var http = nodes[node].CreateClient();
            var body = JsonDocument.Parse(await http.GetStringAsync($"v1/topics/{Room}/presence")).RootElement;
            Assert.Equal(Room, body.GetProperty("topic").GetString());
            Assert.Equal(["alice", "bob", "carol"], PresenceSocket.Members(body));
        }
    }

    [Fact]
    public async Task LeaveOnOneNode_ByUnsubscribeOrClose_IsSeenOnTheOthers()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, redisOptions: ShortTtl);
        await using var alice = await PresenceSocket.ConnectAsync(nodes[1].BaseAddress, "alice");
        await using var bob = await PresenceSocket.ConnectAsync(nodes[2].BaseAddress, "bob");
        await using var carol = await PresenceSocket.ConnectAsync(nodes[3].BaseAddress, "carol");
        await alice.JoinAsync("a", Room);
        await bob.JoinAsync("b", Room);
        await carol.JoinAsync("c", Room);
        await alice.JoinedAsync(Room, "carol");
        await bob.JoinedAsync(Room, "carol");

        var unsubscribed = await bob.RequestAsync("""{"op":"unsubscribe","id":"u","subscription":"b"}""");
        var aliceSeesBobLeave = await alice.LeftAsync(Room, "bob");
        var carolSeesBobLeave = await carol.LeftAsync(Room, "bob");
        await carol.CloseAsync();
        var aliceSeesCarolLeave = await alice.LeftAsync(Room, "carol");

        Assert.Equal("ack", unsubscribed.GetProperty("op").GetString());
        Assert.Equal("""{"op":"presence","topic":"chat.lobby","members":["alice","carol"],"left":"bob"}""", aliceSeesBobLeave.GetRawText());
        Assert.Equal(["alice", "carol"], PresenceSocket.Members(carolSeesBobLeave));
        Assert.Equal("""{"op":"presence","topic":"chat.lobby","members":["alice"],"left":"carol"}""", aliceSeesCarolLeave.GetRawText());
        Assert.Equal(["alice"], await bob.MembersAsync(Room));
    }

    [Fact]
    public async Task SameNameOnTwoNodes_IsOneMember_WhoLeavesOnlyWithTheLastConnection()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, redisOptions: ShortTtl);
        await using var bob = await PresenceSocket.ConnectAsync(nodes[3].BaseAddress, "bob");
        await using var aliceTab1 = await PresenceSocket.ConnectAsync(nodes[1].BaseAddress, "alice");
        await using var aliceTab2 = await PresenceSocket.ConnectAsync(nodes[2].BaseAddress, "alice");
        await bob.JoinAsync("b", Room);
        await aliceTab1.JoinAsync("a", Room);
        await bob.JoinedAsync(Room, "alice");
        var secondTab = await aliceTab2.JoinAsync("a", Room);

        await aliceTab1.CloseAsync();
        // Longer than a refresh and a re-read, so a leave announced for the first tab would have arrived by now.
        await Waiting.UntilAsync(() => NodeHasNoConnectionsOf(nodes[1]), "node 1 to drop the first tab");
        var afterFirstTab = await bob.MembersAsync(Room);
        var noticesMeanwhile = bob.Pending();
        await aliceTab2.CloseAsync();
        var left = await bob.LeftAsync(Room, "alice");

        Assert.Equal(["alice", "bob"], secondTab);
        Assert.Equal(["alice", "bob"], afterFirstTab);
        Assert.DoesNotContain(noticesMeanwhile, m => m.TryGetProperty("joined", out _) || m.TryGetProperty("left", out _));
        Assert.Equal("""{"op":"presence","topic":"chat.lobby","members":["bob"],"left":"alice"}""", left.GetRawText());
    }

    [Fact]
    public async Task NodeKilledWithSigkill_ItsMembersLeaveOnTheSurvivingNodesWithinTheTtl()
    {
        using var directory = new TempDirectory();
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2, redisOptions: ShortTtl);
        await using var doomed = await ServeProcess.StartAsync(directory.Path, new Dictionary<string, string>
        {
            ["Switchboard__Redis__KeyPrefix"] = nodes.Prefix,
            ["Switchboard__Redis__PresenceTtl"] = Ttl.ToString(),
        }, "--urls", "http://127.0.0.1:0", "--store", "redis", "--redis", redis.Server.Configuration);
        await using var alice = await PresenceSocket.ConnectAsync(nodes[1].BaseAddress, "alice");
        await using var bob = await PresenceSocket.ConnectAsync(nodes[2].BaseAddress, "bob");
        await using var carol = await PresenceSocket.ConnectAsync(doomed.BaseAddress, "carol");
        await using var dave = await PresenceSocket.ConnectAsync(doomed.BaseAddress, "dave");
        await alice.JoinAsync("a", Room);
        await bob.JoinAsync("b", Room);
        await carol.JoinAsync("c", Room);
        await dave.JoinAsync("d", Room);
        await alice.JoinedAsync(Room, "dave");
        await bob.JoinedAsync(Room, "dave");
        Assert.Equal(["alice", "bob", "carol", "dave"], await alice.MembersAsync(Room));

        await doomed.KillAsync();
        var killed = Stopwatch.StartNew();
        await alice.LeftAsync(Room, "carol", Ttl * 4);
        await alice.LeftAsync(Room, "dave", Ttl * 4);
        await bob.LeftAsync(Room, "carol", Ttl * 4);
        await bob.LeftAsync(Room, "dave", Ttl * 4);
        var elapsed = killed.Elapsed;

        // Within the TTL (the dead node's last refresh was before the kill), plus slack for a busy machine.
        Assert.True(elapsed < Ttl + TimeSpan.FromSeconds(2), $"the dead node's members left after {elapsed.TotalSeconds:0.00} s");
        Assert.Equal(["alice", "bob"], await alice.MembersAsync(Room));
        Assert.Equal(["alice", "bob"], await bob.MembersAsync(Room));
        using var http = nodes[2].CreateClient();
        var body = JsonDocument.Parse(await http.GetStringAsync($"v1/topics/{Room}/presence")).RootElement;
        Assert.Equal(["alice", "bob"], PresenceSocket.Members(body));
    }

    [Fact]
    public async Task RedisDown_PresenceOpsAnswerStoreUnavailable_HttpAnswers503_AndTheNodeKeepsServing()
    {
        await using var own = await RedisServer.StartAsync();
        await using var node = await Nodes.StartNodeAsync(own, $"hub{Guid.NewGuid():N}:", redisOptions: ShortTtl);
        await using var alice = await PresenceSocket.ConnectAsync(node.BaseAddress, "alice");
        await alice.JoinAsync("a", Room);

        await own.StopAsync();
        var query = await alice.RequestAsync("""{"op":"presence","id":"q","topic":"chat.lobby"}""");
        var join = await alice.RequestAsync("""{"op":"subscribe","id":"s2","topics":["chat.other"],"presence":true}""");
        using var http = node.CreateClient();
        using var response = await http.GetAsync($"v1/topics/{Room}/presence");
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var pong = await alice.RequestAsync("""{"op":"ping","id":"p"}""");

        Assert.Equal("""{"op":"error","id":"q","code":"store_unavailable"}""", Without(query, "message"));
        Assert.Equal("""{"op":"error","id":"s2","code":"store_unavailable"}""", Without(join, "message"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("store-unavailable", problem.GetProperty("code").GetString());
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal("pong", pong.GetProperty("op").GetString());
        // The refused subscription does not exist: unsubscribing it is an error, not an ack.
        var unsubscribe = await alice.RequestAsync("""{"op":"unsubscribe","id":"u","subscription":"s2"}""");
        Assert.Equal("not_subscribed", unsubscribe.GetProperty("code").GetString());
    }

    [Fact]
    public async Task HttpPresence_BadTopic_Is400Problem()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 1, redisOptions: ShortTtl);
        using var http = nodes[1].CreateClient();

        using var response = await http.GetAsync("v1/topics/bad..topic/presence");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private static bool NodeHasNoConnectionsOf(HubServer node) =>
        ((Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Switchboard.AspNetCore.WebSockets.WebSocketConnectionCounter>(node.App.Services)).Open == 0);

    private static string Without(JsonElement message, string property)
    {
        var copy = message.EnumerateObject().Where(p => p.Name != property).ToDictionary(p => p.Name, p => p.Value);
        return JsonSerializer.Serialize(copy);
    }
}
