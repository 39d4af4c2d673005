namespace Switchboard.Presence;

/// <summary>
/// Presence in this node's memory: the default <see cref="IPresenceStore"/>, for one node. A member is a name; the same
/// name on two connections (two tabs) is one member, who joins with the first connection and leaves with the last.
/// </summary>
public sealed class PresenceRegistry : IPresenceStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, RoomConnections> _rooms = new(StringComparer.Ordinal);

    /// <summary>The members of <paramref name="room"/>, sorted.</summary>
    public IReadOnlyList<string> Members(string room)
    {
        lock (_gate)
        {
            return _rooms.TryGetValue(room, out var state) ? state.Names() : [];
        }
    }

    /// <summary>Adds a connection to a room, tells the others if its name is new there, and returns the members for the joiner.</summary>
    public IReadOnlyList<string> Join(string room, string connectionId, string name, IPresenceListener listener)
    {
        string[] members;
        List<IPresenceListener> notify;
        lock (_gate)
        {
            if (!_rooms.TryGetValue(room, out var state))
            {
                state = new RoomConnections();
                _rooms[room] = state;
            }

            var added = state.Add(connectionId, name, listener, out var firstOfName);
            members = state.Names();
            if (!added || !firstOfName)
            {
                return members; // nothing changed for the others
            }

            notify = state.Listeners(except: listener);
        }

        foreach (var target in notify)
        {
            target.OnPresenceChanged(room, members, name, null);
        }

        return members;
    }

    /// <summary>Removes a connection from a room and tells the others if its name left.</summary>
    public void Leave(string room, string connectionId)
    {
        string[] members;
        List<IPresenceListener> notify;
        string name;
        lock (_gate)
        {
            if (!_rooms.TryGetValue(room, out var state) || !state.Remove(connectionId, out name, out var lastOfName))
            {
                return;
            }

            if (state.IsEmpty)
            {
                _rooms.Remove(room);
            }

            if (!lastOfName)
            {
                return; // another connection of the same member is still here
            }

            members = state.Names();
            notify = state.Listeners();
        }

        foreach (var target in notify)
        {
            target.OnPresenceChanged(room, members, null, name);
        }
    }

    ValueTask<IReadOnlyList<string>> IPresenceStore.MembersAsync(string room, CancellationToken cancellationToken) => ValueTask.FromResult(Members(room));

    ValueTask<IReadOnlyList<string>> IPresenceStore.JoinAsync(string room, string connectionId, string name, IPresenceListener listener, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Join(room, connectionId, name, listener));

    ValueTask IPresenceStore.LeaveAsync(string room, string connectionId, CancellationToken cancellationToken)
    {
        Leave(room, connectionId);
        return ValueTask.CompletedTask;
    }
}
