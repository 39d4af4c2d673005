using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>
/// A <see cref="ClientWebSocket"/> speaking switchboard.v1 to a <see cref="HubServer"/>. A background pump reads
/// every message into an inbox (so the client always answers the server's pings), unless the test asks for a
/// client that does not read; the server's close frame is answered and its status kept for assertions.
/// Waiting for a particular message keeps the ones passed over, in order, for the next reads: nothing is lost.
/// </summary>
internal sealed class HubSocket : IAsyncDisposable
{
    public const string SubProtocol = "switchboard.v1";

    private readonly Channel<JsonElement> _inbox = Channel.CreateUnbounded<JsonElement>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly List<JsonElement> _passedOver = [];
    private readonly ConcurrentQueue<string> _dropped = new();
    private readonly HttpMessageInvoker? _invoker;
    private Task _pump = Task.CompletedTask;
    private int _started;

    private HubSocket(ClientWebSocket socket, HttpMessageInvoker? invoker)
    {
        Socket = socket;
        _invoker = invoker;
    }

    public ClientWebSocket Socket { get; }

    /// <summary>The close status the server sent, once its close frame arrived.</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    public string? CloseDescription { get; private set; }

    /// <summary>Why the pump stopped without a close frame (the connection broke), if it did.</summary>
    public Exception? Failure { get; private set; }

    public static Uri Url(HubServer server, string? name = null, string? accessToken = null)
    {
        var builder = new UriBuilder(server.BaseAddress) { Scheme = "ws", Path = "/v1/ws" };
        var query = new List<string>();
        if (name is not null)
        {
            query.Add("name=" + Uri.EscapeDataString(name));
        }

        if (accessToken is not null)
        {
            query.Add("access_token=" + Uri.EscapeDataString(accessToken));
        }

        builder.Query = string.Join("&", query);
        return builder.Uri;
    }

    /// <summary>Connects offering <paramref name="subProtocols"/> (default switchboard.v1) and starts reading.</summary>
    public static async Task<HubSocket> ConnectAsync(
        HubServer server,
        string? name = null,
        Action<ClientWebSocketOptions>? configure = null,
        bool startReading = true,
        int? receiveBufferSize = null,
        string[]? subProtocols = null,
        string? accessToken = null)
    {
        var socket = new ClientWebSocket();
        foreach (var protocol in subProtocols ?? [SubProtocol])
        {
            socket.Options.AddSubProtocol(protocol);
        }

        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        HttpMessageInvoker? invoker = null;
        if (receiveBufferSize is { } size)
        {
            // A small kernel receive buffer, so a client that does not read pushes back on the server quickly.
            invoker = new HttpMessageInvoker(new SocketsHttpHandler
            {
                ConnectCallback = async (context, cancellationToken) =>
                {
                    var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = size, NoDelay = true };
                    try
                    {
                        await raw.ConnectAsync(context.DnsEndPoint, cancellationToken);
                        return new NetworkStream(raw, ownsSocket: true);
                    }
                    catch
                    {
                        raw.Dispose();
                        throw;
                    }
                },
            });
        }

        try
        {
            using var timeout = new CancellationTokenSource(Waiting.DefaultTimeout);
            await socket.ConnectAsync(Url(server, name, accessToken), invoker, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            invoker?.Dispose();
            throw;
        }

        var client = new HubSocket(socket, invoker);
        if (startReading)
        {
            client.StartReading();
        }

        return client;
    }

