using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Client.Tests.Subscribing;

/// <summary>
/// A TCP proxy in front of a hub that can refuse WebSocket upgrades or SSE streams (502, as a proxy would), cut every open
/// connection, freeze open connections (silent, never closed), go offline (connections refused, as a restarting hub's
/// port is), or swallow the answer to the next publishes after the hub has handled them. Plain HTTP requests are sent
/// upstream with <c>Connection: close</c>, so every request is a new connection the proxy inspects.
/// </summary>
internal sealed class HubProxy : IAsyncDisposable
{
    private readonly ConcurrentDictionary<int, bool> _frozen = new();
    private readonly int _port;
    private TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, (TcpClient Client, TcpClient Upstream)> _open = new();
    private Task _accepting;
    private int _next;
    private int _dropPublishes;

    public HubProxy(Uri upstream)
    {
        _upstream = upstream;
        _listener.Start();
        _port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        BaseAddress = new Uri($"http://127.0.0.1:{_port}/");
        _accepting = AcceptAsync();
    }

    public Uri BaseAddress { get; }

    public volatile bool RefuseWebSockets;

    public volatile bool RefuseSse;

    /// <summary>SSE requests reach the hub, but no byte of their answers comes back (a buffering proxy).</summary>
    public volatile bool BufferSse;

    /// <summary>WebSocket upgrades are answered 503 with <c>Retry-After: 1</c>, as a hub (or proxy) shedding load does.</summary>
    public volatile bool BusyWebSockets;

    /// <summary>
    /// A network cut: new connections are accepted but pass nothing either way, and stay dead (as ones whose packets were
    /// lost). With <see cref="FreezeAll"/> for the open ones. Clearing it lets the next connections through.
    /// </summary>
    public volatile bool Blackhole;

    /// <summary>WebSocket upgrades are answered 403 with no body, as a proxy that does not allow this caller does.</summary>
    public volatile bool ForbidWebSockets;

    /// <summary>Each WebSocket is cut right after the hub's subscribe <c>ack</c> has reached the client.</summary>
    public volatile bool CloseAfterAck;

    /// <summary>When set, the hub's subscribe <c>ack</c> is replaced by this text frame (an <c>error</c> op, say).</summary>
    public volatile string? ReplaceAckWith;

    public int Upgrades;

    public int BusyRefusals;

    public int DroppedPublishes;

    /// <summary>Connections passing bytes between a client and the hub right now.</summary>
    public int OpenConnections => _open.Count;

    /// <summary>The next <paramref name="count"/> POSTs reach the hub, but their answers are replaced by a dropped connection.</summary>
    public void DropPublishAnswers(int count) => Interlocked.Exchange(ref _dropPublishes, count);

    /// <summary>Closes the port and cuts every open connection: new connections are refused until <see cref="GoOnline"/>.</summary>
    public void GoOffline()
    {
        _listener.Stop();
        DropAll();
    }

