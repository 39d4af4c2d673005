using System.Net;
using System.Text.Json;

namespace Switchboard.Bench;

/// <summary>
/// A long poller (<c>--client longpoll</c>): <c>GET /v1/events?wait=</c> in a loop, sending each answer's cursor back as
/// <c>after</c>. It is ready once its first poll (a short one, which fixes the starting cursor) has answered and the
/// first held poll is on its way, so the idle-memory probe measures connections that each hold a request.
/// </summary>
internal sealed class LongPollSubscriber(HttpClient client, Uri baseUrl, string topic, MeasurementWindow window, int expectedSamples)
    : Subscriber(window, expectedSamples)
{
    /// <summary>Seconds each poll is held; the hub caps it at its own maximum (Polling:MaxWait).</summary>
    private const int WaitSeconds = 30;

    protected override async Task RunCoreAsync(CancellationToken ct)
    {
        var cursor = "latest";
        var wait = 0;
        while (!ct.IsCancellationRequested)
        {
            var uri = new Uri(baseUrl, $"v1/events?topic={Uri.EscapeDataString(topic)}&after={Uri.EscapeDataString(cursor)}&wait={wait}");
            var polling = client.GetAsync(uri, HttpCompletionOption.ResponseContentRead, ct);
            if (wait > 0)
            {
                MarkReady();
            }

            using var response = await polling;
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Fail($"poll HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                return;
            }

            using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), default, ct);
            foreach (var item in body.RootElement.GetProperty("events").EnumerateArray())
            {
                OnFrame(item.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                    && data.TryGetProperty("t", out var t) && t.TryGetInt64(out var sent) && sent >= 0 ? sent : NotABenchEvent);
            }

            cursor = body.RootElement.GetProperty("cursor").GetString() ?? throw new InvalidDataException("poll answer without a cursor");
            wait = WaitSeconds;
        }
    }
}
