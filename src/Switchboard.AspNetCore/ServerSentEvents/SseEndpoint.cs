using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Metrics;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.ServerSentEvents;

/// <summary>
/// <c>GET /v1/stream</c>: one long response of WHATWG Server-Sent Events. The stream is a sink over a
/// <see cref="LogTail"/>: the tail says what happened (events, a gap, a quiet interval, the end), and this writes it.
/// Each event's frame is built once (<see cref="EventRecord.SseFrame"/>) and the same bytes go to every stream. A slow
/// client only slows its own stream: the flush waits for Kestrel's pipe, the tail stops reading, and it later catches
/// up from the log. No per-client queue exists to grow. Kestrel's minimum response data rate is off for streams (it cut
/// slow readers silently); instead a flush the client leaves pending for <c>Sse:SlowClientTimeout</c> cuts the stream,
/// with a log line and <c>switchboard.connections.slow_closed</c>, and the client resumes with <c>Last-Event-ID</c>.
/// </summary>
/// <remarks>
/// The framing is written by hand rather than through <c>System.Net.ServerSentEvents.SseFormatter</c>,
/// because the formatter works per subscriber, and we want the bytes of each event built once for all of them.
/// </remarks>
internal static partial class SseEndpoint
{
    private static readonly byte[] Heartbeat = ":\n\n"u8.ToArray();
    private static readonly byte[] TokenExpired = "event: switchboard.token-expired\ndata: {\"reason\":\"token-expired\"}\n\n"u8.ToArray();

    public static IResult Stream(HttpContext context, Hub hub, SwitchboardMetrics metrics, ConnectionGate connections)
    {
        var filter = hub.ParseFilter(QueryValues.Get(context.Request, "topic"));
        Caller.Of(context).RequireSubscribe(filter);
        return OpenFiltered(context, filter, hub, metrics, connections);
    }

    /// <summary>
    /// A stream of the events matching <paramref name="filter"/>, which the caller has been checked for; the dashboard
    /// streams its system topic through this too.
    /// </summary>
    public static IResult OpenFiltered(HttpContext context, TopicFilter filter, Hub hub, SwitchboardMetrics metrics, ConnectionGate connections) =>
        Open(context, filter, hub.ResolveStart(ResumeFrom(context), filter), hub, metrics, connections, SseStreamEnd.Never);

    /// <summary>
    /// Where a stream resumes: <c>Last-Event-ID</c> (an EventSource reconnecting) wins over the first-connect parameter.
    /// The same id in the query, <c>lastEventId</c> (any case), counts as the header: it is how clients that cannot set
    /// headers resume, such as EventSource polyfills (<c>lastEventId=</c>) and pages written for Mercure
    /// (<c>lastEventID=</c>). Ignoring it would have them start over at <c>after</c>, repeating or skipping events.
    /// </summary>
    internal static string? ResumeFrom(HttpContext context)
    {
        string? resume = context.Request.Headers["Last-Event-ID"];
        if (string.IsNullOrEmpty(resume))
        {
            resume = QueryValues.Single(context.Request, "lastEventId", "invalid-cursor", "Invalid cursor");
        }

        return string.IsNullOrEmpty(resume) ? QueryValues.Single(context.Request, "after", "invalid-cursor", "Invalid cursor") : resume;
    }

    /// <summary>
    /// Admits the stream (a refusal is a problem response, answered by the endpoint's filters) and returns it as a
    /// result. The endpoint returns at once; the stream runs as the result's execution, so the filter and
    /// request-delegate frames are not held for the life of the connection.
    /// </summary>
    internal static IResult Open(HttpContext context, TopicFilter filter, StartPosition start, Hub hub, SwitchboardMetrics metrics,
        ConnectionGate connections, SseStreamEnd end)
    {
        var lease = connections.Enter(Caller.Of(context), context.RemoteIp(), longPoll: false);
        return new SseStream(filter, start, hub, metrics, lease, end);
    }

    /// <summary>One open stream: writes until the client leaves, the hub stops, the caller's token expires, or its end says so.</summary>
    private sealed class SseStream(TopicFilter filter, StartPosition start, Hub hub, SwitchboardMetrics metrics, ConnectionLease connection, SseStreamEnd end) : IResult
    {
        private HttpContext _context = null!;
        private SseOptions _options = null!;
        private PipeWriter _writer = null!;
        private LogTail _tail = null!;
        private DateTimeOffset _openedAt;
        private CancellationToken _cancellationToken;
        private bool _endsByExpiry;

