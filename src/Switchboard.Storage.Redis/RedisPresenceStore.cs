using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Switchboard.Presence;

namespace Switchboard.Storage.Redis;

/// <summary>
/// Presence shared by every node of a hub through Redis. Each node keeps its own connections per room (names counted
/// once, <see cref="RoomConnections"/>) and writes one entry per room and name it holds into the room's sorted set,
/// scored with an expiry <see cref="RedisStoreOptions.PresenceTtl"/> ahead. One sweep per node refreshes all of its
/// entries every quarter of the TTL, so a node that dies stops refreshing and its members expire. Every change is
/// announced on the channel <c>{prefix}presence</c> (the message is the room); a node that hears it, and every sweep,
/// re-reads the rooms it has listeners in and tells them the difference from what it told them last, so each node
/// emits the same <c>joined</c>/<c>left</c> notices for members anywhere. The sweep also wakes when a foreign entry is
/// due to expire, so a dead node's members leave within the TTL.
/// </summary>
internal sealed partial class RedisPresenceStore : IPresenceStore, IAsyncDisposable
{
    // KEYS: the room. ARGV: member, its expiry (ms), now (ms), key lifetime (ms), channel, room.
    private const string JoinScript = """
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
        redis.call('PUBLISH', ARGV[5], ARGV[6])
        return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf', 'WITHSCORES')
        """;

    // KEYS: the room. ARGV: member, now (ms), channel, room.
    private const string LeaveScript = """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
        return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'WITHSCORES')
        """;

    // KEYS: the room. ARGV: expiry (ms), now (ms), key lifetime (ms), channel, room, then this node's members.
    // Announces when an entry came back (Redis lost it, or it had expired) or expired ones were cleared.
    private const string RefreshScript = """
        local added = 0
        for i = 6, #ARGV do added = added + redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i]) end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
        if added > 0 or removed > 0 then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
        return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'WITHSCORES')
        """;

    private readonly RedisConnection _redis;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _ttl;
    private readonly RedisChannel _channel;
    private readonly string _channelName;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Room> _rooms = new(StringComparer.Ordinal);

    /// <summary>Entries whose removal failed (Redis was away): retried by the sweep, unless the name is back.</summary>
    private readonly HashSet<(string Room, string Name)> _pendingRemovals = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _sweeper;
    private Task? _subscribing;
    private ChannelMessageQueue? _subscription;
    private int _disposed;

    public RedisPresenceStore(RedisConnection redis, TimeProvider? time = null, ILogger<RedisPresenceStore>? logger = null)
    {
        _redis = redis;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<RedisPresenceStore>.Instance;
        _ttl = redis.Options.PresenceTtl;
        _channelName = redis.Options.KeyPrefix + "presence";
        _channel = RedisChannel.Literal(_channelName);
        _ = EnsureSubscribedAsync();
        _sweeper = Task.Run(SweepLoopAsync);
    }

    /// <summary>This node's id in the entries it writes; random per process, so a restarted node's old entries simply expire.</summary>
    public string NodeId { get; } = Guid.NewGuid().ToString("N")[..12];

