using Switchboard.Presence;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>How members are counted: a name once per room, on one node (connections) and across nodes (Redis entries).</summary>
public sealed class PresenceCountingTests
{
    private sealed class Listener : IPresenceListener
    {
        public void OnPresenceChanged(string room, IReadOnlyList<string> members, string? joined, string? left)
        {
        }
    }

    [Fact]
    public void RoomConnections_TwoConnectionsOfOneName_CountOnce_FirstJoinsAndLastLeaves()
    {
        var room = new RoomConnections();
        var tab1 = new Listener();
        var tab2 = new Listener();

        Assert.True(room.Add("1", "alice", tab1, out var firstAdd));
        Assert.True(room.Add("2", "alice", tab2, out var secondAdd));
        Assert.False(room.Add("2", "alice", tab2, out _));
        Assert.True(room.Add("3", "bob", new Listener(), out var bobFirst));
        var names = room.Names();
        Assert.True(room.Remove("1", out var firstName, out var firstWasLast));
        var afterFirst = room.Names();
        Assert.True(room.Remove("2", out _, out var secondWasLast));
        Assert.False(room.Remove("2", out _, out _));

        Assert.True(firstAdd);
        Assert.False(secondAdd);
        Assert.True(bobFirst);
        Assert.Equal(["alice", "bob"], names);
        Assert.Equal("alice", firstName);
        Assert.False(firstWasLast);
        Assert.Equal(["alice", "bob"], afterFirst);
        Assert.True(secondWasLast);
        Assert.Equal(["bob"], room.Names());
        Assert.Single(room.Listeners());
        Assert.False(room.IsEmpty);
    }

    [Fact]
    public void RoomConnections_Listeners_LeaveOutTheOneAsked()
    {
        var room = new RoomConnections();
        var joiner = new Listener();
        var other = new Listener();
        room.Add("1", "alice", joiner, out _);
        room.Add("2", "bob", other, out _);

        Assert.Equal([other], room.Listeners(except: joiner));
    }

    [Fact]
    public void PresenceRegistry_SecondTabJoinsSilently_AndTheNameLeavesWithTheLastTab()
    {
        var registry = new PresenceRegistry();
        var bob = new RecordingListener();
        registry.Join("r", "b", "bob", bob);
        registry.Join("r", "a1", "alice", new RecordingListener());
        registry.Join("r", "a2", "alice", new RecordingListener());
        registry.Leave("r", "a1");
        var beforeLastTab = bob.Notices.ToList();
        registry.Leave("r", "a2");

        Assert.Equal(["(alice,bob) +alice"], beforeLastTab);
        Assert.Equal(["(alice,bob) +alice", "(bob) -alice"], bob.Notices);
        Assert.Equal(["bob"], registry.Members("r"));
    }

    [Fact]
    public void Entries_OneNameOnTwoNodes_IsOneMember_AndStaysWhileEitherEntryLives()
    {
        var entries = new List<RedisPresenceEntry>
        {
            new("node1", "alice", 2_000),
            new("node2", "alice", 5_000),
            new("node2", "bob", 5_000),
        };

        Assert.Equal(["alice", "bob"], RedisPresenceEntry.Names(entries, nowMs: 1_000));
        // node1's entry expired (its node stopped refreshing): alice is still on node2.
        Assert.Equal(["alice", "bob"], RedisPresenceEntry.Names(entries, nowMs: 3_000));
        Assert.Empty(RedisPresenceEntry.Names(entries, nowMs: 5_000));
    }

    [Fact]
    public void Entries_NextForeignExpiry_IgnoresThisNodesOwnAndExpiredEntries()
    {
        var entries = new List<RedisPresenceEntry>
        {
            new("me", "alice", 1_500),
            new("other", "bob", 900),
            new("other", "carol", 4_000),
            new("third", "dave", 3_000),
        };

        Assert.Equal(3_000, RedisPresenceEntry.NextForeignExpiry(entries, "me", nowMs: 1_000));
        Assert.Null(RedisPresenceEntry.NextForeignExpiry([new("me", "alice", 9_000)], "me", nowMs: 1_000));
    }

    [Fact]
    public void Entries_Member_RoundTripsNamesWithColons()
    {
        Assert.True(RedisPresenceEntry.TryParse(RedisPresenceEntry.Member("abc123", "team:ops"), 7, out var entry));
        Assert.Equal(new RedisPresenceEntry("abc123", "team:ops", 7), entry);
        Assert.False(RedisPresenceEntry.TryParse("no-colon", 7, out _));
    }

    [Fact]
    public void Changes_JoinsThenLeaves_EachWithTheMembersAfterIt()
    {
        var changes = RedisPresenceEntry.Changes(["alice", "carol"], ["alice", "bob"]);

        Assert.Equal(2, changes.Count);
        Assert.Equal((new[] { "alice", "bob", "carol" }, "bob", (string?)null), (changes[0].Members, changes[0].Joined, changes[0].Left), new ChangeComparer());
        Assert.Equal((new[] { "alice", "bob" }, (string?)null, "carol"), (changes[1].Members, changes[1].Joined, changes[1].Left), new ChangeComparer());
        Assert.Empty(RedisPresenceEntry.Changes(["alice"], ["alice"]));
    }

    private sealed class ChangeComparer : IEqualityComparer<(string[] Members, string? Joined, string? Left)>
    {
        public bool Equals((string[] Members, string? Joined, string? Left) x, (string[] Members, string? Joined, string? Left) y) =>
            x.Members.SequenceEqual(y.Members) && x.Joined == y.Joined && x.Left == y.Left;

        public int GetHashCode((string[] Members, string? Joined, string? Left) obj) => 0;
    }

    private sealed class RecordingListener : IPresenceListener
    {
        public List<string> Notices { get; } = [];

        public void OnPresenceChanged(string room, IReadOnlyList<string> members, string? joined, string? left) =>
            Notices.Add($"({string.Join(",", members)}) " + (joined is not null ? "+" + joined : "-" + left));
    }
}
