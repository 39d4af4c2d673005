using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Switchboard.AspNetCore.ServerSentEvents;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Jobs;

/// <summary>
/// <c>GET /v1/jobs/{id}/stream</c>: the events of topic <c>jobs.{id}</c> from the job's start (or from
/// <c>Last-Event-ID</c>), framed exactly as <c>/v1/stream</c> frames them, until the final event; then the
/// stream closes. The job's history is the log itself, so a resumed stream loses and repeats nothing.
/// </summary>
internal static class JobStreamEndpoint
{

    public static async Task StreamAsync(string id, HttpContext context, Hub hub, JobQueue queue, IHostApplicationLifetime lifetime, TimeProvider time, HeartbeatClock heartbeat)
    {
        var job = await queue.GetAsync(id, context.RequestAborted) ?? throw JobQueue.NotFound(id);
        var options = hub.Options.Sse;
        var filter = hub.ParseFilter([JobQueue.TopicFor(job.Id)]);
        string? after = context.Request.Headers["Last-Event-ID"];
        if (string.IsNullOrEmpty(after))
        {
            after = context.Request.Query["after"];
        }

        // A job stream starts at the job's first event unless resumed.
        var start = hub.ResolveStart(string.IsNullOrEmpty(after) ? Cursors.Cursor.Earliest : after, filter);

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = stopping.Token;
        using var cancelled = new CancellationSignal(cancellationToken);
        var writer = response.BodyWriter;
        var afterSeq = start.AfterSeq;
        var lastWrite = time.GetTimestamp();
        var finishedSeen = false;
        try
        {
            writer.Write(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"retry: {(long)options.ReconnectDelay.TotalMilliseconds}\n\n")));
            await writer.FlushAsync(cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                var signal = hub.Log.AppendSignal;
                var result = await hub.Log.ReadAsync(filter, afterSeq, options.BatchSize, cancellationToken);
                if (result.Gap is { } gap)
                {
                    afterSeq = gap.RestartAfterSeq; // retention removed the job's older events; continue with what is left
                    continue;
                }

                afterSeq = result.NextAfterSeq;
                if (result.Events.Count > 0)
                {
                    var final = false;
                    foreach (var record in result.Events)
                    {
                        writer.Write(record.SseFrame.Span);
                        final |= IsFinal(record.Type);
                    }

                    var flush = await writer.FlushAsync(cancellationToken);
                    if (final || flush.IsCompleted || flush.IsCanceled)
                    {
                        return;
                    }

                    lastWrite = time.GetTimestamp();
                    continue;
                }

                // Nothing new. A finished job's final event is in the log before the job shows as finished, so a
                // finished job with nothing left to read has nothing more to say (a resume after the final event).
                if (finishedSeen)
                {
                    return;
                }

                if ((await queue.GetAsync(id, cancellationToken))?.IsFinished != false)
                {
                    finishedSeen = true; // read once more: the final event may have landed after the read above
                    continue;
                }

                lastWrite = await SseEndpoint.WaitAsync(writer, signal, heartbeat, cancelled, time, lastWrite, options.HeartbeatInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left or the hub is stopping; the client resumes with Last-Event-ID.
        }
    }

    private static bool IsFinal(string type) => type is "job.succeeded" or "job.failed" or "job.canceled";
}
