using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Options;

namespace Switchboard.Webhooks;

/// <summary>What one delivery attempt came to.</summary>
/// <param name="StatusCode">The response status, when a response came.</param>
/// <param name="Error">Why the attempt failed, when it did.</param>
/// <param name="ResponseBody">The start of the response body.</param>
/// <param name="Latency">Time to the response or the error.</param>
/// <param name="RetryAfter">The receiver's <c>Retry-After</c> on a 429 or 503.</param>
internal sealed record WebhookSendResult(int? StatusCode, string? Error, string? ResponseBody, TimeSpan Latency, TimeSpan? RetryAfter)
{
    public bool Succeeded => StatusCode is >= 200 and < 300;

    public bool Gone => StatusCode == 410;
}

/// <summary>Thrown from the connect callback when every address of a host is refused.</summary>
internal sealed class WebhookAddressRefusedException(string message) : HttpRequestException(message);

/// <summary>
/// POSTs signed deliveries. One pooled <see cref="HttpClient"/> for every endpoint, with redirects, cookies and
/// proxies off, and a connect callback that checks each resolved address against the SSRF policy just before
/// connecting, so DNS rebinding cannot slip a private address in after the endpoint was checked.
/// </summary>
internal sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _client;
    private readonly IOptionsMonitor<WebhookOptions> _options;
    private readonly WebhookHostResolver _resolver;
    private readonly TimeProvider _time;

    private readonly HubLocalWebhooks? _local;

    public WebhookSender(IOptionsMonitor<WebhookOptions> options, WebhookHostResolver resolver, TimeProvider time, HubLocalWebhooks? local = null)
        : this(options, resolver, time, (System.Net.Security.RemoteCertificateValidationCallback?)null)
    {
        _local = local;
    }

    /// <summary>With a certificate check of the caller's own, for tests that run an https receiver with a self-signed certificate.</summary>
    internal WebhookSender(IOptionsMonitor<WebhookOptions> options, WebhookHostResolver resolver, TimeProvider time, System.Net.Security.RemoteCertificateValidationCallback? certificateValidation)
    {
        _options = options;
        _resolver = resolver;
        _time = time;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // Re-resolve hosts now and then, and never keep one pool per receiver forever.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            MaxConnectionsPerServer = options.CurrentValue.MaxInFlightLimit,
            ConnectCallback = ConnectAsync,
        };
        if (certificateValidation is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = certificateValidation;
        }

        _client = NewClient(handler);
    }

    /// <summary>
    /// Over <paramref name="handler"/> instead of sockets, for the engine's tests without a receiver server. Nothing
    /// connects then, so the connect-time address check does not run; the end-to-end tests cover it.
    /// </summary>
    internal WebhookSender(IOptionsMonitor<WebhookOptions> options, TimeProvider time, HttpMessageHandler handler)
    {
        _options = options;
        _resolver = new WebhookHostResolver();
        _time = time;
        _client = NewClient(handler);
    }

    private static HttpClient NewClient(HttpMessageHandler handler)
    {
        var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Switchboard-Webhooks", "1.0"));
        return client;
    }

    private WebhookOptions Options => _options.CurrentValue;

    /// <summary>Sends one delivery. Never throws for the receiver's failures; only for cancellation by <paramref name="cancellationToken"/>.</summary>
    public async Task<WebhookSendResult> SendAsync(WebhookEndpoint endpoint, string webhookId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var options = Options;
        var now = _time.GetUtcNow();
        var timestamp = now.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url);
        request.Content = new ReadOnlyMemoryContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("webhook-id", webhookId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        if (request.RequestUri!.UserInfo is { Length: > 0 } userInfo)
        {
            // Credentials in the URL become Basic authentication, as curl does; they are never logged.
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(userInfo))));
        }

        request.Headers.TryAddWithoutValidation("webhook-signature", WebhookSecret.SignatureHeader(endpoint.SigningSecrets(now), webhookId, timestamp, body.Span));
        if (_local is not null && _local.IsLocal(endpoint))
        {
            request.Options.Set(HubLocalWebhooks.RequestOption, true);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.RequestTimeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var responseBody = await ReadStartAsync(response, options.MaxResponseBodyBytes, timeout.Token).ConfigureAwait(false);
            var latency = Stopwatch.GetElapsedTime(started);
            if (status is >= 200 and < 300)
            {
                return new WebhookSendResult(status, null, responseBody, latency, null);
            }

            var retryAfter = status is 429 or 503 ? RetryAfter(response, now) : null;
            var error = status is >= 300 and < 400
                ? $"HTTP {status}: redirects are not followed; register the final URL"
                : $"HTTP {status}";
            return new WebhookSendResult(status, error, responseBody, latency, retryAfter);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WebhookSendResult(null, $"timed out after {options.RequestTimeout.TotalSeconds:0.###} s", null, Stopwatch.GetElapsedTime(started), null);
        }
        catch (HttpRequestException ex)
        {
            return new WebhookSendResult(null, Describe(ex), null, Stopwatch.GetElapsedTime(started), null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // For example the receiver closing the connection in the middle of its body (HttpIOException).
            return new WebhookSendResult(null, ex.InnerException?.Message ?? ex.Message, null, Stopwatch.GetElapsedTime(started), null);
        }
    }

    private static async Task<string?> ReadStartAsync(HttpResponseMessage response, int maxBytes, CancellationToken cancellationToken)
    {
        if (maxBytes == 0)
        {
            return null;
        }

        // Read only up to the limit; the rest of a large body is never pulled off the socket.
        var buffer = new byte[maxBytes];
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var total = 0;
            int read;
            while (total < maxBytes && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            return total == 0 ? null : Encoding.UTF8.GetString(buffer, 0, total);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        var header = response.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - now : null);
        if (delay is not { } value)
        {
            return null;
        }

        var options = Options;
        return value < options.MinRetryAfter ? options.MinRetryAfter : value > options.MaxRetryAfter ? options.MaxRetryAfter : value;
    }

    private static string Describe(HttpRequestException ex)
    {
        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is WebhookAddressRefusedException refused)
            {
                return refused.Message;
            }
        }

        return ex.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => $"DNS: {ex.Message}",
            HttpRequestError.ConnectionError => $"connection failed: {ex.InnerException?.Message ?? ex.Message}",
            HttpRequestError.SecureConnectionError => $"TLS: {ex.InnerException?.Message ?? ex.Message}",
            _ => ex.InnerException?.Message ?? ex.Message,
        };
    }

    /// <summary>Resolves the host, drops every address the policy refuses, and connects to the first one that answers.</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var policy = new WebhookAddressPolicy(Options.AllowedNetworks);
        var toHubItself = context.InitialRequestMessage.Options.TryGetValue(HubLocalWebhooks.RequestOption, out var local) && local;
        var host = context.DnsEndPoint.Host;
        var addresses = await _resolver.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        string? refusal = null;
        Exception? lastError = null;
        foreach (var address in addresses)
        {
            // The hub's own sinks (the playground's) are the one exception to the loopback block, and only for loopback.
            if (policy.Refusal(address) is { } reason && !(toHubItself && IPAddress.IsLoopback(address)))
            {
                refusal ??= reason;
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                lastError = ex;
            }
        }

        if (lastError is not null)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, lastError.Message, lastError);
        }

        throw new WebhookAddressRefusedException(refusal is null
            ? $"refused: {host} did not resolve to any address"
            : $"refused: {host} resolves to {refusal}");
    }

    public void Dispose() => _client.Dispose();
}
