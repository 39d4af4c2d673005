using System.Net.Sockets;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// Low-overhead subscriber: a plain socket, a hand-written HTTP/1.1 GET, and push parsers that
/// process every complete frame of a read synchronously and allocate nothing per event. With
/// 1,000 streams sharing 2 cores with the server, client CPU per delivery decides whether the
/// bench measures the server or itself. http:// only.
/// </summary>
internal sealed class RawSseSubscriber : Subscriber, ISseSink
{
    private const int ReceiveBufferBytes = 16 * 1024;

    private readonly string _host;
    private readonly int _port;
    private readonly byte[] _request;
    private readonly SseFrameParser _parser;

    public RawSseSubscriber(Uri streamUri, MeasurementWindow window, int expectedSamples)
        : base(window, expectedSamples)
    {
        if (streamUri.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException("the raw client speaks plain http only; use --client http for https", nameof(streamUri));
        }

        _host = streamUri.IdnHost;
        _port = streamUri.Port;
        _request = Encoding.ASCII.GetBytes(
            $"GET {streamUri.PathAndQuery} HTTP/1.1\r\nHost: {streamUri.Authority}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n");
        _parser = new SseFrameParser(this);
    }

    protected override async Task RunCoreAsync(CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(_host, _port, ct);
        await socket.SendAsync(_request, SocketFlags.None, ct);

        var decoder = new HttpResponseDecoder();
        var buffer = new byte[ReceiveBufferBytes];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            if (n == 0 || !decoder.Feed(buffer.AsSpan(0, n), _parser))
            {
                return;
            }
        }
    }

    void ISseSink.OnEvent(bool isDefaultType, ReadOnlySpan<byte> data) =>
        OnFrame(SseFrameParser.TimestampOf(isDefaultType, data));

    // Ready on the first complete SSE line (the server's "retry:" preamble), as in the http client.
    void ISseSink.OnLine(bool isRetry) => MarkReady();
}
