using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Bench;

/// <summary>Receives what <see cref="WebSocketFrameReader"/> finds; spans are only valid during the call.</summary>
internal interface IWebSocketFrameSink
{
    /// <summary>A complete data message (all fragments joined).</summary>
    void OnMessage(bool isText, ReadOnlySpan<byte> payload);

    void OnPing(ReadOnlySpan<byte> payload);

    void OnPong(ReadOnlySpan<byte> payload);

    /// <summary>The peer's close frame; <paramref name="code"/> is null when it carried no status.</summary>
    void OnClose(int? code, ReadOnlySpan<byte> reason);
}

/// <summary>
/// Push-style reader of server-to-client WebSocket frames (RFC 6455 §5, no extensions). A single-frame
/// message that arrived whole in one read is handed to the sink in place, so the common case copies
/// nothing and allocates nothing; fragments and frames split across reads are assembled in a buffer
/// owned by the reader. Server frames must not be masked; anything malformed throws
/// <see cref="InvalidDataException"/>. The self-test cross-checks it against the runtime's
/// WebSocket implementation on random message streams.
/// </summary>
internal sealed class WebSocketFrameReader(IWebSocketFrameSink sink, int maxMessageBytes = 16 * 1024 * 1024)
{
    private const int OpContinuation = 0;
    private const int OpText = 1;
    private const int OpBinary = 2;
    private const int OpClose = 8;
    private const int OpPing = 9;
    private const int OpPong = 10;

    private readonly byte[] _header = new byte[10];
    private readonly byte[] _control = new byte[125];
    private int _headerLength;
    private int _headerNeeded = 2;

    private bool _inPayload;
    private bool _fin;
    private int _opcode;
    private long _payloadLength;
    private long _payloadSeen;
    private int _controlLength;

    // Data message being assembled (-1: none).
    private int _messageOpcode = -1;
    private byte[] _message = [];
    private int _messageLength;

    public bool Closed { get; private set; }

    /// <summary>Feeds received bytes; returns false once the peer's close frame was read.</summary>
    public bool Feed(ReadOnlySpan<byte> input)
    {
        while (!input.IsEmpty)
        {
            if (Closed)
            {
                throw new InvalidDataException("bytes after the close frame");
            }

            if (!_inPayload)
            {
                input = input[ConsumeHeader(input)..];
                if (_inPayload && _payloadLength == 0)
                {
                    EndFrame(default, inPlace: true);
                }

                continue;
            }

            var n = (int)Math.Min(_payloadLength - _payloadSeen, input.Length);
            var chunk = input[..n];
            input = input[n..];
            var whole = _payloadSeen == 0 && n == _payloadLength;
            _payloadSeen += n;
            if (_opcode >= OpClose)
            {
                if (!whole)
                {
                    chunk.CopyTo(_control.AsSpan(_controlLength));
                    _controlLength += n;
                }
            }
            else if (!(whole && _fin && _opcode != OpContinuation))
            {
                AppendMessage(chunk);
            }

            if (_payloadSeen == _payloadLength)
            {
                EndFrame(chunk, whole);
            }
        }

        return !Closed;
    }

    private int ConsumeHeader(ReadOnlySpan<byte> input)
    {
        var consumed = 0;
        while (consumed < input.Length)
        {
            var take = Math.Min(_headerNeeded - _headerLength, input.Length - consumed);
            input.Slice(consumed, take).CopyTo(_header.AsSpan(_headerLength));
            _headerLength += take;
            consumed += take;
            if (_headerLength < _headerNeeded)
            {
                break;
            }

            if (_headerNeeded == 2)
            {
                if ((_header[1] & 0x80) != 0)
                {
                    throw new InvalidDataException("the server sent a masked frame");
                }

                var extra = (_header[1] & 0x7F) switch { 126 => 2, 127 => 8, _ => 0 };
                if (extra > 0)
                {
                    _headerNeeded = 2 + extra;
                    continue;
                }
            }

            StartFrame();
            break;
        }

        return consumed;
    }

