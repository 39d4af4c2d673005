using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Polling;

/// <summary>
/// <c>GET /v1/events</c>: short polling without <c>wait</c>, long polling with it. Both answer
/// <c>{"events": [...], "cursor": "..."}</c>; the client sends the cursor back as <c>after</c>.
/// </summary>
internal static class PollingEndpoint
{
    /// <summary>
    /// Checks the request and admits a held poll here, inside the endpoint's filters (a refusal is a problem response),
    /// and returns the poll as a result: the filter and request-delegate frames are not held while the poll waits.
    /// </summary>
    public static IResult Poll(HttpContext context, Hub hub, ConnectionGate connections, SwitchboardMetrics metrics, TimeProvider time)
    {
        // What was appended well before the poll arrived is history the poller is catching up on, not live delivery.
        var liveSince = time.GetUtcNow() - SwitchboardMetrics.LiveGrace;
                var options = context.Options<PollingOptions>();
        var filter = hub.ParseFilter(QueryValues.Get(context.Request, "topic"));
        var caller = Caller.Of(context);
        caller.RequireSubscribe(filter);
        var limit = ParseLimit(QueryValues.Single(context.Request, "limit", "invalid-limit", "Invalid limit"), options);
        var wait = CapToExpiry(WaitParameter.Parse(QueryValues.Single(context.Request, "wait", "invalid-wait", "Invalid wait"), options.MaxWait), caller, time);
        var start = hub.ResolveStart(QueryValues.Single(context.Request, "after", "invalid-cursor", "Invalid cursor"), filter);
        if (start.Reset is { } reset)
        {
            throw Gone(reset);
        }

        // A held poll is a long-lived connection, and counts against the connection limits while it waits.
        var held = wait > TimeSpan.Zero ? connections.Enter(caller, context.RemoteIp(), longPoll: true) : null;
        return new PollResult(filter, start, limit, wait, options.PollIntervalSeconds, liveSince, held, hub, metrics, time);
    }

    /// <summary>One admitted poll: reads (waiting up to <paramref name="wait"/>) and answers, or answers the problem.</summary>
    private sealed class PollResult(TopicFilter filter, StartPosition start, int limit, TimeSpan wait, int pollIntervalSeconds, DateTimeOffset liveSince,
        ConnectionLease? held, Hub hub, SwitchboardMetrics metrics, TimeProvider time) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            using var lease = held;
            var longPoll = wait > TimeSpan.Zero;
            if (longPoll)
            {
                metrics.ConnectionOpened(DeliveryTransport.LongPoll);
            }

            try
            {
                LogReadResult result;
                try
                {
                    // A held read ends by itself when the hub stops (the host's stopping wakes every held poll at once).
                    result = await hub.ReadAsync(filter, start, limit, wait, context.RequestAborted);
                }
                catch (OperationCanceledException) when (hub.Stopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                {
                    // Shutting down: answer the held poll now with "nothing yet", so the client re-polls another node or later.
                    result = new LogReadResult([], start.AfterSeq);
                }
                finally
                {
                    if (longPoll)
                    {
                        metrics.ConnectionClosed(DeliveryTransport.LongPoll);
                    }
                }

                await AnswerAsync(context, result);
            }
            catch (Exception ex) when (ProblemResponses.ProblemFor(context, ex) is { } problem)
            {
                await ProblemResponses.WriteAsync(context, problem);
            }
        }

        private async Task AnswerAsync(HttpContext context, LogReadResult result)
        {
            if (result.Gap is { } gap)
            {
                throw Gone(hub.ResetFor(gap));
            }

            var longPoll = wait > TimeSpan.Zero;
            var response = context.Response;
            response.Headers.CacheControl = "no-store";
            response.Headers["X-Poll-Interval"] = pollIntervalSeconds.ToString(CultureInfo.InvariantCulture);
            var etag = ETagFor(start.Epoch, start.AfterSeq, result);
            response.Headers.ETag = etag;
            if (context.Request.Headers.IfNoneMatch.Any(value => value is not null && value.Split(',').Any(tag => tag.Trim() == etag || tag.Trim() == "*")))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                metrics.PollAnswered(longPoll, PollOutcome.NotModified);
                return;
            }

            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(response.BodyWriter);
            writer.WriteStartObject();
            writer.WriteStartArray("events");
            foreach (var record in result.Events)
            {
                record.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteString("cursor", hub.FormatCursor(result.NextAfterSeq));
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
            var transport = longPoll ? DeliveryTransport.LongPoll : DeliveryTransport.ShortPoll;
            metrics.PollAnswered(longPoll, result.Events.Count > 0 ? PollOutcome.Events : PollOutcome.Empty);
            metrics.Delivered(transport, result.Events, time.GetUtcNow(), liveSince);
            metrics.BytesWritten(transport, writer.BytesCommitted);
        }
    }

    internal static SwitchboardException Gone(CursorReset reset) => SwitchboardException.Gone(reset.Reason, "Cursor no longer valid",
        reset.Reason switch
        {
            ResetReason.EpochChanged => "The cursor belongs to another history of this hub (the store was reset). Restart from the cursor given here; earlier events may be missing.",
            ResetReason.CursorAhead => "The cursor points past the newest event, so it was not issued by this hub. Restart from the cursor given here.",
            _ when reset.HistoryLost => "The hub's history was reset or replaced after this cursor (its store lost its events or was replaced), so the events after it are gone. Restart from the cursor given here; events in between may be missing.",
            _ => "Events after this cursor were removed by retention. Restart from the cursor given here; the events in between are gone.",
        },
        reset.Cursor);

    /// <summary>A held poll ends when its caller's token expires, like every long-lived connection.</summary>
    internal static TimeSpan CapToExpiry(TimeSpan wait, Caller caller, TimeProvider time)
    {
        if (wait <= TimeSpan.Zero || caller.ExpiresAt is not { } expires)
        {
            return wait;
        }

        var left = expires - time.GetUtcNow();
        return left < wait ? TimeSpan.FromTicks(Math.Max(0, left.Ticks)) : wait;
    }

    private static int ParseLimit(string? value, PollingOptions options)
    {
        if (string.IsNullOrEmpty(value))
        {
            return options.DefaultLimit;
        }

        if (!WholeNumber.TryParse(value, out int limit) || limit < 1)
        {
            throw SwitchboardException.Invalid("invalid-limit", "Invalid limit", $"limit must be a whole number from 1 to {options.MaxLimit}.");
        }

        return Math.Min(limit, options.MaxLimit);
    }

    /// <summary>
    /// Weak, because the body's cursor may move past unrelated events while the matching events stay the same;
    /// a client holding the old body and cursor loses nothing.
    /// </summary>
    private static string ETagFor(string epoch, long afterSeq, LogReadResult result)
    {
        var first = result.Events.Count > 0 ? result.Events[0].Seq : 0;
        var last = result.Events.Count > 0 ? result.Events[^1].Seq : 0;
        var identity = string.Create(CultureInfo.InvariantCulture, $"{epoch}|{afterSeq}|{first}|{last}|{result.Events.Count}");
        return $"W/\"{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)).AsSpan(0, 8))}\"";
    }
}