        // Setting up is synchronous and the opening and catch-up have their own frame, so the one an idle stream keeps
        // suspended for its whole life holds little more than the awaiters of its follow loop.
        public Task ExecuteAsync(HttpContext context)
        {
            try
            {
                _context = context;
                var options = _options = context.Options<SseOptions>();
                var response = context.Response;
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "text/event-stream";
                response.Headers.CacheControl = "no-store";
                response.Headers["X-Accel-Buffering"] = "no";
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                DisableMinimumDataRate(context);

                // The stream ends when the caller's token does (the client reconnects with a fresh one and Last-Event-ID),
                // or at the configured maximum duration; both are deadlines on the hub's one clock, not timers of this stream.
                var now = _openedAt = hub.Clock.Time.GetUtcNow();
                DateTimeOffset? maxEnd = options.MaxStreamDuration is { } maxDuration ? now + maxDuration : null;
                var expires = Caller.Of(context).ExpiresAt;
                _endsByExpiry = expires is { } e && (maxEnd is null || e <= maxEnd);

                // The tail ends with the hub when the host stops (one wake-up for all streams); a linked token source per
                // stream would cost an object and two registrations for as long as it is open.
                _cancellationToken = context.RequestAborted;
                _writer = response.BodyWriter;
                _tail = hub.OpenTail(filter, start, new TailOptions
                {
                    BatchSize = options.BatchSize,
                    IdleInterval = options.HeartbeatInterval,
                    Deadline = _endsByExpiry ? expires : maxEnd,
                    StopWithHub = true,
                });
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            return RunAsync();
        }

        private async Task RunAsync()
        {
            var expired = false;
            metrics.ConnectionOpened(DeliveryTransport.Sse);
            try
            {
                if (await StartAsync())
                {
                    return;
                }

                while (true)
                {
                    // The wait is this frame's own await (not the tail's NextAsync), so an idle stream holds one frame.
                    if (await _tail.TryNextAsync(_cancellationToken) is not { } next)
                    {
                        await _tail.Waiter.WaitAsync();
                        continue;
                    }

                    if (await WriteStepAsync(next) is { } ended)
                    {
                        expired = ended == TailStepKind.Ended && _endsByExpiry;
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (_cancellationToken.IsCancellationRequested || hub.Stopping.IsCancellationRequested)
            {
                // The client left or the hub is stopping. Returning ends the response cleanly; the client reconnects with Last-Event-ID.
            }
            catch (SlowClientException)
            {
                // Cut for not reading (logged and counted where it was noticed); the connection is already aborted.
                return;
            }
            catch (Exception ex) when (ProblemResponses.ProblemFor(_context, ex) is { } problem)
            {
                // A store fault or refusal before the first byte is a problem response; after it, the stream just ends
                // and the client resumes with Last-Event-ID.
                await ProblemResponses.WriteAsync(_context, problem);
                return;
            }
            finally
            {
                metrics.ConnectionClosed(DeliveryTransport.Sse);
                _tail.Dispose();
                connection.Dispose();
            }

            if (expired && !_cancellationToken.IsCancellationRequested)
            {
                await SayTokenExpiredAsync();
            }
        }

        // Sends the opening and, for a stream that ends by itself, catches up without waiting and asks whether anything
        // more can come; true when the stream is already over.
        private async ValueTask<bool> StartAsync()
        {
            // Sending retry: at once also flushes the headers, so the client's "open" fires before any event.
            Write(_writer, string.Create(CultureInfo.InvariantCulture, $"retry: {(long)_options.ReconnectDelay.TotalMilliseconds}\n\n"));
            if (start.Reset is { } reset)
            {
                WriteReset(_writer, reset);
            }

            if (await FlushAsync() is null)
            {
                return true;
            }

            if (end.WhenDrained is not { } finished)
            {
                return false;
            }

            while (true)
            {
                var step = await _tail.ReadAsync(_cancellationToken);
                if (step.Kind == TailStepKind.Events && step.Events.Count == 0)
                {
                    break;
                }

                if (await WriteStepAsync(step) is not null)
                {
                    return true;
                }
            }

            if (await finished(_cancellationToken))
            {
                // Its last event may have landed after the read above: read once more, then stop.
                await WriteStepAsync(await _tail.ReadAsync(_cancellationToken));
                return true;
            }

            return false;
        }

        // Says why the stream ends, so a client can fetch a fresh token rather than retry with the expired one.
        private async Task SayTokenExpiredAsync()
        {
            _writer.Write(TokenExpired);
            using var flushTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _writer.FlushAsync(flushTimeout.Token);
            }
            catch (OperationCanceledException)
            {
                // A client that stopped reading does not get the notice; the stream ends all the same.
            }
        }

        // Flushes; a flush the client leaves pending for the slow-client timeout aborts the connection (null). Only a
        // pending flush costs a timer.
        private async ValueTask<FlushResult?> FlushAsync()
        {
            var flushing = _writer.FlushAsync(_cancellationToken);
            if (flushing.IsCompleted)
            {
                return flushing.Result;
            }

            var pending = flushing.AsTask();
            // A client that does not read would hold the host's graceful stop for its whole timeout: when the hub
            // stops, a stream still waiting on a flush is cut (the client resumes with Last-Event-ID elsewhere).
            using var stopping = hub.Stopping.UnsafeRegister(static context => ((HttpContext)context!).Abort(), _context);
            try
            {
                return await pending.WaitAsync(_options.SlowClientTimeout, hub.Clock.Time, _cancellationToken);
            }
            catch (TimeoutException)
            {
                var context = _context;
                var logger = context.HubServices().GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SseEndpoint).FullName!);
                LogTooSlow(logger, context.RemoteIp()?.ToString() ?? "unknown", context.Request.Path.Value ?? "", _options.SlowClientTimeout);
                metrics.SlowClientClosed(DeliveryTransport.Sse);
                context.Abort();
                _ = pending.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observed: the abort completes it
                throw new SlowClientException();
            }
        }

        // Writes one step; returns the kind that ends the stream, or null to go on.
        private async ValueTask<TailStepKind?> WriteStepAsync(TailStep step)
        {
            var writer = _writer;
            switch (step.Kind)
            {
                case TailStepKind.Gap:
                    WriteReset(writer, hub.ResetFor(step.Gap!));
                    break;
                case TailStepKind.Idle:
                    writer.Write(Heartbeat);
                    break;
                case TailStepKind.Ended:
                    return TailStepKind.Ended;
                default:
                    if (step.Events.Count == 0)
                    {
                        return null;
                    }

                    long bytes = 0;
                    foreach (var record in step.Events)
                    {
                        var frame = record.SseFrame.Span;
                        writer.Write(frame);
                        bytes += frame.Length;
                    }

                    metrics.Delivered(DeliveryTransport.Sse, step.Events, hub.Clock.Time.GetUtcNow(), liveSince: _openedAt); // what the log held at open is catch-up
                    metrics.BytesWritten(DeliveryTransport.Sse, bytes);
                    break;
            }

            var flush = await FlushAsync();
            if (flush is not { } done || done.IsCompleted || done.IsCanceled)
            {
                return TailStepKind.Ended;
            }

            return step.Kind == TailStepKind.Events && end.AfterEvents is { } last && step.Events.Any(last) ? TailStepKind.Ended : null;
        }
    }

