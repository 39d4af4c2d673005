using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>
/// A WebSocket client written by hand over a raw TCP socket: it sends exactly the handshake headers a test
/// gives, and after the upgrade it only sends what the test tells it to. It never reads or answers pings
/// unless asked, so it can play a peer that vanished without closing its TCP connection.
/// </summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawWebSocket(TcpClient tcp, int status, string head)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        Status = status;
        ResponseHead = head;
    }

    /// <summary>The HTTP status of the handshake response.</summary>
    public int Status { get; }

    /// <summary>The status line and headers of the handshake response.</summary>
    public string ResponseHead { get; }

    /// <summary>Sends a handshake for <c>/v1/ws</c>; <paramref name="headers"/> add to or replace the standard ones.</summary>
    public static async Task<RawWebSocket> HandshakeAsync(HubServer server, string pathAndQuery = "/v1/ws", IReadOnlyDictionary<string, string>? headers = null)
    {
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Host"] = server.BaseAddress.Authority,
            ["Upgrade"] = "websocket",
            ["Connection"] = "Upgrade",
            ["Sec-WebSocket-Version"] = "13",
            ["Sec-WebSocket-Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)),
            ["Sec-WebSocket-Protocol"] = HubSocket.SubProtocol,
        };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            all[name] = value;
        }

        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port).Within();
            var request = new StringBuilder($"GET {pathAndQuery} HTTP/1.1\r\n");
            foreach (var (name, value) in all)
            {
                request.Append(name).Append(": ").Append(value).Append("\r\n");
            }

            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString())).AsTask().Within();

            // Read the response head byte by byte, so nothing after it (the first frames) is consumed.
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(one).AsTask().Within() == 0)
                {
                    throw new IOException($"The server closed the connection inside the handshake response: {head}");
                }

                head.Append((char)one[0]);
            }

            var text = head.ToString();
            var status = int.Parse(text.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            return new RawWebSocket(tcp, status, text);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Sends one masked text frame, as RFC 6455 requires of clients.</summary>
    public Task SendTextAsync(string text) => SendFrameAsync(0x1, Encoding.UTF8.GetBytes(text));

    /// <summary>Answers a ping: a pong echoing its payload.</summary>
    public Task SendPongAsync(byte[] payload) => SendFrameAsync(0xA, payload);

    /// <summary>Sends one final, masked frame with this opcode (1 text, 8 close, 9 ping, 10 pong).</summary>
    public async Task SendFrameAsync(int opcode, byte[] payload) => await WriteRawAsync(Frame(opcode, payload, fin: true));

    /// <summary>Writes bytes as they are (frames built with <see cref="Frame"/>), in one write.</summary>
    public async Task WriteRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes).AsTask().Within();

    /// <summary>One masked frame: opcode 0 continues a message, <paramref name="fin"/> false leaves it unfinished.</summary>
    public static byte[] Frame(int opcode, byte[] payload, bool fin)
    {
        var frame = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        if (payload.Length < 126)
        {
            frame.Add((byte)(0x80 | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame.Add(0x80 | 126);
            frame.Add((byte)(payload.Length >> 8));
            frame.Add((byte)payload.Length);
        }
        else
        {
            throw new ArgumentException("Test frames stay under 64 KiB.", nameof(payload));
        }

        var mask = RandomNumberGenerator.GetBytes(4);
        frame.AddRange(mask);
        frame.AddRange(payload.Select((b, i) => (byte)(b ^ mask[i % 4])));
        return [.. frame];
    }

    /// <summary>
    /// Reads the server's next frame (servers do not mask): its opcode and payload, or null when the connection ended
    /// (closed or reset) before a whole frame arrived.
    /// </summary>
    public async Task<(int Opcode, byte[] Payload)?> ReadFrameAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var head = new byte[2];
            if (!await ReadExactlyOrEndAsync(head, cancel.Token))
            {
                return null;
            }

            long length = head[1] & 0x7F;
            if (length >= 126)
            {
                var extended = new byte[length == 126 ? 2 : 8];
                if (!await ReadExactlyOrEndAsync(extended, cancel.Token))
                {
                    return null;
                }

                length = extended.Aggregate(0L, (sum, b) => (sum << 8) | b);
            }

            var payload = new byte[length];
            return await ReadExactlyOrEndAsync(payload, cancel.Token) ? (head[0] & 0x0F, payload) : null;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No frame from the server within {timeout}.");
        }
    }

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.ReadExactlyAsync(buffer, cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException)
        {
            return false;
        }
    }

    /// <summary>True while the TCP connection is still open from the server's side as far as this end can tell.</summary>
    public bool Connected => _tcp.Connected;

    public void Dispose() => _tcp.Dispose();
}