    /// <summary>Tries to connect and expects the server to refuse the upgrade; returns the HTTP status it answered.</summary>
    public static async Task<HttpStatusCode> RefusedStatusAsync(HubServer server, Action<ClientWebSocketOptions>? configure = null, string? name = null, string[]? subProtocols = null,
        string? accessToken = null)
    {
        using var socket = new ClientWebSocket();
        foreach (var protocol in subProtocols ?? [SubProtocol])
        {
            socket.Options.AddSubProtocol(protocol);
        }

        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(Waiting.DefaultTimeout);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Url(server, name, accessToken), timeout.Token));
        return socket.HttpStatusCode;
    }

    /// <summary>Starts the background reader (for a client created with <c>startReading: false</c>).</summary>
    public void StartReading()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _pump = Task.Run(PumpAsync);
        }
    }

    public Task SendAsync(string json) => SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text);

    public async Task SendAsync(byte[] message, WebSocketMessageType type)
    {
        using var timeout = new CancellationTokenSource(Waiting.DefaultTimeout);
        await Socket.SendAsync(message, type, endOfMessage: true, timeout.Token);
    }

    /// <summary>The next message (first those passed over by <see cref="WaitForAsync"/>), failing on timeout or when the connection ends.</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? timeout = null)
    {
        if (_passedOver.Count > 0)
        {
            var first = _passedOver[0];
            _passedOver.RemoveAt(0);
            return first;
        }

        return await ReadInboxAsync(timeout ?? Waiting.DefaultTimeout);
    }

    private async Task<JsonElement> ReadInboxAsync(TimeSpan limit)
    {
        using var cancel = new CancellationTokenSource(limit);
        try
        {
            // Cancelling a channel read never loses a message, unlike abandoning it with WaitAsync.
            return await _inbox.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"No message within {limit.TotalSeconds:0.#} s.{Diagnostics()}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The connection ended while a message was expected.{Diagnostics()}");
        }
    }

    /// <summary>The first message that matches; the ones passed over stay, in order, for the next reads.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what, TimeSpan? timeout = null)
    {
        var index = _passedOver.FindIndex(m => match(m));
        if (index >= 0)
        {
            var found = _passedOver[index];
            _passedOver.RemoveAt(index);
            return found;
        }

        var limit = timeout ?? Waiting.DefaultTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            JsonElement message;
            try
            {
                message = await ReadInboxAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1));
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                throw new TimeoutException($"Waiting for {what}: {ex.Message}", ex);
            }

            if (match(message))
            {
                return message;
            }

            _passedOver.Add(message);
        }
    }

    /// <summary>Everything received and not yet read, without waiting.</summary>
    public List<JsonElement> Pending()
    {
        var all = new List<JsonElement>(_passedOver);
        _passedOver.Clear();
        while (_inbox.Reader.TryRead(out var message))
        {
            all.Add(message);
        }

        return all;
    }

    /// <summary>Sends a request and returns the reply carrying its <c>id</c> (ack, error, pong or presence).</summary>
    public async Task<JsonElement> RequestAsync(string json)
    {
        var id = SocketMessages.Parse(json).GetProperty("id").GetRawText();
        await SendAsync(json);
        return await WaitForAsync(m => m.TryGetProperty("id", out var replyId) && replyId.GetRawText() == id && m.Op() != "event", $"the reply to {json}");
    }

    /// <summary>Subscribes and asserts the ack; returns it.</summary>
    public async Task<JsonElement> SubscribeAsync(string id, string[] topics, string? after = null, int? history = null, bool presence = false)
    {
        var request = new Dictionary<string, object?> { ["op"] = "subscribe", ["id"] = id, ["topics"] = topics };
        if (after is not null)
        {
            request["after"] = after;
        }

        if (history is not null)
        {
            request["history"] = history;
        }

        if (presence)
        {
            request["presence"] = true;
        }

        var reply = await RequestAsync(JsonSerializer.Serialize(request));
        Assert.True(reply.Op() == "ack", $"Expected an ack for subscription {id}, got {reply.GetRawText()}");
        return reply;
    }

    /// <summary>
    /// Subscribes with presence to one room and waits for the joiner's own presence message (no <c>joined</c>),
    /// which the server sends once the join took effect; returns that message.
    /// </summary>
    public async Task<JsonElement> JoinAsync(string id, string room)
    {
        await SubscribeAsync(id, [room], presence: true);
        return await WaitForAsync(m => m.IsPresence(room) && !m.TryGetProperty("joined", out _) && !m.TryGetProperty("left", out _) && !m.TryGetProperty("id", out _),
            $"the joiner's presence message for {room}");
    }

    /// <summary>The next <paramref name="count"/> events of <paramref name="subscription"/>; other messages are skipped.</summary>
    public async Task<List<JsonElement>> EventsAsync(string subscription, int count, TimeSpan? timeout = null)
    {
        var events = new List<JsonElement>(count);
        var limit = timeout ?? Waiting.DefaultTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (events.Count < count)
        {
            var remaining = deadline - DateTime.UtcNow;
            events.Add(await WaitForAsync(
                m => m.Op() == "event" && m.GetProperty("subscription").GetString() == subscription,
                $"event {events.Count + 1} of {count} for subscription {subscription}",
                remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1)));
        }

        return events;
    }

    /// <summary>A ping round trip: proves the connection is open and served.</summary>
    public async Task AssertPingPongAsync(string id = "still-there")
    {
        var reply = await RequestAsync($$"""{"op":"ping","id":"{{id}}"}""");
        Assert.Equal("pong", reply.Op());
    }

    /// <summary>Reads (and drops) messages until the server's close frame; returns its status and reason.</summary>
    public async Task<(WebSocketCloseStatus? Status, string? Description)> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        var (messages, status, description) = await ReadUntilCloseAsync(timeout);
        foreach (var message in messages)
        {
            _dropped.Enqueue(message.GetRawText());
        }

        return (status, description);
    }

    /// <summary>Reads every message up to the server's close frame; returns them with the close status and reason.</summary>
    public async Task<(List<JsonElement> Messages, WebSocketCloseStatus? Status, string? Description)> ReadUntilCloseAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? Waiting.DefaultTimeout;
        StartReading();
        var messages = new List<JsonElement>(_passedOver);
        _passedOver.Clear();
        using var cancel = new CancellationTokenSource(limit);
        try
        {
            while (await _inbox.Reader.WaitToReadAsync(cancel.Token))
            {
                while (_inbox.Reader.TryRead(out var message))
                {
                    messages.Add(message);
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"The server did not close the connection within {limit.TotalSeconds:0.#} s ({messages.Count} messages read).{Diagnostics()}");
        }

        await _pump;
        return (messages, CloseStatus, CloseDescription);
    }

    /// <summary>Closes from the client side and waits for the server's answering close frame.</summary>
    public async Task<WebSocketCloseStatus?> CloseAsync()
    {
        using (var timeout = new CancellationTokenSource(Waiting.DefaultTimeout))
        {
            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        }

        return (await WaitForCloseAsync()).Status;
    }

    /// <summary>Drops the TCP connection without a close frame, as a client that crashed or lost its network.</summary>
    public void Abort() => Socket.Abort();

    public async ValueTask DisposeAsync()
    {
        Socket.Abort();
        try
        {
            await _pump.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }

        Socket.Dispose();
        _invoker?.Dispose();
    }

    private async Task PumpAsync()
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                message.SetLength(0);
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await Socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = Socket.CloseStatus;
                    CloseDescription = Socket.CloseStatusDescription;
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        // Answer the close as a well-behaved client does, echoing the status.
                        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                        await Socket.CloseOutputAsync(CloseStatus ?? WebSocketCloseStatus.NormalClosure, null, timeout.Token);
                    }

                    return;
                }

                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    throw new InvalidDataException("switchboard.v1 servers send text messages only, got a binary one.");
                }

                _inbox.Writer.TryWrite(SocketMessages.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length)));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or InvalidDataException or JsonException)
        {
            Failure = ex;
        }
        finally
        {
            _inbox.Writer.TryComplete();
        }
    }

    private string Diagnostics()
    {
        var text = new StringBuilder();
        text.Append($" State {Socket.State}, close {(int?)CloseStatus} '{CloseDescription}'");
        if (Failure is not null)
        {
            text.Append($", failure {Failure.GetType().Name}: {Failure.Message}");
        }

        var skipped = _passedOver.Select(m => m.GetRawText()).Concat(_dropped).ToArray();
        if (skipped.Length > 0)
        {
            text.Append($"; {skipped.Length} messages passed over, the last: ");
            text.AppendJoin(" | ", skipped.TakeLast(5).Select(s => s.Length > 300 ? s[..300] + "…" : s));
        }

        return text.Append('.').ToString();
    }
}

