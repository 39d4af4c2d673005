using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Client;

/// <summary>
/// Publishes to and subscribes to a Switchboard hub. Subscriptions pick the best transport that works (WebSocket, SSE,
/// long polling, polling), fall back and come back by themselves, and resume from their cursor across every switch and
/// reconnect: no event is lost or repeated, and order is kept. Thread-safe; one instance serves the whole app.
/// </summary>
public sealed class SwitchboardClient : IDisposable, IAsyncDisposable
{
    /// <summary>The name of the <see cref="HttpClient"/> that <c>AddSwitchboardClient</c> registers.</summary>
    public const string HttpClientName = "Switchboard";

    private readonly SwitchboardClientOptions _options;
    private readonly Func<HttpClient> _http;
    private readonly HttpClient? _owned;
    private readonly ILogger _logger;
    private readonly TokenSource _tokens;
    private readonly Uri _baseAddress;

    // Cancelled by Dispose: every running subscription watches it, so disposing the client ends them (and closes their
    // connections) instead of leaving them reconnecting for ever on a client the caller has let go of.
    private readonly CancellationTokenSource _disposing = new();

    /// <summary>A client with its own <see cref="HttpClient"/>, or <paramref name="httpClient"/> (not disposed by the client).</summary>
    public SwitchboardClient(SwitchboardClientOptions options, HttpClient? httpClient = null, ILoggerFactory? loggerFactory = null)
        : this(options, Pick(httpClient, out var owned), owned, loggerFactory)
    {
    }

    /// <summary>A client whose requests go through <paramref name="httpClientFactory"/>'s <see cref="HttpClientName"/> client.</summary>
    public SwitchboardClient(SwitchboardClientOptions options, IHttpClientFactory httpClientFactory, ILoggerFactory? loggerFactory = null)
        : this(options, () => httpClientFactory.CreateClient(HttpClientName), null, loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(httpClientFactory);
    }

    private SwitchboardClient(SwitchboardClientOptions options, Func<HttpClient> http, HttpClient? owned, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BaseAddress is null)
        {
            throw new ArgumentException("SwitchboardClientOptions.BaseAddress is required.", nameof(options));
        }

        if (options.Transports.Count == 0)
        {
            throw new ArgumentException("SwitchboardClientOptions.Transports lists no transport.", nameof(options));
        }