    private void StartFrame()
    {
        var b0 = _header[0];
        _fin = (b0 & 0x80) != 0;
        _opcode = b0 & 0x0F;
        if ((b0 & 0x70) != 0)
        {
            throw new InvalidDataException("reserved bits set (no extension was negotiated)");
        }

        var len7 = _header[1] & 0x7F;
        _payloadLength = len7 switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(2)),
            127 => (long)BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2)),
            _ => len7,
        };
        if (_payloadLength < 0)
        {
            throw new InvalidDataException("64-bit payload length with the top bit set");
        }

        switch (_opcode)
        {
            case OpClose or OpPing or OpPong:
                if (!_fin || _payloadLength > 125)
                {
                    throw new InvalidDataException("fragmented or oversized control frame");
                }

                _controlLength = 0;
                break;
            case OpText or OpBinary:
                if (_messageOpcode >= 0)
                {
                    throw new InvalidDataException("new data frame inside a fragmented message");
                }

                if (!_fin)
                {
                    _messageOpcode = _opcode;
                }

                break;
            case OpContinuation:
                if (_messageOpcode < 0)
                {
                    throw new InvalidDataException("continuation frame without a message to continue");
                }

                break;
            default:
                throw new InvalidDataException($"unknown opcode {_opcode}");
        }

        if (_opcode < OpClose && (_messageLength + _payloadLength > maxMessageBytes))
        {
            throw new InvalidDataException($"message larger than {maxMessageBytes} bytes");
        }

        _headerLength = 0;
        _headerNeeded = 2;
        _payloadSeen = 0;
        _inPayload = true;
    }

    private void EndFrame(ReadOnlySpan<byte> lastChunk, bool inPlace)
    {
        _inPayload = false;
        switch (_opcode)
        {
            case OpClose or OpPing or OpPong:
            {
                var payload = inPlace ? lastChunk : _control.AsSpan(0, _controlLength);
                if (_opcode == OpPing)
                {
                    sink.OnPing(payload);
                }
                else if (_opcode == OpPong)
                {
                    sink.OnPong(payload);
                }
                else
                {
                    if (payload.Length == 1)
                    {
                        throw new InvalidDataException("close frame with a 1-byte payload");
                    }

                    Closed = true;
                    sink.OnClose(payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : null, payload.Length >= 2 ? payload[2..] : default);
                }

                return;
            }

            case OpText or OpBinary when _fin:
                // Single-frame message: in place when it arrived in one piece, else from the buffer.
                sink.OnMessage(_opcode == OpText, inPlace ? lastChunk : _message.AsSpan(0, _messageLength));
                _messageLength = 0;
                return;

            default:
                if (_fin)
                {
                    var isText = _messageOpcode == OpText;
                    _messageOpcode = -1;
                    var length = _messageLength;
                    _messageLength = 0;
                    sink.OnMessage(isText, _message.AsSpan(0, length));
                }

                return;
        }
    }

    private void AppendMessage(ReadOnlySpan<byte> bytes)
    {
        if (_messageLength + bytes.Length > _message.Length)
        {
            Array.Resize(ref _message, Math.Max(Math.Max(_message.Length * 2, 1024), _messageLength + bytes.Length));
        }

        bytes.CopyTo(_message.AsSpan(_messageLength));
        _messageLength += bytes.Length;
    }
}

/// <summary>Client-to-server frames, which RFC 6455 requires to be masked.</summary>
internal static class WebSocketFrameWriter
{
    public const int OpText = 1;
    public const int OpClose = 8;
    public const int OpPong = 10;

    public static int MaskedSize(int payloadLength) =>
        payloadLength + 4 + (payloadLength <= 125 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10);

    /// <summary>One masked frame with a fresh random masking key.</summary>
    public static byte[] Masked(int opcode, ReadOnlySpan<byte> payload, bool fin = true)
    {
        var frame = new byte[MaskedSize(payload.Length)];
        Write(frame, opcode, payload, BinaryPrimitives.ReadUInt32LittleEndian(RandomNumberGenerator.GetBytes(4)), fin);
        return frame;
    }

    /// <summary>A close frame carrying <paramref name="code"/> (the usual reply: echo the peer's code).</summary>
    public static byte[] Close(int? code)
    {
        Span<byte> payload = stackalloc byte[2];
        if (code is null)
        {
            return Masked(OpClose, []);
        }

        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code.Value);
        return Masked(OpClose, payload);
    }

    /// <summary>Writes a masked frame; <paramref name="destination"/> must hold <see cref="MaskedSize"/> bytes.</summary>
    public static int Write(Span<byte> destination, int opcode, ReadOnlySpan<byte> payload, uint maskKey, bool fin = true)
    {
        destination[0] = (byte)((fin ? 0x80 : 0) | opcode);
        int at;
        if (payload.Length <= 125)
        {
            destination[1] = (byte)(0x80 | payload.Length);
            at = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            destination[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            at = 4;
        }
        else
        {
            destination[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload.Length);
            at = 10;
        }

        Span<byte> mask = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(mask, maskKey);
        mask.CopyTo(destination[at..]);
        at += 4;
        for (var i = 0; i < payload.Length; i++)
        {
            destination[at + i] = (byte)(payload[i] ^ mask[i & 3]);
        }

        return at + payload.Length;
    }
}

/// <summary>The HTTP/1.1 upgrade of RFC 6455 §4, client side.</summary>
internal static class WebSocketHandshake
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    public static string AcceptFor(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));

    /// <summary>The GET with Upgrade headers for an http:// URI (the raw client speaks plain TCP only).</summary>
    /// <remarks>A null <paramref name="subProtocol"/> asks for none (the SignalR client).</remarks>
    public static byte[] Request(Uri uri, string key, string? subProtocol) => Encoding.ASCII.GetBytes(
        $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        + (subProtocol is null ? "\r\n" : $"Sec-WebSocket-Protocol: {subProtocol}\r\n\r\n"));

    /// <summary>
    /// Checks a response head (status line and headers, without the blank line). A refusal throws
    /// with the status line and the start of the body (the server's problem+json) so the report says why.
    /// </summary>
    public static void Validate(string head, ReadOnlySpan<byte> bodyStart, string key, string? subProtocol)
    {
        var lines = head.Split("\r\n");
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            throw new InvalidDataException($"bad status line '{lines[0]}'");
        }

        if (code != 101)
        {
            var body = Encoding.UTF8.GetString(bodyStart[..Math.Min(bodyStart.Length, 300)]).ReplaceLineEndings(" ");
            throw new InvalidDataException($"upgrade refused: {lines[0]} {body}".TrimEnd());
        }

        string? accept = null;
        string? protocol = null;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line.AsSpan(0, colon).Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("sec-websocket-accept", StringComparison.OrdinalIgnoreCase))
            {
                accept = value;
            }
            else if (name.Equals("sec-websocket-protocol", StringComparison.OrdinalIgnoreCase))
            {
                protocol = value;
            }
        }

        if (accept != AcceptFor(key))
        {
            throw new InvalidDataException($"bad Sec-WebSocket-Accept '{accept}'");
        }

        if (protocol != subProtocol)
        {
            throw new InvalidDataException($"server chose subprotocol '{protocol}', expected '{subProtocol}'");
        }
    }
}