    /// <summary>Listens on the same port again.</summary>
    public void GoOnline()
    {
        _listener = new TcpListener(IPAddress.Loopback, _port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Every open connection stops passing bytes either way but stays open, as behind a dead NAT entry.</summary>
    public void FreezeAll()
    {
        foreach (var id in _open.Keys)
        {
            _frozen[id] = true;
        }
    }

    /// <summary>Cuts every open connection, as a network failure would.</summary>
    public void DropAll()
    {
        foreach (var (id, pair) in _open)
        {
            if (_open.TryRemove(id, out _))
            {
                try
                {
                    pair.Client.Client.LingerState = new LingerOption(true, 0);
                }
                catch (ObjectDisposedException)
                {
                    // its handler finished and closed it while we were cutting: already gone
                }

                pair.Client.Dispose();
                pair.Upstream.Dispose();
            }
        }
    }

    private async Task AcceptAsync()
    {
        var listener = _listener;
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (_stop.IsCancellationRequested || ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        var id = Interlocked.Increment(ref _next);
        using var upstream = new TcpClient();
        using var owned = client;
        try
        {
            var stream = client.GetStream();
            if (Blackhole)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }

            var (head, rest) = await ReadHeadAsync(stream);
            if (head is null)
            {
                return;
            }

            var lines = head.Split("\r\n");
            var requestLine = lines[0];
            var isUpgrade = lines.Any(l => l.StartsWith("Upgrade:", StringComparison.OrdinalIgnoreCase) && l.Contains("websocket", StringComparison.OrdinalIgnoreCase));
            if ((isUpgrade && RefuseWebSockets) || (RefuseSse && requestLine.StartsWith("GET /v1/stream", StringComparison.Ordinal)))
            {
                await stream.WriteAsync("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
                return;
            }

            if (isUpgrade && ForbidWebSockets)
            {
                await stream.WriteAsync("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
                return;
            }

            if (isUpgrade && BusyWebSockets)
            {
                await stream.WriteAsync("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
                Interlocked.Increment(ref BusyRefusals);
                return;
            }

            if (isUpgrade)
            {
                Interlocked.Increment(ref Upgrades);
                head += "\r\n\r\n";
            }
            else
            {
                head = string.Join("\r\n", lines.Where(l => l.Length > 0 && !l.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase))) + "\r\nConnection: close\r\n\r\n";
            }

            await upstream.ConnectAsync(_upstream.Host, _upstream.Port);
            var up = upstream.GetStream();
            await up.WriteAsync(Encoding.ASCII.GetBytes(head));
            await up.WriteAsync(rest);
            _open[id] = (client, upstream);
            if (requestLine.StartsWith("POST ", StringComparison.Ordinal) && Interlocked.Decrement(ref _dropPublishes) >= 0)
            {
                // Let the hub handle it, then lose the answer.
                var forwarding = stream.CopyToAsync(up);
                var first = new byte[1];
                await up.ReadExactlyAsync(first);
                Interlocked.Increment(ref DroppedPublishes);
                client.Client.LingerState = new LingerOption(true, 0);
                return;
            }

            if (BufferSse && requestLine.StartsWith("GET /v1/stream", StringComparison.Ordinal))
            {
                await stream.CopyToAsync(up);
                return;
            }

            var toUpstream = PumpAsync(id, stream, up);
            var toClient = isUpgrade && (CloseAfterAck || ReplaceAckWith is not null) ? AckPumpAsync(client, up, stream) : PumpAsync(id, up, stream);
            await Task.WhenAny(toUpstream, toClient);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException or EndOfStreamException or OperationCanceledException)
        {
            // a cut connection
        }
        finally
        {
            _open.TryRemove(id, out _);
            _frozen.TryRemove(id, out _);
        }
    }

    private async Task PumpAsync(int id, NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var n = await from.ReadAsync(buffer);
            if (n == 0)
            {
                return;
            }

            if (_frozen.ContainsKey(id))
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }

            await to.WriteAsync(buffer.AsMemory(0, n));
        }
    }

    /// <summary>Hub → client bytes of a WebSocket, until the subscribe <c>ack</c>: that is replaced or passed on and followed by a cut.</summary>
    private async Task AckPumpAsync(TcpClient client, NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var n = await from.ReadAsync(buffer);
            if (n == 0)
            {
                return;
            }

            // The hub's frames are small and unmasked: the ack arrives as one frame, so a plain search finds it.
            var isAck = buffer.AsSpan(0, n).IndexOf("\"op\":\"ack\""u8) >= 0;
            if (isAck && ReplaceAckWith is { } replacement)
            {
                await to.WriteAsync(TextFrame(replacement));
            }
            else
            {
                await to.WriteAsync(buffer.AsMemory(0, n));
            }

            if (isAck && CloseAfterAck)
            {
                await to.FlushAsync();
                client.Client.Shutdown(SocketShutdown.Both);
                return;
            }
        }
    }

    /// <summary>An unmasked, final WebSocket text frame, as a server sends.</summary>
    private static byte[] TextFrame(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var head = payload.Length < 126 ? new byte[] { 0x81, (byte)payload.Length } : [0x81, 126, (byte)(payload.Length >> 8), (byte)payload.Length];
        return [.. head, .. payload];
    }

    private static async Task<(string? Head, byte[] Body)> ReadHeadAsync(NetworkStream stream)
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(length));
            if (n == 0)
            {
                return (null, []);
            }

            length += n;
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (Encoding.ASCII.GetString(buffer, 0, end), buffer[(end + 4)..length]);
            }
        }

        return (null, []);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        DropAll();
        await _accepting;
        _stop.Dispose();
    }
}
