using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>An HTTP/1.1 response as it came off the socket.</summary>
internal sealed record RawResponse(int Status, string Head, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? MediaType => Headers.TryGetValue("content-type", out var value) ? value.Split(';')[0].Trim() : null;

    public string Text => Encoding.UTF8.GetString(Body);

    /// <summary>A short description for assertion messages.</summary>
    public string Describe() => $"{Status} {MediaType ?? "(no content type)"}: {(Text.Length > 400 ? Text[..400] + "…" : Text)}";

    public JsonElement Json()
    {
        using var document = JsonDocument.Parse(Body);
        return document.RootElement.Clone();
    }
}

/// <summary>
/// Sends HTTP/1.1 requests byte for byte over a raw TCP socket. HttpClient cannot send what these tests need:
/// it normalizes <c>../</c> out of paths, escapes control characters and refuses raw non-ASCII bytes. The request
/// target and header values are written as Latin-1, so a <c>'\u00FF'</c> in a string goes out as the byte 0xFF.
/// </summary>
internal static class RawHttp
{
    private static readonly Encoding Latin1 = Encoding.Latin1;

    /// <summary>
    /// Sends one request on a fresh connection and reads the whole response (Content-Length, chunked, or to the end).
    /// An event stream answer is returned as soon as its head arrives, with an empty body.
    /// </summary>
    public static async Task<RawResponse> SendAsync(
        HubServer server,
        string method,
        string target,
        byte[]? body = null,
        string? contentType = null,
        IEnumerable<(string Name, string Value)>? headers = null,
        TimeSpan? timeout = null)
    {
        using var tcp = new TcpClient { NoDelay = true };
        using var cancel = new CancellationTokenSource(timeout ?? Waiting.DefaultTimeout);
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, cancel.Token);
        var stream = tcp.GetStream();

        var head = new StringBuilder();
        head.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        head.Append("Host: ").Append(server.BaseAddress.Authority).Append("\r\n");
        head.Append("Connection: close\r\n");
        if (contentType is not null)
        {
            head.Append("Content-Type: ").Append(contentType).Append("\r\n");
        }

        var headerList = headers?.ToList() ?? [];
        foreach (var (name, value) in headerList)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (body is not null && !headerList.Any(h => h.Name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || h.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
        {
            head.Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        head.Append("\r\n");

        // Written alongside the read: the server may answer (413, 431) and close before it has read everything.
        var writing = WriteAsync(stream, [.. Latin1.GetBytes(head.ToString()), .. body ?? []], cancel.Token);
        try
        {
            return await ReadResponseAsync(stream, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"No complete response to {method} {Printable(target)} within {(timeout ?? Waiting.DefaultTimeout).TotalSeconds:0.#} s.");
        }
        finally
        {
            // Closing first ends a write the server stopped reading (it answered without taking the whole body).
            tcp.Dispose();
            await writing;
        }
    }

    /// <summary>The target with control and non-ASCII characters shown as escapes, for messages.</summary>
    public static string Printable(string value)
    {
        var text = new StringBuilder();
        foreach (var c in value.Length > 200 ? value[..200] + "…" : value)
        {
            text.Append(c is < ' ' or (>= '\u007f' and <= '\u00ff') ? $"\\x{(int)c:X2}" : c.ToString());
        }

        return text.ToString();
    }

    private static async Task WriteAsync(NetworkStream stream, byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            await stream.WriteAsync(bytes, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The server answered and closed early; what it said is read on the other side.
        }
    }

    private static async Task<RawResponse> ReadResponseAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var reader = new ByteReader(stream);
        var headText = new StringBuilder();
        while (!headText.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            var b = await reader.ReadByteAsync(cancellationToken);
            if (b < 0)
            {
                throw new IOException($"The server closed the connection without a complete response head: '{headText}'.");
            }

            headText.Append((char)b);
        }

        var headString = headText.ToString();
        var lines = headString.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        if (headers.TryGetValue("content-type", out var type) && type.StartsWith("text/event-stream", StringComparison.Ordinal))
        {
            return new RawResponse(status, headString, headers, []);
        }

        byte[] body;
        if (status is 204 or 304 || (status >= 100 && status < 200))
        {
            body = [];
        }
        else if (headers.TryGetValue("transfer-encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = await ReadChunkedAsync(reader, cancellationToken);
        }
        else if (headers.TryGetValue("content-length", out var length))
        {
            body = await reader.ReadExactlyAsync(int.Parse(length, CultureInfo.InvariantCulture), cancellationToken);
        }
        else
        {
            body = await reader.ReadToEndAsync(cancellationToken);
        }

        return new RawResponse(status, headString, headers, body);
    }

    private static async Task<byte[]> ReadChunkedAsync(ByteReader reader, CancellationToken cancellationToken)
    {
        var body = new List<byte>();
        while (true)
        {
            var sizeLine = await reader.ReadLineAsync(cancellationToken);
            var size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                // Trailers (none expected) up to the blank line.
                while ((await reader.ReadLineAsync(cancellationToken)).Length > 0)
                {
                }

                return [.. body];
            }

            body.AddRange(await reader.ReadExactlyAsync(size, cancellationToken));
            await reader.ReadLineAsync(cancellationToken);
        }
    }

    /// <summary>A small buffered reader over the socket stream.</summary>
    private sealed class ByteReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[8192];
        private int _start;
        private int _end;

        public async Task<int> ReadByteAsync(CancellationToken cancellationToken)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = await ReadSomeAsync(cancellationToken);
                if (_end == 0)
                {
                    return -1;
                }
            }

            return _buffer[_start++];
        }

        public async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new StringBuilder();
            while (true)
            {
                var b = await ReadByteAsync(cancellationToken);
                if (b < 0)
                {
                    throw new IOException("The connection ended inside a chunked body.");
                }

                if (b == '\n')
                {
                    return line.ToString().TrimEnd('\r');
                }

                line.Append((char)b);
            }
        }

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            var result = new byte[count];
            for (var i = 0; i < count; i++)
            {
                var b = await ReadByteAsync(cancellationToken);
                if (b < 0)
                {
                    throw new IOException($"The connection ended after {i} of {count} body bytes.");
                }

                result[i] = (byte)b;
            }

            return result;
        }

        public async Task<byte[]> ReadToEndAsync(CancellationToken cancellationToken)
        {
            var result = new List<byte>();
            int b;
            while ((b = await ReadByteAsync(cancellationToken)) >= 0)
            {
                result.Add((byte)b);
            }

            return [.. result];
        }

        private async Task<int> ReadSomeAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await stream.ReadAsync(_buffer, cancellationToken);
            }
            catch (IOException) when (!cancellationToken.IsCancellationRequested)
            {
                return 0; // a reset after the server's answer ends the read like a close
            }
        }
    }
}
