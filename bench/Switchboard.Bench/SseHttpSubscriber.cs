using System.Net.Http.Headers;
using System.Net.ServerSentEvents;

namespace Switchboard.Bench;

/// <summary>
/// Reference subscriber: HttpClient + the inbox SseParser. Simple and spec-complete, but costs more
/// CPU per delivery than <see cref="RawSseSubscriber"/> (async enumerator, chunked-stream layers,
/// one id string per event); use "--client http" to cross-check the raw client's numbers.
/// </summary>
internal sealed class SseHttpSubscriber(HttpClient client, Uri streamUri, MeasurementWindow window, int expectedSamples)
    : Subscriber(window, expectedSamples)
{
    private const int MaxPreambleBytes = 64 * 1024;

    private static readonly SseItemParser<long> ItemParser = ParseItem;

    protected override async Task RunCoreAsync(CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, streamUri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            Fail($"stream HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            return;
        }

        await using var stream = await ReadPreambleAsync(await response.Content.ReadAsStreamAsync(ct), ct);
        MarkReady();

        await foreach (var item in SseParser.Create(stream, ItemParser).EnumerateAsync(ct))
        {
            OnFrame(item.Data);
        }
    }

    /// <summary>
    /// Maps an SSE frame to the publisher's timestamp. Reset frames ("switchboard.reset") and
    /// anything without a numeric data.t are control/foreign frames, not deliveries.
    /// </summary>
    public static long ParseItem(string eventType, ReadOnlySpan<byte> data) =>
        eventType == SseParser.EventTypeDefault && EventTimestamp.TryParse(data, out var t) && t >= 0
            ? t
            : NotABenchEvent;

    /// <summary>
    /// Reads until the first complete SSE line. The server writes "retry: 3000" first, once the
    /// subscription is registered, so seeing it means events published from now on reach us.
    /// A retry line is consumed (SseParser would only use it for reconnection, which the bench
    /// never does); any other first line is left in place so no event can be lost.
    /// </summary>
    public static async Task<Stream> ReadPreambleAsync(Stream raw, CancellationToken ct)
    {
        var buffer = new byte[1024];
        var count = 0;
        while (true)
        {
            if (count == buffer.Length)
            {
                if (buffer.Length >= MaxPreambleBytes)
                {
                    throw new IOException($"no SSE line terminator in the first {MaxPreambleBytes} bytes");
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var n = await raw.ReadAsync(buffer.AsMemory(count), ct);
            if (n == 0)
            {
                throw new IOException("stream ended before the first SSE line");
            }

            count += n;
            var lineEnd = buffer.AsSpan(0, count).IndexOfAny((byte)'\r', (byte)'\n');
            if (lineEnd < 0)
            {
                continue;
            }

            // A lone '\r' split from its '\n' leaves a blank line for the parser, which dispatches nothing.
            var consumed = buffer.AsSpan(0, lineEnd).StartsWith("retry:"u8) ? lineEnd + 1 : 0;
            return new PrefixedStream(buffer, consumed, count - consumed, raw);
        }
    }
}
