using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.ServerSentEvents;

/// <summary>
/// <c>GET /v1/stream</c>: one long response of WHATWG Server-Sent Events. Each event's frame is built once
/// (<see cref="Events.EventRecord.SseFrame"/>) and copied to every stream. A slow client only slows its own
/// loop: Kestrel's pipe stops accepting writes past its threshold, the loop stops reading, and it later
/// catches up from the log. No per-client queue exists to grow.
/// </summary>
/// <remarks>
/// The framing is written by hand rather than through <c>System.Net.ServerSentEvents.SseFormatter</c>,
/// because the formatter works per subscriber, and we want the bytes of each event built once for all of them.
/// </remarks>
internal static class SseEndpoint
{
    private static readonly byte[] Heartbeat = ":\n\n"u8.ToArray();

    public static Task StreamAsync(HttpContext context, Hub hub, IHostApplicationLifetime lifetime, TimeProvider time, HeartbeatClock heartbeat, SwitchboardMetrics metrics, ConnectionGate connections)
    {
        var filter = hub.ParseFilter(context.Request.Query["topic"]);
        Caller.Of(context).RequireSubscribe(filter);
        return StreamFilteredAsync(context, filter, hub, lifetime, time, heartbeat, metrics, connections);
    }

    /// <summary>
    /// A stream of the events matching <paramref name="filter"/>, which the caller has been checked for; the dashboard
    /// streams its system topic through this too.
    /// </summary>
    public static async Task StreamFilteredAsync(HttpContext context, TopicFilter filter, Hub hub, IHostApplicationLifetime lifetime, TimeProvider time, HeartbeatClock heartbeat,
        SwitchboardMetrics metrics, ConnectionGate connections)
    {
        var options = hub.Options.Sse;
        var query = context.Request.Query;
        var caller = Caller.Of(context);

        // Last-Event-ID (an EventSource reconnecting) wins over the first-connect parameter.
        string? after = context.Request.Headers["Last-Event-ID"];
        if (string.IsNullOrEmpty(after))
        {
            after = query["after"];
        }

        var start = hub.ResolveStart(after, filter);
        using var connection = connections.Enter(caller, context.Connection.RemoteIpAddress, longPoll: false);

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        if (options.MaxStreamDuration is { } maxDuration)
        {
            stopping.CancelAfter(maxDuration);
        }

        // The stream ends when the caller's token does; the client reconnects with a fresh one (and Last-Event-ID).
        using var expiry = caller.ExpiresAt is { } expires ? new CancellationTokenSource(Clamp(expires - time.GetUtcNow()), time) : null;
        using var expiryRegistration = expiry?.Token.Register(static state => ((CancellationTokenSource)state!).Cancel(), stopping);

        var cancellationToken = stopping.Token;
        using var cancelled = new CancellationSignal(cancellationToken);
        var writer = response.BodyWriter;
        var afterSeq = start.AfterSeq;
        var lastWrite = time.GetTimestamp();
        metrics.ConnectionOpened(DeliveryTransport.Sse);
        try
        {
            // Sending retry: at once also flushes the headers, so the client's "open" fires before any event.
            Write(writer, string.Create(CultureInfo.InvariantCulture, $"retry: {(long)options.ReconnectDelay.TotalMilliseconds}\n\n"));
            if (start.Reset is { } reset)
            {
                WriteReset(writer, reset);
            }

            await writer.FlushAsync(cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                var signal = hub.Log.AppendSignal;
                var result = await hub.Log.ReadAsync(filter, afterSeq, options.BatchSize, cancellationToken);
                if (result.Gap is { } gap)
                {
                    var gapReset = hub.ResetFor(gap);
                    WriteReset(writer, gapReset);
                    afterSeq = gap.RestartAfterSeq;
                    await writer.FlushAsync(cancellationToken);
                    continue;
                }

                afterSeq = result.NextAfterSeq;
                if (result.Events.Count > 0)
                {
                    long bytes = 0;
                    foreach (var record in result.Events)
                    {
                        var frame = record.SseFrame.Span;
                        writer.Write(frame);
                        bytes += frame.Length;
                    }

                    metrics.Delivered(DeliveryTransport.Sse, result.Events, time.GetUtcNow());
                    metrics.BytesWritten(DeliveryTransport.Sse, bytes);

                    var flush = await writer.FlushAsync(cancellationToken);
                    if (flush.IsCompleted || flush.IsCanceled)
                    {
                        return;
                    }

                    lastWrite = time.GetTimestamp();
                    continue;
                }

                lastWrite = await WaitAsync(writer, signal, heartbeat, cancelled, time, lastWrite, options.HeartbeatInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left, the hub is stopping, the stream reached its maximum duration, or the token expired.
            // Returning ends the response cleanly; the client reconnects with Last-Event-ID.
        }
        finally
        {
            metrics.ConnectionClosed(DeliveryTransport.Sse);
        }

        if (expiry is { IsCancellationRequested: true } && !context.RequestAborted.IsCancellationRequested)
        {
            // Say why, so a client can fetch a fresh token rather than retry with the expired one.
            Write(writer, "event: switchboard.token-expired\ndata: {\"reason\":\"token-expired\"}\n\n");
            using var flushTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await writer.FlushAsync(flushTimeout.Token);
            }
            catch (OperationCanceledException)
            {
                // A client that stopped reading does not get the notice; the stream ends all the same.
            }
        }
    }

    /// <summary>A delay a timer accepts: at least 1 ms (an expired token still gets its stream ended at once), at most about 24 days.</summary>
    internal static TimeSpan Clamp(TimeSpan delay) =>
        delay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : delay > TimeSpan.FromDays(24) ? TimeSpan.FromDays(24) : delay;

    /// <summary>
    /// Waits for an append (<paramref name="signal"/>), a heartbeat tick, or the end, with no timer or registration per
    /// wait; writes a heartbeat comment when the stream has been quiet for the interval. Returns the last write time.
    /// </summary>
    internal static async Task<long> WaitAsync(PipeWriter writer, Task signal, HeartbeatClock heartbeat, CancellationSignal cancelled, TimeProvider time,
        long lastWrite, TimeSpan heartbeatInterval, CancellationToken cancellationToken)
    {
        await Task.WhenAny(signal, heartbeat.NextTick, cancelled.Task);
        if (signal.IsCompleted || cancellationToken.IsCancellationRequested || time.GetElapsedTime(lastWrite) < heartbeatInterval)
        {
            return lastWrite;
        }

        writer.Write(Heartbeat);
        await writer.FlushAsync(cancellationToken);
        return time.GetTimestamp();
    }

    private static void WriteReset(PipeWriter writer, CursorReset reset)
    {
        var json = new System.Buffers.ArrayBufferWriter<byte>();
        using (var jsonWriter = new Utf8JsonWriter(json, JsonWire.Compact))
        {
            jsonWriter.WriteStartObject();
            jsonWriter.WriteString("reason", reset.Reason);
            jsonWriter.WriteString("cursor", reset.Cursor);
            jsonWriter.WriteEndObject();
        }

        // The id moves the client's Last-Event-ID to the restart point, so a reconnect does not reset again.
        Write(writer, $"event: switchboard.reset\nid: {reset.Cursor}\ndata: ");
        writer.Write(json.WrittenSpan);
        Write(writer, "\n\n");
    }

    private static void Write(PipeWriter writer, string text) => writer.Write(Encoding.UTF8.GetBytes(text));
}
