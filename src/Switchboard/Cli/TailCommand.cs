using System.Globalization;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace Switchboard.Cli;

/// <summary>
/// <c>switchboard tail</c>: prints each event as one JSON line. It keeps the last cursor it printed, so after any
/// disconnect it resumes exactly there, over whichever transport was chosen. A reset (410 or
/// <c>switchboard.reset</c>) is reported on stderr and followed, never hidden.
/// </summary>
internal sealed class TailCommand(Uri server, IReadOnlyList<string> patterns, string transport, TextWriter output, TextWriter error, HttpMessageHandler? handler = null,
    string? credential = null)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    /// <summary>The cursor after the last printed event, or null before the first.</summary>
    public string? Cursor { get; private set; }

    public async Task<int> RunAsync(string? after, CancellationToken cancellationToken)
    {
        Cursor = after;
        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        SwitchboardCommandLine.Authorize(http, credential);
        http.BaseAddress = server;
        http.Timeout = Timeout.InfiniteTimeSpan;
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var progressed = transport == "sse"
                    ? await StreamOnceAsync(http, cancellationToken)
                    : await PollOnceAsync(http, longPoll: transport == "long-poll", cancellationToken);
                if (progressed)
                {
                    backoff = TimeSpan.FromMilliseconds(250);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
            {
                await error.WriteLineAsync($"tail: {ex.Message}; retrying in {backoff.TotalSeconds:0.##} s");
                try
                {
                    await Task.Delay(backoff, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }

        return 0;
    }

    private string Query()
    {
        var query = new StringBuilder();
        foreach (var pattern in patterns)
        {
            query.Append(query.Length == 0 ? '?' : '&').Append("topic=").Append(Uri.EscapeDataString(pattern));
        }

        return query.ToString();
    }

    private async Task<bool> PollOnceAsync(HttpClient http, bool longPoll, CancellationToken cancellationToken)
    {
        var url = "v1/events" + Query() + (Cursor is null ? "" : "&after=" + Uri.EscapeDataString(Cursor)) + (longPoll ? "&wait=30" : "");
        using var response = await http.GetAsync(url, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode == HttpStatusCode.Gone)
        {
            using var problem = JsonDocument.Parse(body);
            Cursor = problem.RootElement.GetProperty("cursor").GetString();
            await error.WriteLineAsync($"tail: reset ({problem.RootElement.GetProperty("code").GetString()}); continuing from {Cursor}");
            return true;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode} {response.ReasonPhrase}: {body}");
        }

        using var document = JsonDocument.Parse(body);
        var events = document.RootElement.GetProperty("events");
        foreach (var element in events.EnumerateArray())
        {
            await output.WriteLineAsync(element.GetRawText());
        }

        await output.FlushAsync(cancellationToken);
        Cursor = document.RootElement.GetProperty("cursor").GetString();
        if (!longPoll && events.GetArrayLength() == 0)
        {
            var seconds = response.Headers.TryGetValues("X-Poll-Interval", out var values)
                && int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var hint) ? hint : 2;
            await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
        }

        return true;
    }

    private async Task<bool> StreamOnceAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/stream" + Query());
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (Cursor is not null)
        {
            request.Headers.Add("Last-Event-ID", Cursor);
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode} {response.ReasonPhrase}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var progressed = false;
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
        {
            progressed = true;
            if (item.EventType == "switchboard.reset")
            {
                await error.WriteLineAsync($"tail: reset {item.Data}");
            }
            else
            {
                await output.WriteLineAsync(item.Data);
                await output.FlushAsync(cancellationToken);
            }

            if (item.EventId is { Length: > 0 } id)
            {
                Cursor = id;
            }
        }

        return progressed; // the server ended the stream; reconnect from Cursor
    }
}