    /// <summary>
    /// Kestrel's minimum response data rate would cut a reader that is merely slow, without a word; a stream holds it
    /// instead (bounded by the pipe) and cuts it only after <c>Sse:SlowClientTimeout</c>. HTTP/2 has no per-request rate.
    /// </summary>
    private static void DisableMinimumDataRate(HttpContext context)
    {
        if (context.Features.Get<IHttpMinResponseDataRateFeature>() is { } rate)
        {
            try
            {
                rate.MinDataRate = null;
            }
            catch (NotSupportedException)
            {
                // HTTP/2 and HTTP/3 do not enforce it per request.
            }
        }
    }

    /// <summary>A delay a timer accepts: at least 1 ms (an expired token still gets its stream ended at once), at most about 24 days.</summary>
    internal static TimeSpan Clamp(TimeSpan delay) =>
        delay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : delay > TimeSpan.FromDays(24) ? TimeSpan.FromDays(24) : delay;

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

    [LoggerMessage(EventId = 320, Level = LogLevel.Warning, Message = "SSE client {Remote} on {Path} took nothing for {Timeout} while events waited; closing its stream (it resumes with Last-Event-ID)")]
    private static partial void LogTooSlow(ILogger logger, string remote, string path, TimeSpan timeout);

    private sealed class SlowClientException : Exception;
}

/// <summary>When a stream ends by itself (a job stream ends with its job); <see cref="Never"/> for ordinary streams.</summary>
/// <param name="AfterEvents">The stream ends once it has written an event this matches.</param>
/// <param name="WhenDrained">Asked once the stream has caught up: true when nothing more can come.</param>
internal sealed record SseStreamEnd(Func<EventRecord, bool>? AfterEvents, Func<CancellationToken, ValueTask<bool>>? WhenDrained)
{
    public static SseStreamEnd Never { get; } = new(null, null);
}
