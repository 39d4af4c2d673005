using Microsoft.AspNetCore.Http;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.ServerSentEvents;
using Switchboard.Hubs;
using Switchboard.Jobs;
using Switchboard.Metrics;

namespace Switchboard.AspNetCore.Jobs;

/// <summary>
/// <c>GET /v1/jobs/{id}/stream</c>: the events of topic <c>jobs.{id}</c> from the job's start (or from
/// <c>Last-Event-ID</c>), framed exactly as <c>/v1/stream</c> frames them, until the final event; then the
/// stream closes, and a reconnect after it is answered 204 so an EventSource stops. The job's history is the log itself, so a resumed stream loses and repeats nothing. It is the
/// ordinary SSE stream with an end: heartbeats, token expiry, limits and metrics are the same.
/// </summary>
internal static class JobStreamEndpoint
{
    public static async Task<IResult> StreamAsync(string id, HttpContext context, Hub hub, JobQueue queue, SwitchboardMetrics metrics, ConnectionGate connections)
    {
        var job = await queue.GetAsync(id, context.RequestAborted) ?? throw JobQueue.NotFound(id);
        var filter = hub.ParseFilter([JobQueue.TopicFor(job.Id)]);

        // A job stream starts at the job's first event unless resumed.
        var after = SseEndpoint.ResumeFrom(context);
        var start = hub.ResolveStart(string.IsNullOrEmpty(after) ? Cursors.Cursor.Earliest : after, filter);

        // A finished job with nothing after the start (an EventSource reconnecting after the final event, which it does
        // by itself once the stream closes) is told 204: the one answer that makes an EventSource stop reconnecting. A
        // 200 that closes at once would have it reconnect every retry interval for as long as the page stays open. The
        // job is read before the log, and its final event is in the log before it shows as finished, so nothing is missed.
        if (job.IsFinished && start.Reset is null
            && await hub.ReadAsync(filter, start, 1, TimeSpan.Zero, context.RequestAborted) is { Events.Count: 0, Gap: null })
        {
            return Results.NoContent();
        }

        // A finished job's final event is in the log before the job shows as finished, so a finished job with nothing
        // left to read has nothing more to say (a resume after the final event).
        var end = new SseStreamEnd(static record => IsFinal(record.Type),
            async cancellationToken => (await queue.GetAsync(id, cancellationToken))?.IsFinished != false);
        return SseEndpoint.Open(context, filter, start, hub, metrics, connections, end);
    }

    private static bool IsFinal(string type) => type is "job.succeeded" or "job.failed" or "job.canceled";
}
