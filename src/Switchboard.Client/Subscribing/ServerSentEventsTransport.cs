using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>
/// <c>GET /v1/stream</c> parsed with <see cref="SseParser"/>. The cursor goes in <c>Last-Event-ID</c>. The hub writes
/// <c>retry:</c> at once and a heartbeat comment every 15 s, so a stream whose first bytes do not come within the connect
/// timeout is buffered by something in between (the client falls back), and one silent for the idle timeout is reconnected.
/// </summary>
internal sealed class ServerSentEventsTransport : ISubscriptionTransport
{
    public SwitchboardTransport Kind => SwitchboardTransport.ServerSentEvents;

    public async IAsyncEnumerable<Delivery> RunAsync(SubscriptionContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = context.Options;
        var http = context.CreateHttpClient();
        if (context.Cursor == "latest")
        {
            // SSE names no position before its first event; pin "latest" now so a reconnect before then misses nothing.
            context.Cursor = await LatestAsync(context, http, cancellationToken).ConfigureAwait(false) ?? "latest";
        }

        var url = new Uri(context.BaseAddress, "v1/stream?" + context.TopicQuery()
            + (SubscriptionContext.IsKeyword(context.Cursor) ? "&after=" + context.Cursor : ""));
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (!SubscriptionContext.IsKeyword(context.Cursor))
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", context.Cursor);
        }

        await context.AuthorizeAsync(request, cancellationToken).ConfigureAwait(false);
        using var stream = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        HttpResponseMessage response;
        using (var headers = context.Timeout(options.ConnectTimeout, cancellationToken))
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
        }

        using var _ = response;
        if (!response.IsSuccessStatusCode)
        {
            throw await HttpAnswers.FailureAsync(response, cancellationToken).ConfigureAwait(false);
        }

        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            throw new TransportStatusException((int)response.StatusCode, null, null, $"Expected text/event-stream, got {response.Content.Headers.ContentType}");
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using var watched = new WatchedStream(body, options.TimeProvider, options.MaxMessageBytes);
        using var watchdog = options.TimeProvider.CreateTimer(_ =>
        {
            var limit = watched.BytesRead == 0 ? options.ConnectTimeout : options.StreamIdleTimeout;
            if (watched.SilentFor > limit && !watched.Stalled)
            {
                watched.Stalled = true;
                try
                {
                    stream.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // A tick that raced the end of the stream: disposing the timer does not wait for a running callback.
                }
            }
        }, null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(Math.Clamp(options.ConnectTimeout.TotalMilliseconds / 4, 50, 1000)));

        // The first bytes (the hub's retry: line) make the stream established, before any event.
        try
        {
            if (!await watched.PrimeAsync(stream.Token).ConfigureAwait(false))
            {
                yield break;
            }
        }
        catch (OperationCanceledException) when (watched.Stalled && !cancellationToken.IsCancellationRequested)
        {
            throw new TransportStalledException($"No bytes of the SSE stream within {options.ConnectTimeout.TotalSeconds:0.#} s (a buffering proxy?)");
        }

        context.Established = true;
        yield return new Delivery(Position: context.Cursor);

        var parser = SseParser.Create(watched, static (type, data) => Parse(type, data));
        await using var items = parser.EnumerateAsync(stream.Token).GetAsyncEnumerator(stream.Token);
        while (true)
        {
            bool more;
            try
            {
                more = await items.MoveNextAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (watched.Stalled && !cancellationToken.IsCancellationRequested)
            {
                throw new TransportStalledException(watched.BytesRead == 0
                    ? $"No bytes of the SSE stream within {options.ConnectTimeout.TotalSeconds:0.#} s (a buffering proxy?)"
                    : $"The SSE stream was silent for {options.StreamIdleTimeout.TotalSeconds:0.#} s");
            }

            if (watched.BytesRead > 0)
            {
                context.Established = true;
            }

            if (!more)
            {
                yield break; // the hub ended the stream (shutdown, max duration): reconnect from the cursor
            }

            var item = items.Current;
            switch (item.Data)
            {
                case EventDto e when item.EventId is { Length: > 0 } id:
                    yield return new Delivery(Event: e.ToHubEvent(id));
                    break;
                case ResetDto reset:
                    yield return new Delivery(Reset: new HubReset(reset.Reason, item.EventId is { Length: > 0 } at ? at : reset.Cursor));
                    break;
                case TokenExpired:
                    throw new CredentialRejectedException("token-expired", "The SSE stream ended: token expired");
            }
        }
    }

    private static async Task<string?> LatestAsync(SubscriptionContext context, HttpClient http, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = context.Timeout(context.Options.ConnectTimeout, cancellationToken);
            var health = await http.GetFromJsonAsync(new Uri(context.BaseAddress, "v1/health"), ClientJsonContext.Default.HealthDto, timeout.Token).ConfigureAwait(false);
            return health?.Cursor;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static object? Parse(string type, ReadOnlySpan<byte> data) => type switch
    {
        "message" => JsonSerializer.Deserialize(data, ClientJsonContext.Default.EventDto),
        "switchboard.reset" => JsonSerializer.Deserialize(data, ClientJsonContext.Default.ResetDto),
        "switchboard.token-expired" => TokenExpired.Instance,
        _ => null,
    };

    private sealed class TokenExpired
    {
        public static readonly TokenExpired Instance = new();
    }

    /// <summary>
    /// Notes when bytes last arrived, so a watchdog can tell a buffered or dead stream from a quiet one, and bounds a line:
    /// the parser keeps a line until its end, so a stream that never ends one (a broken proxy, a hostile endpoint) would
    /// grow it without limit. No event of the hub comes near <paramref name="maxLineBytes"/>.
    /// </summary>
    private sealed class WatchedStream(Stream inner, TimeProvider time, int maxLineBytes) : Stream
    {
        private long _last = time.GetTimestamp();
        private long _bytes;
        private long _lineBytes;

        public volatile bool Stalled;

        public long BytesRead => Interlocked.Read(ref _bytes);

        public TimeSpan SilentFor => time.GetElapsedTime(Interlocked.Read(ref _last));

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        private byte[]? _primed;
        private int _primedOffset;
        private int _primedCount;

        /// <summary>Waits for the first bytes and keeps them for the parser; false when the stream ended first.</summary>
        public async Task<bool> PrimeAsync(CancellationToken cancellationToken)
        {
            var first = new byte[4096];
            var n = await ReadAsync(first, cancellationToken).ConfigureAwait(false);
            (_primed, _primedOffset, _primedCount) = (first, 0, n);
            return n > 0;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_primedCount > 0)
            {
                var take = Math.Min(_primedCount, buffer.Length);
                _primed.AsMemory(_primedOffset, take).CopyTo(buffer);
                _primedOffset += take;
                _primedCount -= take;
                return take;
            }

            var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _last, time.GetTimestamp());
            Interlocked.Add(ref _bytes, n);
            var end = buffer.Span[..n].LastIndexOfAny((byte)'\n', (byte)'\r');
            _lineBytes = end >= 0 ? n - end - 1 : _lineBytes + n;
            if (_lineBytes > maxLineBytes)
            {
                throw new InvalidDataException($"An SSE line exceeded {maxLineBytes} bytes (MaxMessageBytes).");
            }

            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read asynchronously.");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
