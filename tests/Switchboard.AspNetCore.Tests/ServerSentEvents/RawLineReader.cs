using System.Text;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.ServerSentEvents;

/// <summary>
/// Reads an SSE response as raw <c>\n</c>-terminated lines, so tests see the exact bytes on the wire
/// (fields, comments, blank lines) rather than what a parser makes of them.
/// </summary>
internal sealed class RawLineReader(Stream stream)
{
    private readonly byte[] _buffer = new byte[16 * 1024];
    private readonly List<byte> _line = [];
    private int _start;
    private int _end;

    /// <summary>The next line without its terminator, or null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            for (var i = _start; i < _end; i++)
            {
                if (_buffer[i] == (byte)'\n')
                {
                    _line.AddRange(_buffer.AsSpan(_start, i - _start));
                    _start = i + 1;
                    var text = Encoding.UTF8.GetString([.. _line]);
                    _line.Clear();
                    return text;
                }
            }

            _line.AddRange(_buffer.AsSpan(_start, _end - _start));
            _start = _end = 0;
            var read = await stream.ReadAsync(_buffer).AsTask().Within(timeout);
            if (read == 0)
            {
                return null;
            }

            _end = read;
        }
    }

    /// <summary>Lines up to (not including) the next blank line: one SSE frame.</summary>
    public async Task<List<string>> ReadFrameAsync(TimeSpan? timeout = null)
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync(timeout) ?? throw new InvalidOperationException($"The stream ended inside a frame after [{string.Join(" | ", lines)}].");
            if (line.Length == 0)
            {
                return lines;
            }

            lines.Add(line);
        }
    }
}
