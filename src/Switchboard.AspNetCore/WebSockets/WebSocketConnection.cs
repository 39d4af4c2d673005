using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Metrics;
using Switchboard.Log;
using Switchboard.Presence;
using Switchboard.Problems;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// One WebSocket client. A receive loop handles requests. One send loop writes everything: the replies queued for it
/// (acks, errors, presence notices, within a budget), and the events of every subscription, which it reads itself
/// from each subscription's <see cref="LogTail"/> when the subscription index says that tail has news. So a
/// subscription costs no task and no queue of its own: an idle one is a registration in the index, and a publish
/// wakes only the connections it matches. A slow client blocks only its own send loop, and its subscriptions fall
/// behind on their cursors rather than buffering; a send that the client leaves blocked for the slow-client
/// timeout closes the connection with 1013 and the cursor to resume from. Keep-alive and token expiry hold no
/// timer either: the connection is an entry in the node's <see cref="ConnectionSweep"/>, visited when one is due.
/// </summary>
internal sealed partial class WebSocketConnection : SweepEntry, IPresenceListener
{
    /// <summary>RFC 6455's "Try Again Later" (1013); <see cref="WebSocketCloseStatus"/> has no name for it.</summary>
    private const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;

    /// <summary>Events read from the log per wake; the send queue, not this, bounds what waits in memory.</summary>
    private const int ReadBatchSize = 256;

    private readonly HttpContext _http;
    private readonly WebSocket _socket;
    private readonly KeepAliveStream _transport;
    private readonly ConnectionSweep _sweep;
    private readonly WebSocketKeepAlive _keepAlive;
    private long _pingSentAt;

    // Only the sweep's visits, one at a time, touch this.
    private long _pingRefusedSince;
    private readonly Hub _hub;
    private readonly IPresenceStore _presence;
    private readonly WebSocketOptions _options;
    private readonly TopicPattern[] _publishable;

    // Parsed once per options instance, not per connection: the patterns would otherwise be held by every open socket.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<WebSocketOptions, TopicPattern[]> s_publishableByOptions = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private static long s_lastConnectionId;
    private readonly string _connectionId = Interlocked.Increment(ref s_lastConnectionId).ToString(System.Globalization.CultureInfo.InvariantCulture);
    private readonly string _memberName;
    // Under its own lock: a ConcurrentQueue's first segment (32 slots, about 600 B) would stay with every connection
    // for its life, and replies are few (acks, errors, presence notices).
    private readonly Queue<byte[]> _replies = new();
    private readonly WakeSignal _wake = new();
    private readonly int _replyCapacity;
    private int _pendingReplies;
    private readonly CancellationTokenSource _closing;
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private Subscription[] _active = []; // the send loop's copy of _subscriptions.Values, replaced on every change
    private Queue<long>? _recentViolations; // made on the first violation: most connections never have one
    private CloseRequest? _closeRequest;
    private int _sendLoopDone;
    private long _passBytes; // what the send loop's current pass wrote, counted once per pass
    private Subscription? _passSubscription; // the last subscription that sent in the pass, for a 1013 on its flush
    private long _rateWindowStart;
    private int _messagesInWindow;

    private readonly SwitchboardAuthenticator _authenticator;
    private readonly System.Net.IPAddress? _remote;

    /// <summary>The token's expiry as a timestamp on <see cref="_time"/>; 0 for none. Replaced by <c>op: refresh</c>.</summary>
    private long _expiresAt;
    private readonly SwitchboardMetrics _metrics;
    private readonly IReadOnlyList<IStoreFaultClassifier> _storeFaults;

    /// <summary>Who is connected; replaced by <c>op: refresh</c>. Read and written on the receive loop only.</summary>
    private Caller _caller;

    public WebSocketConnection(HttpContext http, WebSocket socket, KeepAliveStream transport, ConnectionSweep sweep, Hub hub, IPresenceStore presence, string memberName, Caller caller, SwitchboardAuthenticator authenticator,
        System.Net.IPAddress? remote, TimeProvider time, ILogger logger, SwitchboardMetrics metrics, IReadOnlyList<IStoreFaultClassifier> storeFaults,
        CancellationToken stopping)
    {
        _storeFaults = storeFaults;
        _metrics = metrics;
        _caller = caller;
        _authenticator = authenticator;
        _remote = remote;
        _http = http;
        _socket = socket;
        _transport = transport;
        _sweep = sweep;
        _hub = hub;
        _presence = presence;
        _options = http.Options<WebSocketOptions>();
        _publishable = s_publishableByOptions.GetValue(_options, static options => options.Publishable.Select(TopicPattern.Parse).ToArray());
        _memberName = memberName;
        _time = time;
        _logger = logger;
        // Events are never queued (the send loop reads them from the log when it can send), so only replies need a
        // budget: a client that leaves this many unread is too slow.
        _replyCapacity = Math.Max(64, _options.SendQueueCapacity);
        _closing = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _rateWindowStart = time.GetTimestamp();
        _keepAlive = new WebSocketKeepAlive(time, _options.KeepAliveInterval, _options.KeepAliveTimeout);
        // The connection ends when the token expires, unless the client sends a fresh one first (op: refresh).
        _expiresAt = ExpiryTimestamp(caller);
    }

