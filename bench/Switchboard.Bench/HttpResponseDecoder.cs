using System.Globalization;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// Incremental HTTP/1.1 response reader for one long-lived GET: status line and headers, then a
/// chunked (or read-until-close) body whose payload bytes are pushed into an <see cref="SseFrameParser"/>.
/// Deliberately minimal — it only has to understand a well-behaved local server.
/// </summary>
internal sealed class HttpResponseDecoder
{
    private const int MaxHeaderBytes = 64 * 1024;

    private enum State
    {
        Headers,
        UntilClose,
        ChunkSize,
        ChunkData,
        ChunkDataEnd,
        Done,
    }

    private byte[] _head = new byte[1024];
    private int _headLength;
    private State _state = State.Headers;
    private long _chunkSize;
    private bool _chunkSizeDigits;
    private bool _chunkExtension;
    private long _chunkRemaining;

    /// <summary>Status code once headers were parsed; 0 before.</summary>
    public int StatusCode { get; private set; }

    /// <summary>Feeds received bytes; returns false once the body has ended (terminal chunk).</summary>
    /// <exception cref="InvalidDataException">Non-200 status or malformed framing.</exception>
    public bool Feed(ReadOnlySpan<byte> input, SseFrameParser sse)
    {
        while (!input.IsEmpty)
        {
            switch (_state)
            {
                case State.Headers:
                    input = input[ConsumeHeaders(input)..];
                    break;

                case State.UntilClose:
                    sse.Feed(input);
                    return true;

                case State.ChunkSize:
                    input = input[ConsumeChunkSize(input)..];
                    break;

                case State.ChunkData:
                {
                    var n = (int)Math.Min(_chunkRemaining, input.Length);
                    sse.Feed(input[..n]);
                    _chunkRemaining -= n;
                    input = input[n..];
                    if (_chunkRemaining == 0)
                    {
                        _state = State.ChunkDataEnd;
                    }

                    break;
                }

                case State.ChunkDataEnd:
                {
                    // The CRLF after chunk data; anything before the LF other than CR is a framing error.
                    var lf = input.IndexOf((byte)'\n');
                    var upTo = lf < 0 ? input : input[..lf];
                    if (upTo.ContainsAnyExcept((byte)'\r'))
                    {
                        throw new InvalidDataException("malformed chunk terminator");
                    }

                    if (lf < 0)
                    {
                        return true;
                    }

                    input = input[(lf + 1)..];
                    _state = State.ChunkSize;
                    break;
                }

                default:
                    return false;
            }
        }

        return _state != State.Done;
    }

    private int ConsumeHeaders(ReadOnlySpan<byte> input)
    {
        var before = _headLength;
        var take = Math.Min(input.Length, MaxHeaderBytes - _headLength);
        if (take == 0)
        {
            throw new InvalidDataException($"response headers exceed {MaxHeaderBytes} bytes");
        }

        if (_headLength + take > _head.Length)
        {
            Array.Resize(ref _head, Math.Max(_head.Length * 2, _headLength + take));
        }

        input[..take].CopyTo(_head.AsSpan(_headLength));
        _headLength += take;

        // Search from slightly before the new bytes in case "\r\n\r\n" straddles two reads.
        var from = Math.Max(0, before - 3);
        var end = _head.AsSpan(from, _headLength - from).IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return take;
        }

        end += from;
        ParseHead(Encoding.ASCII.GetString(_head, 0, end));
        _head = [];
        // Bytes of this input that belonged to the head; the rest is body.
        return end + 4 - before;
    }

    private void ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            throw new InvalidDataException($"bad status line '{lines[0]}'");
        }

        StatusCode = code;
        if (code != 200)
        {
            throw new InvalidDataException($"stream HTTP {lines[0]}");
        }

        var chunked = false;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase))
            {
                chunked = line.AsSpan(colon + 1).Contains("chunked", StringComparison.OrdinalIgnoreCase);
            }
        }

        // An SSE response has no Content-Length; without chunking the body runs until the server closes.
        _state = chunked ? State.ChunkSize : State.UntilClose;
    }

    private int ConsumeChunkSize(ReadOnlySpan<byte> input)
    {
        for (var i = 0; i < input.Length; i++)
        {
            var b = input[i];
            if (b == (byte)'\n')
            {
                if (!_chunkSizeDigits)
                {
                    throw new InvalidDataException("chunk size line without digits");
                }

                _state = _chunkSize == 0 ? State.Done : State.ChunkData;
                _chunkRemaining = _chunkSize;
                _chunkSize = 0;
                _chunkSizeDigits = false;
                _chunkExtension = false;
                return i + 1;
            }

            if (_chunkExtension || b == (byte)'\r')
            {
                continue;
            }

            if (b == (byte)';')
            {
                _chunkExtension = true;
                continue;
            }

            var digit = HexValue(b);
            if (digit < 0 || _chunkSize > (long.MaxValue >> 4))
            {
                throw new InvalidDataException("malformed chunk size");
            }

            _chunkSize = (_chunkSize << 4) | (uint)digit;
            _chunkSizeDigits = true;
        }

        return input.Length;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