    private TimeSpan RefreshInterval => _ttl / 4;

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private long KeyLifetimeMs => (long)(_ttl * 3).TotalMilliseconds;

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> MembersAsync(string room, CancellationToken cancellationToken = default)
    {
        try
        {
            var now = NowMs;
            return RedisPresenceEntry.Names(await ReadAsync(room, now).ConfigureAwait(false), now);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw RedisStoreFaults.Unavailable(ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> JoinAsync(string room, string connectionId, string name, IPresenceListener listener, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        try
        {
            // Subscribed before the first write, so no change another node announces after it is missed.
            await EnsureSubscribedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw RedisStoreFaults.Unavailable(ex);
        }

        var state = await EnterAsync(room, cancellationToken).ConfigureAwait(false);
        try
        {
            bool known;
            bool hasName;
            lock (_gate)
            {
                known = state.Connections.Contains(connectionId);
                hasName = state.Connections.HasName(name);
            }

            var now = NowMs;
            List<RedisPresenceEntry> entries;
            try
            {
                entries = hasName || known
                    ? await ReadAsync(room, now).ConfigureAwait(false)
                    : RedisPresenceEntry.FromScript(await _redis.Database.ScriptEvaluateAsync(JoinScript, [Key(room)],
                        [RedisPresenceEntry.Member(NodeId, name), now + (long)_ttl.TotalMilliseconds, now, KeyLifetimeMs, _channelName, room]).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // The write may have landed; with no connection here its entry is not refreshed and expires. A Redis
                // at maxmemory refused it: that is a full store (store_full), not one out of reach.
                RemoveIfEmpty(state);
                throw RedisStoreFaults.Fault(ex);
            }

            // The joiner is not a listener yet: it gets the whole list as the answer, the others what changed.
            var members = Apply(state, entries, now);
            lock (_gate)
            {
                state.Connections.Add(connectionId, name, listener, out _);
                _pendingRemovals.Remove((room, name));
            }

            return members;
        }
        finally
        {
            state.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask LeaveAsync(string room, string connectionId, CancellationToken cancellationToken = default)
    {
        Room? state;
        lock (_gate)
        {
            if (!_rooms.TryGetValue(room, out state))
            {
                return;
            }
        }

        await state.Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            string name;
            bool lastOfName;
            lock (_gate)
            {
                if (!state.Connections.Remove(connectionId, out name, out lastOfName))
                {
                    return;
                }
            }

            if (!lastOfName)
            {
                return; // another connection of the same member is still here
            }

            var now = NowMs;
            try
            {
                var reply = await _redis.Database.ScriptEvaluateAsync(LeaveScript, [Key(room)], [RedisPresenceEntry.Member(NodeId, name), now, _channelName, room]).ConfigureAwait(false);
                Apply(state, RedisPresenceEntry.FromScript(reply), now);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // A connection that is gone must leave: the sweep retries the removal, and the entry expires anyway.
                LogLeaveFailed(_logger, ex, room);
                lock (_gate)
                {
                    _pendingRemovals.Add((room, name));
                }
            }
        }
        finally
        {
            RemoveIfEmpty(state);
            state.Gate.Release();
        }
    }

    /// <summary>
    /// The room's state with its gate held, which serializes this node's joins, leaves and re-reads of the room. A state
    /// removed while waiting for its gate is not used; a fresh one is.
    /// </summary>
    private async Task<Room> EnterAsync(string room, CancellationToken cancellationToken)
    {
        while (true)
        {
            Room state;
            lock (_gate)
            {
                if (!_rooms.TryGetValue(room, out state!))
                {
                    state = new Room(room);
                    _rooms[room] = state;
                }
            }

            await state.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                if (_rooms.TryGetValue(room, out var current) && current == state)
                {
                    return state;
                }
            }

            state.Gate.Release();
        }
    }

    /// <summary>Forgets a room with no connection left here; the caller holds its gate.</summary>
    private void RemoveIfEmpty(Room state)
    {
        lock (_gate)
        {
            if (state.Connections.IsEmpty && _rooms.TryGetValue(state.Name, out var current) && current == state)
            {
                _rooms.Remove(state.Name);
            }
        }
    }

    /// <summary>
    /// Takes the room's entries as read from Redis, tells this node's listeners in it what changed since they were
    /// last told, and returns the members. The caller holds the room's gate, so notices of one room go out in order.
    /// </summary>
    private string[] Apply(Room state, List<RedisPresenceEntry> entries, long nowMs)
    {
        var members = RedisPresenceEntry.Names(entries, nowMs);
        var changes = RedisPresenceEntry.Changes(state.Members, members);
        state.Members = members;
        var nextExpiry = RedisPresenceEntry.NextForeignExpiry(entries, NodeId, nowMs);
        List<IPresenceListener> listeners;
        lock (_gate)
        {
            state.NextForeignExpiryMs = nextExpiry;
            listeners = changes.Count > 0 ? state.Connections.Listeners() : [];
        }

        if (changes.Count > 0)
        {

            foreach (var (after, joined, left) in changes)
            {
                foreach (var listener in listeners)
                {
                    listener.OnPresenceChanged(state.Name, after, joined, left);
                }
            }
        }

        return members;
    }

    private async Task<List<RedisPresenceEntry>> ReadAsync(string room, long nowMs) =>
        RedisPresenceEntry.FromScores(await _redis.Database.SortedSetRangeByScoreWithScoresAsync(Key(room), nowMs, double.PositiveInfinity, Exclude.Start).ConfigureAwait(false));

    private RedisKey Key(string room) => _redis.Key("presence:" + room);

    private Task EnsureSubscribedAsync()
    {
        lock (_gate)
        {
            if (_subscribing is null || _subscribing.IsFaulted || _subscribing.IsCanceled)
            {
                _subscribing = SubscribeAsync();
            }

            return _subscribing;
        }
    }

    /// <summary>Once subscribed, the multiplexer subscribes again by itself after a reconnect; the sweep covers the messages lost meanwhile.</summary>
    private async Task SubscribeAsync()
    {
        var queue = await _redis.Multiplexer.GetSubscriber().SubscribeAsync(_channel).ConfigureAwait(false);
        queue.OnMessage(message => OnRoomChanged((string?)message.Message));
        _subscription = queue;
    }

    /// <summary>Another node (or this one) changed a room: re-read it if this node has listeners there, once however many messages come.</summary>
    private void OnRoomChanged(string? room)
    {
        Room? state;
        lock (_gate)
        {
            if (room is null || !_rooms.TryGetValue(room, out state) || state.Connections.IsEmpty)
            {
                return;
            }
        }

        if (Interlocked.Exchange(ref state.ReadQueued, 1) == 0)
        {
            _ = RereadAsync(state);
        }
    }

    private async Task RereadAsync(Room state)
    {
        try
        {
            await state.Gate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            Volatile.Write(ref state.ReadQueued, 0);
            var now = NowMs;
            Apply(state, await ReadAsync(state.Name, now).ConfigureAwait(false), now);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // The next sweep reads the room again.
        }
        finally
        {
            state.Gate.Release();
        }
    }

    /// <summary>The one loop per node: every quarter of the TTL, or when a foreign entry is due to expire if that comes first.</summary>
    private async Task SweepLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(NextSweepDelay(), _time, _stopping.Token).ConfigureAwait(false);
                await SweepAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Never let the loop die: presence would silently stop refreshing and this node's members would leave.
                LogSweepFailed(_logger, ex);
            }
        }
    }

    private TimeSpan NextSweepDelay()
    {
        var delay = RefreshInterval;
        long? earliest;
        lock (_gate)
        {
            earliest = _rooms.Values.Min(r => r.NextForeignExpiryMs);
        }

        if (earliest is { } due)
        {
            // A few ms past the expiry, so the read after it no longer counts the entry.
            var untilDue = TimeSpan.FromMilliseconds(due - NowMs + 5);
            delay = untilDue < delay ? untilDue : delay;
        }

        return delay < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : delay;
    }

    private async Task SweepAsync()
    {
        if (_subscription is null)
        {
            _ = EnsureSubscribedAsync();
        }

        await RetryRemovalsAsync().ConfigureAwait(false);
        Room[] rooms;
        lock (_gate)
        {
            rooms = [.. _rooms.Values];
        }

        var failures = 0;
        Exception? failure = null;
        // A bounded number of rooms in flight: one round trip each, pipelined over the multiplexer.
        foreach (var batch in rooms.Chunk(64))
        {
            var results = await Task.WhenAll(batch.Select(RefreshAsync)).ConfigureAwait(false);
            foreach (var error in results.OfType<Exception>())
            {
                failures++;
                failure ??= error;
            }
        }

        if (failure is not null)
        {
            LogRefreshFailed(_logger, failure, failures, rooms.Length);
        }
    }

    /// <summary>Renews this node's entries in one room and applies what the room holds now; returns the failure, if any.</summary>
    private async Task<Exception?> RefreshAsync(Room state)
    {
        try
        {
            await state.Gate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        try
        {
            string[] names;
            lock (_gate)
            {
                names = state.Connections.Names();
            }

            if (names.Length == 0)
            {
                return null;
            }

            var now = NowMs;
            var arguments = new RedisValue[5 + names.Length];
            arguments[0] = now + (long)_ttl.TotalMilliseconds;
            arguments[1] = now;
            arguments[2] = KeyLifetimeMs;
            arguments[3] = _channelName;
            arguments[4] = state.Name;
            for (var i = 0; i < names.Length; i++)
            {
                arguments[5 + i] = RedisPresenceEntry.Member(NodeId, names[i]);
            }

            var reply = await _redis.Database.ScriptEvaluateAsync(RefreshScript, [Key(state.Name)], arguments).ConfigureAwait(false);
            Apply(state, RedisPresenceEntry.FromScript(reply), now);
            return null;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return ex;
        }
        finally
        {
            state.Gate.Release();
        }
    }

    private async Task RetryRemovalsAsync()
    {
        (string Room, string Name)[] pending;
        lock (_gate)
        {
            // A name this node holds again in that room is refreshed, not removed.
            _pendingRemovals.RemoveWhere(p => _rooms.TryGetValue(p.Room, out var room) && room.Connections.HasName(p.Name));
            pending = [.. _pendingRemovals];
        }

        foreach (var (room, name) in pending)
        {
            try
            {
                await _redis.Database.ScriptEvaluateAsync(LeaveScript, [Key(room)], [RedisPresenceEntry.Member(NodeId, name), NowMs, _channelName, room]).ConfigureAwait(false);
                lock (_gate)
                {
                    _pendingRemovals.Remove((room, name));
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                return; // still away; the entries expire on their own
            }
        }
    }

    /// <summary>On a clean stop this node's members leave at once rather than after the TTL.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _sweeper.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        (string Room, string[] Names)[] held;
        lock (_gate)
        {
            held = [.. _rooms.Values.Select(r => (r.Name, r.Connections.Names())).Where(r => r.Item2.Length > 0)];
        }

        foreach (var (room, names) in held)
        {
            foreach (var name in names)
            {
                try
                {
                    await _redis.Database.ScriptEvaluateAsync(LeaveScript, [Key(room)], [RedisPresenceEntry.Member(NodeId, name), NowMs, _channelName, room]).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
                {
                    break; // they expire on their own
                }
            }
        }

        try
        {
            _subscription?.Unsubscribe();
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
        {
        }

        // _stopping stays undisposed: a re-read still queued may look at its token, and it holds no timer.
    }

    [LoggerMessage(EventId = 830, Level = LogLevel.Warning, Message = "Presence: leaving room {Room} could not reach Redis; the member expires there instead")]
    private static partial void LogLeaveFailed(ILogger logger, Exception exception, string room);

    [LoggerMessage(EventId = 831, Level = LogLevel.Warning, Message = "Presence: refreshing {Failed} of {Rooms} rooms in Redis failed; this node's members expire if it lasts longer than the TTL")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, int failed, int rooms);

    [LoggerMessage(EventId = 832, Level = LogLevel.Error, Message = "Presence sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    private sealed class Room(string name)
    {
        public string Name { get; } = name;

        /// <summary>Serializes this node's joins, leaves and reads of the room, so its notices go out in order.</summary>
        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>This node's connections; read and written under the store's lock.</summary>
        public RoomConnections Connections { get; } = new();

        /// <summary>The members this node's listeners were last told about; under <see cref="Gate"/>.</summary>
        public IReadOnlyList<string> Members { get; set; } = [];

        /// <summary>When another node's first entry here expires unless refreshed (Unix ms); under the store's lock.</summary>
        public long? NextForeignExpiryMs { get; set; }

        /// <summary>1 while a re-read is queued, so a burst of messages costs one read.</summary>
        public int ReadQueued;
    }
}