/// <summary>Reading switchboard.v1 messages.</summary>
internal static class SocketMessages
{
    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public static string? Op(this JsonElement message) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("op", out var op) ? op.GetString() : null;

    public static string Str(this JsonElement message, string name) => message.GetProperty(name).GetString()!;

    /// <summary>The <c>event</c> object inside an <c>event</c> message.</summary>
    public static JsonElement Event(this JsonElement message) => message.GetProperty("event");

    /// <summary>The seq of the event inside an <c>event</c> message.</summary>
    public static long EventSeq(this JsonElement message) => message.GetProperty("event").GetProperty("seq").GetInt64();

    /// <summary><c>data.n</c> of the event inside an <c>event</c> message.</summary>
    public static int EventN(this JsonElement message) => message.GetProperty("event").GetProperty("data").GetProperty("n").GetInt32();

    public static bool IsPresence(this JsonElement message, string topic) => message.Op() == "presence" && message.Str("topic") == topic;

    public static string[] Members(this JsonElement message) => [.. message.GetProperty("members").EnumerateArray().Select(m => m.GetString()!)];

    /// <summary>The seq part of an <c>{epoch}.{seq}</c> cursor.</summary>
    public static long CursorSeq(string cursor) => long.Parse(cursor[(cursor.LastIndexOf('.') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
}
