namespace Switchboard.Presence;

/// <summary>
/// One node's connections in one room, counting names: a name counts once however many connections hold it, joins
/// with the first and leaves with the last. Not thread-safe; its owner serializes access.
/// </summary>
public sealed class RoomConnections
{
    private readonly Dictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _names = new(StringComparer.Ordinal);

    /// <summary>True when no connection of this node is in the room.</summary>
    public bool IsEmpty => _connections.Count == 0;

    /// <summary>Whether the connection is in the room.</summary>
    public bool Contains(string connectionId) => _connections.ContainsKey(connectionId);

    /// <summary>Whether some connection here holds the name.</summary>
    public bool HasName(string name) => _names.ContainsKey(name);

    /// <summary>Adds a connection; false when it is in the room already. <paramref name="firstOfName"/>: no other connection had the name.</summary>
    public bool Add(string connectionId, string name, IPresenceListener listener, out bool firstOfName)
    {
        firstOfName = false;
        if (!_connections.TryAdd(connectionId, new Connection(name, listener)))
        {
            return false;
        }

        var count = _names.GetValueOrDefault(name);
        firstOfName = count == 0;
        _names[name] = count + 1;
        return true;
    }

    /// <summary>Removes a connection; false when it was not here. <paramref name="lastOfName"/>: it was its name's last connection.</summary>
    public bool Remove(string connectionId, out string name, out bool lastOfName)
    {
        lastOfName = false;
        if (!_connections.Remove(connectionId, out var connection))
        {
            name = "";
            return false;
        }

        name = connection.Name;
        var count = _names[name] - 1;
        lastOfName = count == 0;
        if (lastOfName)
        {
            _names.Remove(name);
        }
        else
        {
            _names[name] = count;
        }

        return true;
    }

    /// <summary>The names held here, sorted (ordinal).</summary>
    public string[] Names() => [.. _names.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Every connection's listener, except <paramref name="except"/>.</summary>
    public List<IPresenceListener> Listeners(IPresenceListener? except = null) =>
        [.. _connections.Values.Select(c => c.Listener).Where(l => !ReferenceEquals(l, except))];

    private sealed record Connection(string Name, IPresenceListener Listener);
}
