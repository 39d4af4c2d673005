using System.Net.ServerSentEvents;

namespace Switchboard.Testing;

/// <summary>An SSE connection read with the platform's <see cref="SseParser"/>; items are buffered for assertions.</summary>
public sealed class SseReader : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly IAsyncEnumerator<SseItem<string>> _items;

    private SseReader(HttpResponseMessage response, Stream stream)
    {
        _response = response;
        _items = SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator();
    }

    public HttpResponseMessage Response => _response;

    public static async Task<SseReader> OpenAsync(HttpClient client, string url, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).Within();
        response.EnsureSuccessStatusCode();
        return new SseReader(response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>The next item, or null when the server ended the stream.</summary>
    public async Task<SseItem<string>?> NextAsync(TimeSpan? timeout = null)
    {
        var more = await _items.MoveNextAsync().AsTask().Within(timeout);
        return more ? _items.Current : null;
    }

    /// <summary>The next <paramref name="count"/> items that are not of <paramref name="skipType"/>.</summary>
    public async Task<List<SseItem<string>>> TakeAsync(int count, TimeSpan? timeout = null)
    {
        var items = new List<SseItem<string>>();
        while (items.Count < count)
        {
            var item = await NextAsync(timeout) ?? throw new InvalidOperationException($"The stream ended after {items.Count} of {count} items.");
            items.Add(item);
        }

        return items;
    }

    public async ValueTask DisposeAsync()
    {
        _response.Dispose();
        try
        {
            await _items.DisposeAsync();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or HttpRequestException)
        {
        }
    }
}
