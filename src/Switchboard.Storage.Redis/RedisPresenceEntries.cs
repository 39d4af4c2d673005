using StackExchange.Redis;

namespace Switchboard.Storage.Redis;

/// <summary>
/// One room's members in Redis: a sorted set <c>{prefix}presence:{room}</c> whose members are <c>{node}:{name}</c>,
/// each scored with the Unix time (ms) it expires at unless its node refreshes it. A name is in the room while any
/// node holds an unexpired entry for it, so two tabs on two nodes are one member.
/// </summary>
internal readonly record struct RedisPresenceEntry(string Node, string Name, long ExpiresAtMs)
{
    /// <summary>The sorted-set member for <paramref name="name"/> held by <paramref name="node"/>; node ids have no colon.</summary>
    public static string Member(string node, string name) => node + ":" + name;

    public static bool TryParse(string member, long expiresAtMs, out RedisPresenceEntry entry)
    {
        var colon = member.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == member.Length - 1)
        {
            entry = default;
            return false;
        }

        entry = new RedisPresenceEntry(member[..colon], member[(colon + 1)..], expiresAtMs);
        return true;
    }

    /// <summary>Reads the reply of <c>ZRANGEBYSCORE ... WITHSCORES</c> from a script: member, score, member, score, ...</summary>
    public static List<RedisPresenceEntry> FromScript(RedisResult reply)
    {
        var items = (RedisResult[])reply!;
        var entries = new List<RedisPresenceEntry>(items.Length / 2);
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            if (TryParse((string)items[i]!, (long)(double)items[i + 1], out var entry))
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    public static List<RedisPresenceEntry> FromScores(SortedSetEntry[] reply)
    {
        var entries = new List<RedisPresenceEntry>(reply.Length);
        foreach (var item in reply)
        {
            if (TryParse((string)item.Element!, (long)item.Score, out var entry))
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    /// <summary>The room's members: the distinct names of the entries alive at <paramref name="nowMs"/>, sorted (ordinal).</summary>
    public static string[] Names(IEnumerable<RedisPresenceEntry> entries, long nowMs) =>
        [.. entries.Where(e => e.ExpiresAtMs > nowMs).Select(e => e.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>When the first entry another node holds expires, if it is not refreshed: the moment a dead node's member leaves.</summary>
    public static long? NextForeignExpiry(IEnumerable<RedisPresenceEntry> entries, string node, long nowMs)
    {
        long? next = null;
        foreach (var entry in entries)
        {
            if (entry.Node != node && entry.ExpiresAtMs > nowMs && (next is null || entry.ExpiresAtMs < next))
            {
                next = entry.ExpiresAtMs;
            }
        }

        return next;
    }

    /// <summary>
    /// The notices that take a room from <paramref name="previous"/> to <paramref name="current"/> members, one per name:
    /// joins first, then leaves, each with the member list after it.
    /// </summary>
    public static List<(string[] Members, string? Joined, string? Left)> Changes(IReadOnlyList<string> previous, IReadOnlyList<string> current)
    {
        var changes = new List<(string[], string?, string?)>();
        var members = new SortedSet<string>(previous, StringComparer.Ordinal);
        var before = new HashSet<string>(previous, StringComparer.Ordinal);
        var after = new HashSet<string>(current, StringComparer.Ordinal);
        foreach (var name in current.Where(n => !before.Contains(n)))
        {
            members.Add(name);
            changes.Add(([.. members], name, null));
        }

        foreach (var name in previous.Where(n => !after.Contains(n)))
        {
            members.Remove(name);
            changes.Add(([.. members], null, name));
        }

        return changes;
    }
}
