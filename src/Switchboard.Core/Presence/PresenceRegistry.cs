namespace Switchboard.Presence;

/// <summary>Receives presence changes for the rooms a member has joined.</summary>
public interface IPresenceListener
{
    /// <summary>Called after a change; <paramref name="joined"/> or <paramref name="left"/> names who changed it.</summary>
    void OnPresenceChanged(string room, IReadOnlyList<string> members, string? joined, string? left);
}

/// <summary>
/// Who is in which room on this node. A member is a name; the same name on two connections (two tabs) is one
/// member, who joins with the first connection and leaves with the last.
/// </summary>
public sealed class PresenceRegistry
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Room> _rooms = new(StringComparer.Ordinal);

    /// <summary>The members of <paramref name="room"/>, sorted.</summary>
    public IReadOnlyList<string> Members(string room)
    {
        lock (_gate)
        {
            return _rooms.TryGetValue(room, out var state) ? state.Names() : [];
        }
    }

    /// <summary>Adds a connection to a room and tells everyone in it (the joiner included) the new member list.</summary>
    public void Join(string room, string connectionId, string name, IPresenceListener listener)
    {
        IReadOnlyList<string> members;
        List<IPresenceListener> notify;
        bool isNewName;
        lock (_gate)
        {
            if (!_rooms.TryGetValue(room, out var state))
            {
                state = new Room();
                _rooms[room] = state;
            }

            if (state.Connections.ContainsKey(connectionId))
            {
                return;
            }

            isNewName = !state.Connections.Values.Any(c => c.Name == name);
            state.Connections[connectionId] = new Member(name, listener);
            members = state.Names();
            notify = state.Connections.Values.Select(c => c.Listener).ToList();
        }

        foreach (var target in notify)
        {
            target.OnPresenceChanged(room, members, isNewName && target != listener ? name : null, null);
        }
    }

    /// <summary>Removes a connection from a room and tells the others if its name left.</summary>
    public void Leave(string room, string connectionId)
    {
        IReadOnlyList<string> members;
        List<IPresenceListener> notify;
        string name;
        lock (_gate)
        {
            if (!_rooms.TryGetValue(room, out var state) || !state.Connections.Remove(connectionId, out var member))
            {
                return;
            }

            name = member.Name;
            if (state.Connections.Count == 0)
            {
                _rooms.Remove(room);
            }

            if (state.Connections.Values.Any(c => c.Name == name))
            {
                return; // another connection of the same member is still here
            }

            members = state.Names();
            notify = state.Connections.Values.Select(c => c.Listener).ToList();
        }

        foreach (var target in notify)
        {
            target.OnPresenceChanged(room, members, null, name);
        }
    }

    private sealed record Member(string Name, IPresenceListener Listener);

    private sealed class Room
    {
        public Dictionary<string, Member> Connections { get; } = new(StringComparer.Ordinal);

        public IReadOnlyList<string> Names() => Connections.Values.Select(c => c.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }
}
