using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Switchboard.Bench;

/// <summary>
/// What one receiving endpoint saw. The counters are written under <see cref="Lock"/> by request handlers on
/// any thread; the coordinator reads the volatile totals while draining and the maps only after the receiver stopped.
/// </summary>
internal sealed class ReceivedDeliveries(int expectedSamples)
{
    public Lock Lock { get; } = new();

    /// <summary>How often each seq arrived (any count above 1 is a duplicate delivery).</summary>
    public Dictionary<long, int> CountsBySeq { get; } = [];

    /// <summary>Publish-to-receive latency of the first receipt of each event published inside the window.</summary>
    public LatencyRecorder Latencies { get; } = new(expectedSamples);

    public WebhookSignature? Signature { get; set; }

    public long ReceivedTotal;
    public long ReceivedInWindow;
    public long FirstReceiptsForWindow;
    public long Duplicates;
    public long Verified;
    public long Invalid;
}

/// <summary>
/// The benchmark's webhook receiver: Kestrel on one or more 127.0.0.1 ports, endpoint <c>i</c> at
/// <c>/hook/i</c>. Each POST is checked (signature, seq, the publisher's timestamp in <c>data.t</c>), counted,
/// and answered 204 at once or after the configured delay. A bad signature is still answered 204, so the hub
/// does not retry it and the count of invalid deliveries stays a count of what the hub sent.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ReceivedDeliveries[] _endpoints;
    private readonly MeasurementWindow _window;
    private readonly TimeSpan _delay;
    private readonly int _verifyEvery;
    private readonly ErrorTally _errors;
    private long _requests;

    private WebhookReceiver(WebApplication app, ReceivedDeliveries[] endpoints, MeasurementWindow window, TimeSpan delay, int verifyEvery, ErrorTally errors)
    {
        _app = app;
        _endpoints = endpoints;
        _window = window;
        _delay = delay;
        _verifyEvery = verifyEvery;
        _errors = errors;
    }

    public IReadOnlyList<ReceivedDeliveries> Endpoints => _endpoints;

    /// <summary>The base URLs (<c>http://127.0.0.1:port</c>), one per listening port.</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    /// <summary>Problems with what arrived (bad path, unparsable body); separate from the hub's own errors.</summary>
    public ErrorTally Errors => _errors;

    public static async Task<WebhookReceiver> StartAsync(int endpoints, int ports, TimeSpan delay, int verifyEvery, MeasurementWindow window, int expectedSamplesPerEndpoint, CancellationToken ct)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        // The handler never blocks, so it runs on the socket's I/O thread instead of hopping to the thread pool:
        // at a few thousand requests/s the hop and the pool's spin-waiting cost more CPU than the requests.
        builder.WebHost.UseSockets(s => s.UnsafePreferInlineScheduling = true);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            for (var i = 0; i < ports; i++)
            {
                k.Listen(IPAddress.Loopback, 0);
            }
        });
        var app = builder.Build();
        var tracks = Enumerable.Range(0, endpoints).Select(_ => new ReceivedDeliveries(expectedSamplesPerEndpoint)).ToArray();
        var receiver = new WebhookReceiver(app, tracks, window, delay, verifyEvery, new ErrorTally());
        app.Run(receiver.HandleAsync);
        await app.StartAsync(ct);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        receiver.Addresses = [.. addresses.Select(a => a.TrimEnd('/'))];
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !TryEndpointIndex(request.Path, out var index))
        {
            _errors.Add($"unexpected request {request.Method} {request.Path}");
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var arrived = Stopwatch.GetTimestamp();
        var reader = request.BodyReader;
        var result = await reader.ReadAsync(context.RequestAborted);
        while (!result.IsCompleted)
        {
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await reader.ReadAsync(context.RequestAborted);
        }

        Record(_endpoints[index], request.Headers, result.Buffer, arrived);
        reader.AdvanceTo(result.Buffer.End);
        if (_delay > TimeSpan.Zero)
        {
            await Task.Delay(_delay, context.RequestAborted);
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private void Record(ReceivedDeliveries track, IHeaderDictionary headers, ReadOnlySequence<byte> sequence, long arrived)
    {
        var length = (int)sequence.Length;
        var rented = sequence.IsSingleSegment ? null : ArrayPool<byte>.Shared.Rent(length);
        try
        {
            ReadOnlySpan<byte> body;
            if (rented is null)
            {
                body = sequence.FirstSpan;
            }
            else
            {
                sequence.CopyTo(rented);
                body = rented.AsSpan(0, length);
            }

            if (!WebhookSignature.TryReadNumber(body, "\"seq\":"u8, out var seq) || !EventTimestamp.TryParse(body, out var sent))
            {
                _errors.Add("delivery without seq or data.t");
                return;
            }

            string? invalid = null;
            var verify = _verifyEvery == 1 || Interlocked.Increment(ref _requests) % _verifyEvery == 0;
            if (verify && track.Signature is { } signature)
            {
                invalid = signature.Verify(headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"], body,
                    DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            }

            lock (track.Lock)
            {
                track.ReceivedTotal++;
                if (_window.Contains(arrived))
                {
                    track.ReceivedInWindow++;
                }

                if (verify && track.Signature is not null)
                {
                    _ = invalid is null ? track.Verified++ : track.Invalid++;
                }

                ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(track.CountsBySeq, seq, out _);
                count++;
                if (count > 1)
                {
                    track.Duplicates++;
                }
                else if (_window.Contains(sent))
                {
                    track.FirstReceiptsForWindow++;
                    track.Latencies.Record(arrived - sent);
                }
            }

            if (invalid is not null)
            {
                _errors.Add("signature: " + invalid);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private bool TryEndpointIndex(PathString path, out int index)
    {
        var value = path.Value.AsSpan();
        index = -1;
        return value.StartsWith("/hook/", StringComparison.Ordinal)
            && int.TryParse(value[6..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out index)
            && index < _endpoints.Length;
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await _app.StopAsync(timeout.Token);
        }

        await _app.DisposeAsync();
    }
}