        _options = options;
        _http = http;
        _owned = owned;
        _logger = loggerFactory?.CreateLogger<SwitchboardClient>() ?? NullLogger<SwitchboardClient>.Instance;
        _tokens = new TokenSource(options);
        var text = options.BaseAddress.ToString();
        _baseAddress = text.EndsWith('/') ? options.BaseAddress : new Uri(text + "/");
    }

    private static Func<HttpClient> Pick(HttpClient? given, out HttpClient? owned)
    {
        owned = given is null ? new HttpClient { Timeout = Timeout.InfiniteTimeSpan } : null;
        var client = given ?? owned!;
        return () => client;
    }

    /// <summary>Events on topics matching <paramref name="patterns"/>, after <paramref name="after"/> (a cursor, <c>earliest</c> or <c>latest</c>, the default).</summary>
    /// <remarks>Resets are not items: use the overload with <see cref="SubscribeOptions.OnReset"/> to see them. Enumerate once.</remarks>
    /// <exception cref="SwitchboardAccessDeniedException">The credential is refused: any 403, a 401 other than an expiry, or an expiry a fresh token did not cure.</exception>
    /// <exception cref="SwitchboardException">The hub refused the request itself: a code of <see cref="CallerErrors"/> (an invalid pattern or cursor, …).</exception>
    public IAsyncEnumerable<HubEvent> SubscribeAsync(IReadOnlyList<string> patterns, string? after = null, CancellationToken cancellationToken = default) =>
        SubscribeAsync(patterns, new SubscribeOptions { After = after }, cancellationToken);

    /// <summary>Events on topics matching <paramref name="patterns"/>, with reset and connection callbacks.</summary>
    /// <exception cref="SwitchboardAccessDeniedException">The credential is refused: any 403, a 401 other than an expiry, or an expiry a fresh token did not cure.</exception>
    /// <exception cref="SwitchboardException">The hub refused the request itself: a code of <see cref="CallerErrors"/> (an invalid pattern or cursor, …).</exception>
    public IAsyncEnumerable<HubEvent> SubscribeAsync(IReadOnlyList<string> patterns, SubscribeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        ArgumentNullException.ThrowIfNull(options);
        if (patterns.Count == 0)
        {
            throw new ArgumentException("Give at least one topic pattern.", nameof(patterns));
        }

        var transports = _options.Transports.Distinct().Select(ISubscriptionTransport (kind) => kind switch
        {
            SwitchboardTransport.WebSocket => new WebSocketTransport(),
            SwitchboardTransport.ServerSentEvents => new ServerSentEventsTransport(),
            SwitchboardTransport.LongPolling => new PollingTransport(longPoll: true),
            _ => new PollingTransport(longPoll: false),
        }).ToList();
        var context = new SubscriptionContext(_options, _tokens, _http, _baseAddress, _logger, [.. patterns], options.After ?? "latest");
        return UntilDisposedAsync(context, transports, options, cancellationToken);
    }

    /// <summary>The subscription, ended by <see cref="Dispose"/> with an <see cref="ObjectDisposedException"/>.</summary>
    private async IAsyncEnumerable<HubEvent> UntilDisposedAsync(SubscriptionContext context, List<ISubscriptionTransport> transports, SubscribeOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var linked = CreateLinkedSource(cancellationToken);
        var items = Subscription.RunAsync(context, transports, options, linked.Token).GetAsyncEnumerator(linked.Token);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await items.MoveNextAsync().ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw Disposed();
                }

                if (!more)
                {
                    yield break;
                }

                yield return items.Current;
            }
        }
        finally
        {
            await items.DisposeAsync().ConfigureAwait(false);
        }
    }

    // _disposing itself is never disposed (it holds no timer), so linking to it always works, even after Dispose.
    private CancellationTokenSource CreateLinkedSource(CancellationToken cancellationToken) =>
        CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);

    private static ObjectDisposedException Disposed() =>
        new(nameof(SwitchboardClient), "The SwitchboardClient was disposed; its subscriptions and publishes have ended.");

    /// <summary>Publishes one event. Transient failures are retried with the same idempotency key, so it is appended once.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="data">The data, any JSON value.</param>
    /// <param name="type">The event type, or null for <c>message</c>.</param>
    /// <param name="idempotencyKey">Makes repeats of this publish return the original event; generated when null.</param>
    /// <param name="cancellationToken">Cancels the publish (an attempt in flight may still be appended).</param>
    public async Task<PublishedEvent> PublishAsync(string topic, JsonElement data, string? type = null, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        var body = JsonSerializer.SerializeToUtf8Bytes(new PublishBodyDto { Type = type, Data = data }, ClientJsonContext.Default.PublishBodyDto);
        var url = new Uri(_baseAddress, "v1/topics/" + Uri.EscapeDataString(topic) + "/events");
        return await SendWithRetryAsync(url, body, idempotencyKey, async (response, ct) =>
        {
            var e = await response.Content.ReadFromJsonAsync(ClientJsonContext.Default.EventDto, ct).ConfigureAwait(false) ?? throw new JsonException("Empty publish answer");
            return e.ToPublished(Replayed(response));
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes one event whose data is <paramref name="data"/> serialized with <paramref name="jsonTypeInfo"/>.</summary>
    public Task<PublishedEvent> PublishAsync<T>(string topic, T data, JsonTypeInfo<T> jsonTypeInfo, string? type = null, string? idempotencyKey = null,
        CancellationToken cancellationToken = default) =>
        PublishAsync(topic, JsonSerializer.SerializeToElement(data, jsonTypeInfo), type, idempotencyKey, cancellationToken);

    /// <summary>Publishes a batch atomically (consecutive seqs, or nothing); retried like <see cref="PublishAsync(string, JsonElement, string?, string?, CancellationToken)"/>.</summary>
    public async Task<IReadOnlyList<PublishedEvent>> PublishBatchAsync(IReadOnlyList<OutgoingEvent> events, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var items = events.Select(e => new BatchItemDto { Topic = e.Topic, Type = e.Type, Data = e.Data }).ToList();
        var body = JsonSerializer.SerializeToUtf8Bytes(items, ClientJsonContext.Default.ListBatchItemDto);
        return await SendWithRetryAsync(new Uri(_baseAddress, "v1/events"), body, idempotencyKey, async (response, ct) =>
        {
            var answer = await response.Content.ReadFromJsonAsync(ClientJsonContext.Default.BatchAnswerDto, ct).ConfigureAwait(false) ?? throw new JsonException("Empty publish answer");
            var replayed = Replayed(response);
            return (IReadOnlyList<PublishedEvent>)answer.Events.Select(e => e.ToPublished(replayed)).ToList();
        }, cancellationToken).ConfigureAwait(false);
    }

    private static bool Replayed(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Contains("true", StringComparer.OrdinalIgnoreCase);

    private async Task<T> SendWithRetryAsync<T>(Uri url, byte[] body, string? idempotencyKey, Func<HttpResponseMessage, CancellationToken, Task<T>> read,
        CancellationToken cancellationToken)
    {
        var key = idempotencyKey ?? "sbc_" + Guid.NewGuid().ToString("N");
        var http = _http();
        var refreshed = false;
        for (var attempt = 1; ; attempt++)
        {
            // Checked before every attempt: a disposed HttpClient cancels the attempt in flight, which would otherwise
            // count as a transient failure to retry.
            if (_disposing.IsCancellationRequested)
            {
                throw Disposed();
            }
            Exception failure;
            TimeSpan? retryAfter = null;
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
            var token = await _tokens.GetAsync(cancellationToken).ConfigureAwait(false);
            if (!string.IsNullOrEmpty(token))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            using var deadline = new Deadline(_options.RequestTimeout, _options.TimeProvider, cancellationToken);
            try
            {
                using var response = await http.SendAsync(request, deadline.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return await read(response, deadline.Token).ConfigureAwait(false);
                }

                var error = await HttpAnswers.FailureAsync(response, deadline.Token).ConfigureAwait(false);
                if (error is CredentialRejectedException rejected)
                {
                    if (_tokens.CanRefresh && !refreshed)
                    {
                        refreshed = true;
                        await _tokens.RefreshAsync(token, cancellationToken).ConfigureAwait(false);
                        attempt--;
                        continue;
                    }

                    throw new SwitchboardAccessDeniedException(401, rejected.Code, $"The hub refused the credential: {rejected.Message}");
                }

                if (!HttpAnswers.IsTransient(response.StatusCode))
                {
                    throw error is SwitchboardException ? error
                        : new SwitchboardException((int)response.StatusCode, (error as TransportStatusException)?.Code, error.Message);
                }

                failure = error;
                retryAfter = HttpAnswers.RetryAfter(response.Headers);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                failure = ex;
            }

            if (attempt >= _options.PublishMaxAttempts)
            {
                throw new SwitchboardException($"Publishing failed after {attempt} attempts: {failure.Message}", failure);
            }

            var delay = Backoff.Delay(_options.InitialReconnectDelay, _options.MaxReconnectDelay, attempt - 1, retryAfter);
            ClientLog.PublishRetry(_logger, attempt, failure.Message, delay);
            using var waiting = CreateLinkedSource(cancellationToken);
            try
            {
                await Task.Delay(delay, _options.TimeProvider, waiting.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw Disposed();
            }
        }
    }

    /// <summary>
    /// Ends every running subscription (its enumeration throws <see cref="ObjectDisposedException"/> and its connection
    /// closes) and disposes the <see cref="HttpClient"/> the client made for itself, if any. Later calls throw
    /// <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposing.IsCancellationRequested)
        {
            return;
        }

        // Cancel first, so the subscriptions see a cancellation rather than failures from a disposed HttpClient.
        _disposing.Cancel();
        _owned?.Dispose();
    }

    /// <summary>
    /// As <see cref="Dispose"/>, for <c>await using</c> (as a SignalR <c>HubConnection</c> is disposed). It does not wait for the
    /// subscriptions' enumerations: one whose consumer is busy with an item ends at its next <c>MoveNextAsync</c>, which a
    /// wait here could not hurry; their connections close as each sees the cancellation.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
