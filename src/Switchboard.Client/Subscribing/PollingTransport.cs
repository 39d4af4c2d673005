using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>
/// <c>GET /v1/events</c>, held (<c>wait=</c>) for long polling or repeated every poll interval with <c>If-None-Match</c>.
/// A <c>410 Gone</c> is a reset carrying the fresh cursor.
/// </summary>
internal sealed class PollingTransport(bool longPoll) : ISubscriptionTransport
{
    private const int Limit = 500;

    public SwitchboardTransport Kind => longPoll ? SwitchboardTransport.LongPolling : SwitchboardTransport.Polling;

    public async IAsyncEnumerable<Delivery> RunAsync(SubscriptionContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = context.Options;
        var http = context.CreateHttpClient();
        string? etag = null;
        string? etagCursor = null;
        var first = true;
        while (true)
        {
            // The first request of a connection is answered at once, so a transport that works shows it at once.
            var hold = longPoll && !first;
            first = false;
            var url = new Uri(context.BaseAddress, "v1/events?" + context.TopicQuery() + "&after=" + Uri.EscapeDataString(context.Cursor)
                + "&limit=" + Limit.ToString(CultureInfo.InvariantCulture)
                + (hold ? "&wait=" + ((int)Math.Max(1, options.LongPollWait.TotalSeconds)).ToString(CultureInfo.InvariantCulture) : ""));
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (!longPoll && etag is not null && etagCursor == context.Cursor)
            {
                request.Headers.TryAddWithoutValidation("If-None-Match", etag);
            }

            await context.AuthorizeAsync(request, cancellationToken).ConfigureAwait(false);
            // The first request proves the transport (it is answered at once), so it gets the connect timeout as the other
            // transports' first frames do: a request lost to a dead network must not hold the subscription for RequestTimeout.
            var timeout = hold ? options.LongPollWait + options.LongPollWait / 8 + options.ConnectTimeout
                : context.Established ? options.RequestTimeout : options.ConnectTimeout;
            PollAnswerDto? answer;
            TimeSpan interval;
            using (var deadline = context.Timeout(timeout, cancellationToken))
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token).ConfigureAwait(false);
                interval = options.PollInterval ?? (response.Headers.TryGetValues("X-Poll-Interval", out var values)
                    && int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var hint) ? TimeSpan.FromSeconds(hint) : TimeSpan.FromSeconds(2));
                if (response.StatusCode == HttpStatusCode.NotModified)
                {
                    context.Established = true;
                    answer = null;
                }
                else if (response.StatusCode == HttpStatusCode.Gone
                    && await HttpAnswers.ReadProblemAsync(response, cancellationToken).ConfigureAwait(false) is { Cursor: { } fresh } problem)
                {
                    context.Established = true;
                    yield return new Delivery(Reset: new HubReset(problem.Code ?? "reset", fresh));
                    continue;
                }
                else if (!response.IsSuccessStatusCode)
                {
                    throw await HttpAnswers.FailureAsync(response, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    answer = await response.Content.ReadFromJsonAsync(ClientJsonContext.Default.PollAnswerDto, deadline.Token).ConfigureAwait(false)
                        ?? throw new JsonException("An empty poll answer");
                    etag = response.Headers.ETag?.ToString();
                    context.Established = true;
                }
            }

            if (answer is not null)
            {
                var prefix = CursorPrefix(answer.Cursor);
                var before = context.Cursor;
                for (var i = 0; i < answer.Events.Count; i++)
                {
                    var e = answer.Events[i];
                    // A poll answer names one cursor, after its last event. The hub's cursors are "<epoch>.<seq>", so each
                    // event's own cursor is known; were they ever not, the earlier events resume from before the answer
                    // (a resume then repeats a few, and the subscription's seq check drops them).
                    var cursor = prefix is not null ? prefix + e.Seq.ToString(CultureInfo.InvariantCulture)
                        : i == answer.Events.Count - 1 ? answer.Cursor : before;
                    yield return new Delivery(Event: e.ToHubEvent(cursor));
                }

                yield return new Delivery(Position: answer.Cursor);
                etagCursor = answer.Cursor;
                if (longPoll || answer.Events.Count >= Limit)
                {
                    continue;
                }
            }

            if (!longPoll)
            {
                await Task.Delay(interval, options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>"<c>epoch.</c>" of a cursor shaped "<c>epoch.seq</c>", else null.</summary>
    private static string? CursorPrefix(string cursor)
    {
        var dot = cursor.LastIndexOf('.');
        return dot > 0 && dot < cursor.Length - 1 && cursor.AsSpan(dot + 1).IndexOfAnyExceptInRange('0', '9') < 0 ? cursor[..(dot + 1)] : null;
    }
}
