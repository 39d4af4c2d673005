using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>
/// <c>GET /v1/events</c>, held (<c>wait=</c>) for long polling or repeated every poll interval with <c>If-None-Match</c>.
/// A <c>410 Gone</c> is a reset carrying the fresh cursor. A page is read into at most <see cref="PageBound"/> bytes: a
/// larger one is asked for again with half the <c>limit</c>, so a page of large events is never buffered without bound;
/// the limit doubles back once pages are small again.
/// </summary>
internal sealed class PollingTransport(bool longPoll) : ISubscriptionTransport
{
    private const int Limit = 500;

    /// <summary>The most bytes one poll answer may take: 16 of the largest messages the other transports accept.</summary>
    internal static long PageBound(SwitchboardClientOptions options) => 16L * Math.Max(1, options.MaxMessageBytes);

    public SwitchboardTransport Kind => longPoll ? SwitchboardTransport.LongPolling : SwitchboardTransport.Polling;

    public async IAsyncEnumerable<Delivery> RunAsync(SubscriptionContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = context.Options;
        var http = context.CreateHttpClient();
        string? etag = null;
        string? etagCursor = null;
        var first = true;
        var limit = Limit;
        var bound = PageBound(options);
        while (true)
        {
            // The first request of a connection is answered at once, so a transport that works shows it at once.
            var hold = longPoll && !first;
            first = false;
            var url = new Uri(context.BaseAddress, "v1/events?" + context.TopicQuery() + "&after=" + Uri.EscapeDataString(context.Cursor)
                + "&limit=" + limit.ToString(CultureInfo.InvariantCulture)
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
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
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
                else if (await ReadBoundedAsync(response, bound, deadline.Token).ConfigureAwait(false) is not { } body)
                {
                    // Too large a page: ask for fewer events at once. One event alone over the bound is no page to
                    // shrink further; that failure reconnects with back-off, as an over-long WebSocket message does.
                    if (limit == 1)
                    {
                        throw new InvalidDataException($"A poll answer with one event exceeded {bound} bytes.");
                    }

                    limit = Math.Max(1, limit / 2);
                    continue;
                }
                else
                {
                    answer = JsonSerializer.Deserialize(body.Span, ClientJsonContext.Default.PollAnswerDto)
                        ?? throw new JsonException("An empty poll answer");
                    etag = response.Headers.ETag?.ToString();
                    context.Established = true;
                    // Once the large events are read, pages grow back: doubled while twice this page still fits.
                    if (limit < Limit && body.Length * 2L <= bound)
                    {
                        limit = Math.Min(Limit, limit * 2);
                    }
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
                if (longPoll || answer.Events.Count >= limit)
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

    /// <summary>The whole body, or null as soon as it is known to exceed <paramref name="bound"/> bytes (the rest is not read).</summary>
    private static async Task<ReadOnlyMemory<byte>?> ReadBoundedAsync(HttpResponseMessage response, long bound, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is { } length && length > bound)
        {
            return null;
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
            }

            if (buffer.Length + n > bound)
            {
                return null;
            }

            buffer.Write(chunk, 0, n);
        }
    }

    /// <summary>"<c>epoch.</c>" of a cursor shaped "<c>epoch.seq</c>", else null.</summary>
    private static string? CursorPrefix(string cursor)
    {
        var dot = cursor.LastIndexOf('.');
        return dot > 0 && dot < cursor.Length - 1 && cursor.AsSpan(dot + 1).IndexOfAnyExceptInRange('0', '9') < 0 ? cursor[..(dot + 1)] : null;
    }
}
