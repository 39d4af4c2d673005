using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Switchboard.Bench;

/// <summary>Result of one POST: acked (201) or the reason it was not.</summary>
internal readonly record struct PostOutcome(bool Ok, string? Error);

internal static class BenchHttp
{
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    public static bool InlineSocketCompletions => Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1";

    public static HttpClient CreateClient(int maxConnections, TimeSpan requestTimeout)
    {
        var handler = new SocketsHttpHandler
        {
            // One connection per concurrent loop: publishers must never queue behind each other
            // inside the handler, or we would measure the client's pool instead of the server.
            MaxConnectionsPerServer = Math.Max(1, maxConnections),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // Keep connections for the whole run so reconnect cost never lands in a latency sample.
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = requestTimeout };
    }

    public static Uri PublishUri(Uri baseUrl, string topic) =>
        new(baseUrl, $"v1/topics/{Uri.EscapeDataString(topic)}/events");

    public static Uri StreamUri(Uri baseUrl, string topic) =>
        new(baseUrl, $"v1/stream?topic={Uri.EscapeDataString(topic)}&after=latest");

    /// <summary>The switchboard.v1 WebSocket endpoint (http/https scheme; the clients switch to ws/wss themselves).</summary>
    public static Uri WebSocketUri(Uri baseUrl, string memberName) =>
        new(baseUrl, $"v1/ws?name={Uri.EscapeDataString(memberName)}");

    /// <summary>POSTs an already-encoded body; never throws except for cancellation of <paramref name="ct"/>.</summary>
    public static Task<PostOutcome> PostAsync(HttpClient client, Uri uri, byte[] body, CancellationToken ct)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        // Default completion option buffers the (small) ack body, so the latency covers the full response.
        return SendAsync(client, new HttpRequestMessage(HttpMethod.Post, uri) { Content = content }, HttpStatusCode.Created, ct);
    }

    /// <summary>A bare GET answered 200 (the publish benchmark's reference request).</summary>
    public static Task<PostOutcome> GetOkAsync(HttpClient client, Uri uri, CancellationToken ct) =>
        SendAsync(client, new HttpRequestMessage(HttpMethod.Get, uri), HttpStatusCode.OK, ct);

    private static async Task<PostOutcome> SendAsync(HttpClient client, HttpRequestMessage request, HttpStatusCode expected, CancellationToken ct)
    {
        using (request)
        {
            try
            {
                using var response = await client.SendAsync(request, ct);
                return response.StatusCode == expected
                    ? new PostOutcome(true, null)
                    : new PostOutcome(false, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return new PostOutcome(false, "request timed out");
            }
            catch (HttpRequestException ex)
            {
                return new PostOutcome(false, $"{ex.HttpRequestError}: {ex.Message}");
            }
        }
    }

    /// <summary>Publish-mode body: a constant padding string of the requested size.</summary>
    public static byte[] PaddedBody(int paddingBytes) =>
        Encoding.UTF8.GetBytes($"{{\"type\":\"bench\",\"data\":{{\"p\":\"{new string('x', paddingBytes)}\"}}}}");

    /// <summary>Fan-out body: the send timestamp travels in data.t so subscribers can compute latency.</summary>
    public static byte[] TimestampedBody(long timestamp, string padding) =>
        Encoding.UTF8.GetBytes(padding.Length == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{{\"type\":\"bench\",\"data\":{{\"t\":{timestamp}}}}}")
            : string.Create(CultureInfo.InvariantCulture, $"{{\"type\":\"bench\",\"data\":{{\"t\":{timestamp},\"p\":\"{padding}\"}}}}"));
}

/// <summary>
/// Measurement window in Stopwatch ticks, shared read-only by all loops once opened. Until Open is
/// called both bounds are long.MaxValue, so nothing counts as "in window" during setup.
/// </summary>
internal sealed class MeasurementWindow
{
    private long _start = long.MaxValue;
    private long _end = long.MaxValue;

    public long Start => Volatile.Read(ref _start);

    public long End => Volatile.Read(ref _end);

    public double Seconds => (End - Start) / (double)Stopwatch.Frequency;

    public void Open(long start, long end)
    {
        Volatile.Write(ref _end, end);
        Volatile.Write(ref _start, start);
    }

    public bool Contains(long timestamp) => timestamp >= Start && timestamp < End;

    public static long SecondsToTicks(double seconds) => (long)(seconds * Stopwatch.Frequency);
}

/// <summary>Thread-safe error counter that keeps a bounded set of distinct messages for the report.</summary>
internal sealed class ErrorTally
{
    private const int MaxDistinct = 20;
    private readonly ConcurrentDictionary<string, long> _byMessage = new(StringComparer.Ordinal);
    private long _total;

    public long Total => Interlocked.Read(ref _total);

    public void Add(string message, long count = 1)
    {
        Interlocked.Add(ref _total, count);
        // Cap distinct keys so a server echoing unique ids in errors cannot grow this without bound.
        var key = _byMessage.Count < MaxDistinct || _byMessage.ContainsKey(message) ? message : "(other)";
        _byMessage.AddOrUpdate(key, count, (_, n) => n + count);
    }

    public Dictionary<string, long> Snapshot() => new(_byMessage, StringComparer.Ordinal);
}