    private long ExpiryTimestamp(Caller caller) => caller.ExpiresAt is { } expires
        ? Math.Max(1, _time.GetTimestamp() + WebSocketKeepAlive.ToTimestampSpan(_time, ServerSentEvents.SseEndpoint.Clamp(expires - _time.GetUtcNow())))
        : 0;

    /// <summary>When the sweep should look next: the keep-alive's next step, or the token's expiry if sooner.</summary>
    private long NextVisit(long keepAliveNext)
    {
        var expiresAt = Volatile.Read(ref _expiresAt);
        return expiresAt != 0 ? Math.Min(keepAliveNext, expiresAt) : keepAliveNext;
    }

    /// <summary>
    /// The sweep's visit: closes at the token's expiry, pings a peer that has been quiet for the keep-alive interval,
    /// and drops one that did not answer within the timeout, as the runtime's keep-alive did (abort, no close frame:
    /// the peer is not reading). A closing connection leaves the sweep; closing has timeouts of its own.
    /// </summary>
    internal override long? OnSweep(long now)
    {
        if (_closeRequest is not null)
        {
            return null;
        }

        var expiresAt = Volatile.Read(ref _expiresAt);
        if (expiresAt != 0 && now >= expiresAt)
        {
            RequestClose(WebSocketCloseStatus.PolicyViolation, "token expired");
            return null;
        }

        var step = _keepAlive.Next(now, _transport.LastReceived, Volatile.Read(ref _pingSentAt), _pingRefusedSince);
        switch (step.Action)
        {
            case KeepAliveAction.Dead:
                LogPeerDead(_logger, _memberName, _options.KeepAliveTimeout);
                Abort();
                return null;
            case KeepAliveAction.Ping when !_transport.TryPing():
                // A write is in flight; try again on the next tick, and count the timeout from the first refusal.
                if (_pingRefusedSince <= _transport.LastReceived)
                {
                    _pingRefusedSince = now;
                }

                return NextVisit(now + 1);
            case KeepAliveAction.Ping:
                Volatile.Write(ref _pingSentAt, now);
                _pingRefusedSince = 0;
                break;
        }

        return NextVisit(step.Next);
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        using var onStopping = stopping.Register(static state => ((WebSocketConnection)state!).RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down"), this);
        _sweep.Schedule(this, NextVisit(_keepAlive.Next(_time.GetTimestamp(), _transport.LastReceived, 0).Next));
        var sending = SendLoopAsync();
        var receiving = ReceiveLoopAsync();
        try
        {
            // The send loop ends once the close frame is out (or the socket broke). Receiving is never cancelled
            // by token, because cancelling a WebSocket receive aborts the socket and the close code would be lost;
            // a well-behaved client answers our close frame, and one that does not is aborted after a grace period.
            await sending;
            if (await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(5), _time)) != receiving)
            {
                Abort();
            }

            await receiving;
        }
        finally
        {
            // Empty the table before leaving: LeaveRooms keeps a room while another subscription of this connection
            // still holds it, so leaving with the table full let two presence subscriptions on one room keep each
            // other in it, and the member stayed in the room forever after the connection was gone.
            var remaining = _subscriptions.Values.ToList();
            _subscriptions.Clear();
            Volatile.Write(ref _active, []);
            foreach (var subscription in remaining)
            {
                subscription.Tail.Dispose();
                await LeaveRoomsAsync(subscription);
            }

            _sweep.Remove(this);
            _closing.Dispose();
        }
    }

    /// <summary>
    /// Drops the connection without a close frame. Aborting the WebSocket alone leaves a receive that waits on
    /// Kestrel's upgraded stream pending; aborting the HTTP connection ends it.
    /// </summary>
    private void Abort()
    {
        _socket.Abort();
        _http.Abort();
    }

    /// <summary>
    /// Asks the send loop to close with this status once it finishes its current message. With
    /// <paramref name="resumeFrom"/>, the reason names that subscription's last cursor actually sent.
    /// </summary>
    private void RequestClose(WebSocketCloseStatus status, string reason, Subscription? resumeFrom = null)
    {
        if (Interlocked.CompareExchange(ref _closeRequest, new CloseRequest(status, reason, resumeFrom), null) is null)
        {
            _ = AbortIfSendStuckAsync();
        }

        _wake.Set();
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// A client that stopped reading keeps a send blocked, and the close frame can only follow it. It gets
    /// <see cref="WebSocketOptions.CloseTimeout"/> to drain; after that the connection is dropped, rather than held
    /// until the keep-alive gives up on it.
    /// </summary>
    private async Task AbortIfSendStuckAsync()
    {
        await Task.Delay(_options.CloseTimeout, _time);
        if (Volatile.Read(ref _sendLoopDone) == 0)
        {
            LogSendStuck(_logger, _memberName);
            Abort();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            while (_socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                // An idle connection holds no receive buffer: a zero-byte read waits for the next frame,
                // and only then is a buffer rented for the message (memory per idle connection stays small).
                var first = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (first.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                var (status, message) = await ReceiveMessageAsync(first);
                if (status is not null)
                {
                    RequestClose(status.Value, message);
                    await DrainUntilCloseAsync();
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer vanished without a close frame, or the keep-alive sweep aborted it.
        }
        catch (Exception ex)
        {
            LogReceiveFailed(_logger, ex, _memberName);
            RequestClose(WebSocketCloseStatus.InternalServerError, "internal error");
        }
        finally
        {
            RequestClose(WebSocketCloseStatus.NormalClosure, "bye");
        }
    }

    /// <summary>
    /// After a violation (1009, 1003) the client may still be sending, the rest of an oversized message above all. Closing
    /// the TCP connection with those bytes unread makes the kernel answer with a reset, and the client loses the close
    /// frame sent just before it (the npm ws client saw 1006, not 1009). So the rest is read and dropped until the
    /// client's close frame answers ours; <see cref="RunAsync"/> aborts one that keeps sending past its grace period.
    /// </summary>
    private async Task DrainUntilCloseAsync()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (_socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await _socket.ReceiveAsync(scratch.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Reads one message (growing a rented buffer up to the limit) and handles it; returns a close status on a violation.</summary>
    private async Task<(WebSocketCloseStatus? Status, string Reason)> ReceiveMessageAsync(ValueWebSocketReceiveResult first)
    {
        var limit = _options.MaxMessageBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(4096, limit + 1));
        try
        {
            var length = 0;
            var result = first;
            // At most limit + 1 bytes are read: one past the limit is enough to know the message is too big. (The pool
            // may hand out a larger array, so the reads are bounded by the limit, not by the array.)
            var bound = limit + 1;
            while (!result.EndOfMessage)
            {
                if (length > limit)
                {
                    return (WebSocketCloseStatus.MessageTooBig, $"message larger than {limit} bytes");
                }

                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, bound));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                result = await _socket.ReceiveAsync(buffer.AsMemory(length, Math.Min(buffer.Length, bound) - length), CancellationToken.None);
                length += result.Count;
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return (null, "");
                }
            }

            if (length > limit)
            {
                return (WebSocketCloseStatus.MessageTooBig, $"message larger than {limit} bytes");
            }

            if (result.MessageType == WebSocketMessageType.Binary)
            {
                return (WebSocketCloseStatus.InvalidMessageType, "switchboard.v1 uses JSON text messages");
            }

            if (_closeRequest is null && WithinRateLimit(buffer.AsMemory(0, length)))
            {
                await HandleMessageAsync(buffer.AsMemory(0, length));
            }

            return (null, "");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private bool WithinRateLimit(ReadOnlyMemory<byte> message)
    {
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(_rateWindowStart, now) >= TimeSpan.FromSeconds(1))
        {
            _rateWindowStart = now;
            _messagesInWindow = 0;
        }

        if (++_messagesInWindow <= _options.MaxMessagesPerSecond)
        {
            return true;
        }

        _recentViolations ??= new Queue<long>();
        _recentViolations.Enqueue(now);
        while (_recentViolations.Count > 0 && _time.GetElapsedTime(_recentViolations.Peek(), now) > TimeSpan.FromSeconds(10))
        {
            _recentViolations.Dequeue();
        }

        if (_recentViolations.Count > _options.MaxRateLimitViolations)
        {
            RequestClose(WebSocketCloseStatus.PolicyViolation, "rate limit exceeded persistently");
            return false;
        }

        Send(WebSocketMessages.Error(RequestIdOf(message), "rate_limited", $"More than {_options.MaxMessagesPerSecond} messages per second; this one was dropped."));
        return false;
    }

    /// <summary>The request's id, when the message is well-formed enough to have one, so the client can match the error.</summary>
    private static JsonElement? RequestIdOf(ReadOnlyMemory<byte> message)
    {
        try
        {
            using var document = JsonDocument.Parse(message, JsonWire.Reading);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("id", out var id)
                && id.ValueKind is JsonValueKind.String or JsonValueKind.Number ? id.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task HandleMessageAsync(ReadOnlyMemory<byte> message)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message, JsonWire.Reading);
        }
        catch (JsonException ex)
        {
            Send(WebSocketMessages.Error(null, "invalid_json", $"The message is not valid JSON: {ex.Message}"));
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Send(WebSocketMessages.Error(null, "invalid_message", "A message is a JSON object with an \"op\" field."));
                return;
            }

            if (!HasReadableNames(root))
            {
                Send(WebSocketMessages.Error(null, "invalid_message", "The message has a member name or id that is not valid text (a lone surrogate escape)."));
                return;
            }

            JsonElement? id = root.TryGetProperty("id", out var idElement) && idElement.ValueKind is JsonValueKind.String or JsonValueKind.Number ? idElement.Clone() : null;
            if (id is null && idElement.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            {
                // An id that cannot be echoed (an object, an array, true) would leave the answer unmatched, whatever the
                // op: refused for every op alike, before the op runs, rather than answered without it (a ping's pong).
                Send(WebSocketMessages.Error(null, "invalid_field", "\"id\" must be a string or a number; the reply echoes it."));
                return;
            }

            try
            {
                var op = root.TryGetProperty("op", out var opElement) && opElement.ValueKind == JsonValueKind.String ? opElement.GetString() : null;
                switch (op)
                {
                    case null:
                        throw ClientError("missing_field", "\"op\" is required.");
                    case "subscribe":
                        await SubscribeAsync(root, RequireId(id));
                        break;
                    case "unsubscribe":
                        await UnsubscribeAsync(root, RequireId(id));
                        break;
                    case "publish":
                        await PublishAsync(root, RequireId(id));
                        break;
                    case "refresh":
                        await RefreshAsync(root, id);
                        break;
                    case "presence":
                        var room = RequireString(root, "topic");
                        _hub.ValidateTopic(room);
                        _caller.RequireSubscribe(room);
                        Send(WebSocketMessages.Presence(id, room, await _presence.MembersAsync(room, _closing.Token), null, null));
                        break;
                    case "ping":
                        Send(WebSocketMessages.Pong(id));
                        break;
                    default:
                        throw ClientError("unknown_op", $"Unknown op \"{op}\"; expected subscribe, unsubscribe, publish, presence, refresh or ping.");
                }
            }
            catch (Exception ex) when (ErrorMapping.Recognize(ex, _storeFaults) is { } error)
            {
                // The engine's refusal, a full store or an unreachable one: the same code HTTP answers with.
                Send(ErrorMapping.ToWebSocketError(id, error));
            }
            catch (InvalidOperationException ex) when (ex.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true)
            {
                // A string with a lone surrogate escape parses but cannot be read as text.
                Send(WebSocketMessages.Error(id, "invalid_message", "The message has a string that is not valid text (a lone surrogate escape)."));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A fault of the hub's own: this request failed, and the connection and its subscriptions go on.
                LogRequestFailed(_logger, ex, _memberName);
                Send(WebSocketMessages.Error(id, "internal_error", "The hub failed to handle this message; the failure is in its log."));
            }
        }
    }

    /// <summary>
    /// Whether the message's member names and string id can be read as text. A lone surrogate escape is legal JSON but
    /// not text, and those strings are echoed or compared, so such a message is refused whole (in <c>data</c> it is kept as sent).
    /// </summary>
    private static bool HasReadableNames(JsonElement root)
    {
        try
        {
            foreach (var member in root.EnumerateObject())
            {
                _ = member.Name;
                if (member.NameEquals("id"u8) && member.Value.ValueKind == JsonValueKind.String)
                {
                    _ = member.Value.GetString();
                }
            }

            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private async Task SubscribeAsync(JsonElement request, JsonElement id)
    {
        if (id.ValueKind != JsonValueKind.String)
        {
            throw ClientError("invalid_field", "A subscription's \"id\" must be a string; events carry it as \"subscription\".");
        }

        var subscriptionId = id.GetString()!;
        if (subscriptionId.Length is 0 or > 128)
        {
            // The id is kept for the subscription's life and copied into every event: bounded, like everything held per connection.
            throw ClientError("invalid_field", "A subscription's \"id\" is 1 to 128 characters.");
        }

        if (_subscriptions.ContainsKey(subscriptionId))
        {
            throw ClientError("duplicate_subscription", $"Subscription \"{subscriptionId}\" already exists; unsubscribe first or use another id.");
        }

        if (_subscriptions.Count >= _options.MaxSubscriptionsPerConnection)
        {
            throw ClientError("too_many_subscriptions", $"A connection may have at most {_options.MaxSubscriptionsPerConnection} subscriptions.");
        }

        var patterns = RequireStringArray(request, "topics");
        var filter = _hub.ParseFilter(patterns);
        _caller.RequireSubscribe(filter);
        var presence = OptionalBool(request, "presence");
        if (presence && filter.ExactTopics is null)
        {
            throw ClientError("invalid_field", "Presence needs plain room topics, not wildcard patterns.");
        }

        var after = OptionalString(request, "after");
        int? history = null;
        if (request.TryGetProperty("history", out var historyElement))
        {
            if (historyElement.ValueKind != JsonValueKind.Number || !historyElement.TryGetInt32(out var count) || count < 0)
            {
                throw ClientError("invalid_field", "\"history\" is a number of events, 0 or more.");
            }

            if (after is not null)
            {
                throw ClientError("invalid_field", "Give \"after\" or \"history\", not both.");
            }

            history = Math.Min(count, _options.MaxHistory);
        }

        var epoch = _hub.Log.Epoch;
        StartPosition start = history is { } last
            ? new StartPosition(await _hub.Log.AfterSeqForLastAsync(filter, last, _closing.Token), null, epoch)
            : _hub.ResolveStart(after, filter);

        // Rooms are joined before the ack: with a shared store a join can fail (store_unavailable), and then the
        // subscription is refused whole rather than acked without its presence.
        var tail = _hub.OpenTail(filter, start, new TailOptions { BatchSize = ReadBatchSize });
        List<(string Room, IReadOnlyList<string> Members)> joined;
        try
        {
            joined = presence ? await JoinRoomsAsync(filter.ExactTopics!) : [];
        }
        catch
        {
            tail.Dispose();
            throw;
        }

        var subscription = new Subscription(subscriptionId, filter, presence, WebSocketMessages.EventPrefix(subscriptionId), start.Cursor, tail)
        {
            ConnectionWake = _wake,
            OpenedAt = _time.GetUtcNow(),
        };
        _subscriptions[subscriptionId] = subscription;
        Send(WebSocketMessages.Ack(id, start.Cursor));
        if (start.Reset is { } reset)
        {
            Send(WebSocketMessages.Reset(subscriptionId, reset.Reason, reset.Cursor));
        }

        foreach (var (room, members) in joined)
        {
            Send(WebSocketMessages.Presence(null, room, members, null, null));
        }

        // Registered before its first read (the send loop reads it once now, as it is marked dirty), so nothing
        // appended from here on can be missed; the ack and any reset are queued already, so they go out first.
        subscription.Tail.RegisterWith(static state => ((Subscription)state!).Wake(), subscription);
        Volatile.Write(ref _active, [.. _subscriptions.Values]);
        _wake.Set();
    }

    /// <summary>Joins each room (one this connection holds already is joined again, which changes nothing); on a failure leaves the ones it joined.</summary>
    private async Task<List<(string Room, IReadOnlyList<string> Members)>> JoinRoomsAsync(IReadOnlyList<string> rooms)
    {
        var joined = new List<(string, IReadOnlyList<string>)>(rooms.Count);
        try
        {
            foreach (var room in rooms)
            {
                joined.Add((room, await _presence.JoinAsync(room, _connectionId, _memberName, this, _closing.Token)));
            }
        }
        catch
        {
            foreach (var (room, _) in joined)
            {
                if (!HoldsRoom(room, except: null))
                {
                    await _presence.LeaveAsync(room, _connectionId, CancellationToken.None);
                }
            }

            throw;
        }

        return joined;
    }

    private bool HoldsRoom(string room, Subscription? except) =>
        _subscriptions.Values.Any(s => s != except && s.Presence && s.Filter.ExactTopics!.Contains(room));

    private async Task UnsubscribeAsync(JsonElement request, JsonElement id)
    {
        var bySubscription = OptionalString(request, "subscription");
        var patterns = request.TryGetProperty("topics", out _) ? RequireStringArray(request, "topics").ToHashSet(StringComparer.Ordinal) : null;
        if (bySubscription is null && patterns is null)
        {
            throw ClientError("missing_field", "Give \"subscription\" (an id) or \"topics\" (patterns) to unsubscribe.");
        }

        var removed = _subscriptions.Values
            .Where(s => s.Id == bySubscription || (patterns is not null && s.Filter.Patterns.Any(p => patterns.Contains(p.Value))))
            .ToList();
        if (removed.Count == 0)
        {
            throw ClientError("not_subscribed", "No subscription matches.");
        }

        foreach (var subscription in removed)
        {
            await EndSubscriptionAsync(subscription);
        }

        Send(WebSocketMessages.Ack(id));
    }

    private async Task EndSubscriptionAsync(Subscription subscription)
    {
        _subscriptions.Remove(subscription.Id);
        Volatile.Write(ref _active, [.. _subscriptions.Values]);
        subscription.Unsubscribed = true;
        subscription.Tail.Dispose(); // out of the index; a read the send loop has in flight on it just finishes
        await LeaveRoomsAsync(subscription);
    }

    private async Task PublishAsync(JsonElement request, JsonElement id)
    {
        // The same rules, in the same order, as an HTTP publish: only the message's shape (missing_field, invalid_field) is this op's own.
        var drafts = _hub.Drafts;
        var topic = RequireString(request, "topic");
        drafts.ValidateTopic(topic);
        _caller.RequirePublish(topic);
        if (!_publishable.Any(p => p.Matches(topic)))
        {
            throw ClientError("forbidden", $"Publishing to \"{topic}\" over WebSocket is not allowed; allowed: {string.Join(", ", _options.Publishable)}.");
        }

        var type = drafts.NormalizeType(OptionalString(request, "type"));
        var data = request.TryGetProperty("data", out var dataElement) ? JsonWire.Minify(dataElement) : EventDraftValidator.NullData;
        drafts.ValidateData(data.Length);

        var result = await _hub.PublishAsync([new EventDraft(topic, type, data)], null, null, _closing.Token);
        var record = result.Events[0];
        Send(WebSocketMessages.Ack(id, record.Cursor, record.Seq));
    }

    /// <summary>
    /// <c>{"op": "refresh", "id": ..., "token": "..."}</c>: a fresh token for the same subject extends the connection
    /// past the old token's expiry. Its grants replace the old ones; subscriptions they no longer cover are ended with
    /// an <c>error</c> naming the subscription.
    /// </summary>
    private async Task RefreshAsync(JsonElement request, JsonElement? id)
    {
        var token = RequireString(request, "token");
        if (_caller.Kind != CallerKind.Token)
        {
            throw ClientError("invalid_state", "refresh renews a subscriber token; this connection was not opened with one.");
        }

        var fresh = await _authenticator.AuthenticateTokenAsync(token, _remote);
        if (fresh.Subject != _caller.Subject)
        {
            throw ClientError("subject_mismatch", $"The new token is for '{fresh.Subject}', but this connection belongs to '{_caller.Subject}'.");
        }

        _caller = fresh;
        var expiresAt = ExpiryTimestamp(fresh);
        Volatile.Write(ref _expiresAt, expiresAt);
        if (expiresAt != 0)
        {
            // A later expiry needs nothing (the sweep's visit at the old one looks again); an earlier one moves the visit.
            _sweep.Schedule(this, expiresAt);
        }
        foreach (var subscription in _subscriptions.Values.Where(s => !s.Filter.Patterns.All(fresh.MayRead)).ToList())
        {
            await EndSubscriptionAsync(subscription);
            // Named by "subscription" (the error answers no request of its own), so a client ends exactly this one.
            Send(WebSocketMessages.Error(null, "forbidden", $"Subscription \"{subscription.Id}\" ended: the refreshed token does not allow reading {subscription.Filter}.",
                subscription.Id));
        }

        Send(WebSocketMessages.Ack(id));
    }

    /// <summary>Queues a reply without waiting; a client with too many replies unread is too slow and gets closed.</summary>
    private void Send(byte[] message)
    {
        if (Interlocked.Increment(ref _pendingReplies) > _replyCapacity)
        {
            Interlocked.Decrement(ref _pendingReplies);
            if (_closeRequest is null)
            {
                LogTooManyReplies(_logger, _memberName, _replyCapacity);
                _metrics.SlowClientClosed(DeliveryTransport.WebSocket);
                RequestClose(TryAgainLater, "too slow; resume from your last cursor");
            }

            return;
        }

        lock (_replies)
        {
            _replies.Enqueue(message);
        }

        _wake.Set();
    }

    private bool TryTakeReply([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? reply)
    {
        lock (_replies)
        {
            return _replies.TryDequeue(out reply);
        }
    }

    void IPresenceListener.OnPresenceChanged(string room, IReadOnlyList<string> members, string? joined, string? left) =>
        Send(WebSocketMessages.Presence(null, room, members, joined, left));

    private async Task LeaveRoomsAsync(Subscription subscription)
    {
        if (subscription.Presence)
        {
            foreach (var room in subscription.Filter.ExactTopics!)
            {
                // Another subscription of this connection may still hold the room.
                if (!HoldsRoom(room, except: subscription))
                {
                    await _presence.LeaveAsync(room, _connectionId, CancellationToken.None);
                }
            }
        }
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (_closeRequest is null)
            {
                _wake.Arm();
                var sent = false;
                // One pass leaves in one write: the frames collect in the transport until the pass ends.
                _transport.Cork();
                while (_closeRequest is null && TryTakeReply(out var reply))
                {
                    await SendAsync(reply, null);
                    Interlocked.Decrement(ref _pendingReplies);
                    sent = true;
                }

                // Replies queued before a subscription joined _active (its ack, its reset) went out above, before its events.
                foreach (var subscription in Volatile.Read(ref _active))
                {
                    if (_closeRequest is not null)
                    {
                        break;
                    }

                    if (Interlocked.Exchange(ref subscription.Dirty, 0) == 1)
                    {
                        sent |= await PumpAsync(subscription);
                    }
                }

                await FlushPassAsync();
                if (!sent)
                {
                    await _wake.WaitAsync();
                }
            }

            // Closing: whatever is still queued is dropped; the client resumes from the cursors it received.
            var close = _closeRequest ?? new CloseRequest(WebSocketCloseStatus.NormalClosure, "bye", null);
            // The resume cursor is read only now that no send is in flight: a slow client is nearly always closed
            // while a send to it is blocked, and that message still reaches it, so a cursor taken when the close
            // was requested was one behind what the client received and resuming from it repeated an event.
            var reason = close.ResumeFrom is { } resume ? $"{close.Reason}; resume after {resume.LastSentCursor}" : close.Reason;
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(close.Status, reason.Length > 120 ? reason[..120] : reason, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The peer is gone; nothing more can be sent.
        }
        finally
        {
            Volatile.Write(ref _sendLoopDone, 1);
        }
    }

    /// <summary>
    /// Sends what one subscription's tail has now: a reset, or up to a batch of events, each as its prefix and the
    /// event's shared bytes. Returns whether anything was sent; a full batch leaves it dirty, to read on.
    /// </summary>
    private async ValueTask<bool> PumpAsync(Subscription subscription)
    {
        TailStep step;
        try
        {
            step = await subscription.Tail.ReadAsync(_closing.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (Exception ex)
        {
            LogSubscriptionFailed(_logger, ex, subscription.Id);
            RequestClose(WebSocketCloseStatus.InternalServerError, "subscription failed");
            return false;
        }

        if (step.Gap is { } gap)
        {
            var reset = _hub.ResetFor(gap);
            await SendAsync(WebSocketMessages.Reset(subscription.Id, reset.Reason, reset.Cursor), subscription);
            subscription.LastSentCursor = reset.Cursor;
            Volatile.Write(ref subscription.Dirty, 1);
            return true;
        }

        var sent = 0;
        foreach (var record in step.Events)
        {
            if (_closeRequest is not null || subscription.Unsubscribed)
            {
                break;
            }

            await SendEventAsync(subscription, record);
            // The newest cursor handed to the socket, for the 1013 close reason; the close frame follows it on the wire.
            subscription.LastSentCursor = record.Cursor;
            sent++;
        }

        _metrics.Delivered(DeliveryTransport.WebSocket, step.Events, sent, _time.GetUtcNow(), subscription.OpenedAt);

        if (step.Events.Count >= ReadBatchSize)
        {
            Volatile.Write(ref subscription.Dirty, 1);
        }

        return step.Events.Count > 0;
    }

    private async ValueTask SendEventAsync(Subscription subscription, EventRecord record)
    {
        var prefix = subscription.EventPrefix;
        var tail = record.WebSocketTail.Span;
        var length = prefix.Length + tail.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            prefix.CopyTo(buffer, 0);
            tail.CopyTo(buffer.AsSpan(prefix.Length));
            await SendAsync(buffer.AsMemory(0, length), subscription);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Sends one message (into the pass's cork, normally, so it completes at once). A send the client leaves blocked
    /// for the slow-client timeout asks for a 1013 close naming <paramref name="subscription"/>'s cursor; the close
    /// frame follows the blocked send, and the connection is dropped if that never drains. Only a blocked send costs a
    /// timer.
    /// </summary>
    private ValueTask SendAsync(ReadOnlyMemory<byte> message, Subscription? subscription)
    {
        _passBytes += message.Length;
        if (subscription is not null)
        {
            _passSubscription = subscription;
        }

        var send = _socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        return send.IsCompletedSuccessfully ? default : WaitOutSlowClientAsync(send, subscription);
    }

    /// <summary>Ends the pass: what it corked leaves in one write, under the same slow-client rule as a send.</summary>
    private async ValueTask FlushPassAsync()
    {
        var flush = _transport.UncorkAsync();
        if (!flush.IsCompletedSuccessfully)
        {
            await WaitOutSlowClientAsync(flush, _passSubscription);
        }

        _metrics.BytesWritten(DeliveryTransport.WebSocket, _passBytes);
        _passBytes = 0;
        _passSubscription = null;
    }

    private async ValueTask WaitOutSlowClientAsync(ValueTask write, Subscription? subscription)
    {
        var sending = write.AsTask();
        if (await Task.WhenAny(sending, Task.Delay(_options.SlowClientTimeout, _time)) != sending && _closeRequest is null)
        {
            LogTooSlow(_logger, _memberName, _options.SlowClientTimeout);
            _metrics.SlowClientClosed(DeliveryTransport.WebSocket);
            RequestClose(TryAgainLater, "too slow", subscription ?? _active.FirstOrDefault());
        }

        await sending;
    }

    private static JsonElement RequireId(JsonElement? id) =>
        id ?? throw ClientError("missing_field", "\"id\" is required; the reply echoes it.");

    private static string RequireString(JsonElement request, string name) =>
        request.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw ClientError("missing_field", $"\"{name}\" (a string) is required.");

    private static string? OptionalString(JsonElement request, string name)
    {
        if (!request.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw ClientError("invalid_field", $"\"{name}\" must be a string.");
    }

    private static bool OptionalBool(JsonElement request, string name)
    {
        if (!request.TryGetProperty(name, out var value))
        {
            return false;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False or JsonValueKind.Null => false,
            _ => throw ClientError("invalid_field", $"\"{name}\" must be true or false."),
        };
    }

    private static string?[] RequireStringArray(JsonElement request, string name)
    {
        if (!request.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            throw ClientError("missing_field", $"\"{name}\" (a non-empty array of strings) is required.");
        }

        return value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : throw ClientError("invalid_field", $"\"{name}\" must hold strings.")).ToArray();
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Error, Message = "WebSocket subscription {Subscription} failed; closing the connection")]
    private static partial void LogSubscriptionFailed(ILogger logger, Exception exception, string subscription);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "WebSocket client {Member} read nothing for {Timeout} while events waited; closing it with 1013 (it resumes from its cursor)")]
    private static partial void LogTooSlow(ILogger logger, string member, TimeSpan timeout);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "WebSocket client {Member} left {Count} replies unread; closing it with 1013")]
    private static partial void LogTooManyReplies(ILogger logger, string member, int count);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "WebSocket client {Member} did not drain its last send within the close timeout; dropping the connection")]
    private static partial void LogSendStuck(ILogger logger, string member);

    [LoggerMessage(EventId = 305, Level = LogLevel.Error, Message = "WebSocket client {Member}: a request failed inside the hub; it got an internal_error and the connection goes on")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception, string member);

    [LoggerMessage(EventId = 306, Level = LogLevel.Error, Message = "WebSocket client {Member}: the receive loop failed; closing with 1011")]
    private static partial void LogReceiveFailed(ILogger logger, Exception exception, string member);

    [LoggerMessage(EventId = 304, Level = LogLevel.Information, Message = "WebSocket client {Member} sent nothing for {Timeout} after a ping; dropping the connection")]
    private static partial void LogPeerDead(ILogger logger, string member, TimeSpan timeout);

    private sealed class Subscription(string id, TopicFilter filter, bool presence, byte[] eventPrefix, string startCursor, LogTail tail)
    {
        public string Id { get; } = id;

        public TopicFilter Filter { get; } = filter;

        public bool Presence { get; } = presence;

        public byte[] EventPrefix { get; } = eventPrefix;

        /// <summary>Follows the log for this subscription; read by the send loop only.</summary>
        public LogTail Tail { get; } = tail;

        /// <summary>1 when the tail may have something to read: set by the index's wake-up, taken by the send loop.</summary>
        public int Dirty = 1;

        /// <summary>The connection's send loop signal, which a wake-up of this subscription passes on to.</summary>
        public WakeSignal? ConnectionWake { get; set; }

        /// <summary>Set by unsubscribe; the send loop stops sending this subscription's events.</summary>
        public volatile bool Unsubscribed;

        public string LastSentCursor { get; set; } = startCursor;

        /// <summary>When the subscription began: events the log held before it are catch-up, not live delivery.</summary>
        public DateTimeOffset OpenedAt { get; init; }

        public void Wake()
        {
            Volatile.Write(ref Dirty, 1);
            ConnectionWake?.Set();
        }
    }

    private sealed record CloseRequest(WebSocketCloseStatus Status, string Reason, Subscription? ResumeFrom);

    /// <summary>
    /// A refusal of one client message, as a typed error: the kind is what HTTP answers the same refusal with, and the
    /// message's <c>error</c> op is written by <see cref="ErrorMapping"/> like every other refusal on this connection.
    /// </summary>
    private static SwitchboardException ClientError(string code, string message) => code switch
    {
        "duplicate_subscription" => SwitchboardException.Conflict(ProblemCode(code), "Duplicate subscription", message),
        "invalid_state" => SwitchboardException.Conflict(ProblemCode(code), "Not possible on this connection", message),
        "forbidden" => new SwitchboardException(SwitchboardErrorKind.Forbidden, code, "Forbidden", message),
        "subject_mismatch" => new SwitchboardException(SwitchboardErrorKind.Forbidden, ProblemCode(code), "Subject mismatch", message),
        "not_subscribed" => SwitchboardException.NotFound(ProblemCode(code), "Not subscribed", message),
        "too_many_subscriptions" => SwitchboardException.Invalid(ProblemCode(code), "Too many subscriptions", message),
        "unknown_op" => SwitchboardException.Invalid(ProblemCode(code), "Unknown op", message),
        "missing_field" => SwitchboardException.Invalid(ProblemCode(code), "Missing field", message),
        _ => SwitchboardException.Invalid(ProblemCode(code), "Invalid field", message),
    };

    // The WebSocket codes are the problem codes with '_' for '-' (ErrorMapping.WebSocketCode turns them back).
    private static string ProblemCode(string webSocketCode) => webSocketCode.Replace('_', '-');
}
