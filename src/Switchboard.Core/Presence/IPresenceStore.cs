namespace Switchboard.Presence;

/// <summary>Receives presence changes for the rooms a member has joined.</summary>
public interface IPresenceListener
{
    /// <summary>Called after a change; <paramref name="joined"/> or <paramref name="left"/> names who changed it.</summary>
    void OnPresenceChanged(string room, IReadOnlyList<string> members, string? joined, string? left);
}

/// <summary>
/// Where room presence lives: this node's memory (<see cref="PresenceRegistry"/>, the default) or a store every node of
/// the hub shares (the Redis store registers one). A member is a name; the same name on several connections, on one
/// node or on several, is one member, who joins with the first connection and leaves with the last.
/// </summary>
public interface IPresenceStore
{
    /// <summary>The members of <paramref name="room"/>, sorted (ordinal). A shared store that cannot be reached throws its store fault.</summary>
    ValueTask<IReadOnlyList<string>> MembersAsync(string room, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds a connection to a room and returns the member list for the joiner. The room's other listeners on this node
    /// are told <c>joined</c> when the name is new to the room; the joiner's listener receives only later changes. A
    /// shared store that cannot be reached throws its store fault, and the connection is not in the room.
    /// </summary>
    ValueTask<IReadOnlyList<string>> JoinAsync(string room, string connectionId, string name, IPresenceListener listener, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes a connection from a room; when it was its name's last, the others are told <c>left</c>. Never throws for a
    /// store fault: a connection that is gone must leave, so a shared store lets the member expire instead.
    /// </summary>
    ValueTask LeaveAsync(string room, string connectionId, CancellationToken cancellationToken = default);
}
