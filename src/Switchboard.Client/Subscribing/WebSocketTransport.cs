using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>
/// <c>GET /v1/ws</c> with <see cref="ClientWebSocket"/>: one connection, one <c>subscribe</c> op with <c>after</c> set to the
/// cursor; the <c>ack</c> is the first frame. Tokens are renewed in place with <c>op: refresh</c> before they expire.
/// </summary>
internal sealed class WebSocketTransport : ISubscriptionTransport
{
    private const string SubscriptionId = "s";

    public SwitchboardTransport Kind => SwitchboardTransport.WebSocket;

    public async IAsyncEnumerable<Delivery> RunAsync(SubscriptionContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = context.Options;
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("switchboard.v1");
        socket.Options.CollectHttpResponseDetails = true;
        // The hub's own pings are answered inside ClientWebSocket, out of sight, so a connection that went silent without
        // closing (a dead NAT entry, a frozen proxy) is found by pinging the hub: no pong in time aborts the socket, and the
        // subscription reconnects from its cursor. Silent for StreamIdleTimeout at most, as an SSE stream may be.
        if (options.StreamIdleTimeout > TimeSpan.Zero)
        {
            socket.Options.KeepAliveInterval = options.StreamIdleTimeout / 3;
            socket.Options.KeepAliveTimeout = options.StreamIdleTimeout - socket.Options.KeepAliveInterval;
        }
        var token = await context.Tokens.GetAsync(cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(token))
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }

        var builder = new UriBuilder(new Uri(context.BaseAddress, "v1/ws"));
        builder.Scheme = builder.Scheme == Uri.UriSchemeHttps ? "wss" : "ws";
        using (var handshake = context.Timeout(options.ConnectTimeout, cancellationToken))
        {
            try
            {
                await socket.ConnectAsync(builder.Uri, handshake.Token).ConfigureAwait(false);
            }
            catch (WebSocketException) when (socket.HttpStatusCode != 0)
            {
                var status = (int)socket.HttpStatusCode;
                TimeSpan? retryAfter = socket.HttpResponseHeaders?.TryGetValue("Retry-After", out var values) == true
                    && int.TryParse(values.FirstOrDefault(), out var seconds) ? TimeSpan.FromSeconds(seconds) : null;
                // A refused upgrade shows its status and headers but not its problem body, so a 401 is asked again over
                // HTTP with the same credential: only its code tells an expired token (renewed) from a bad one (final).
                var code = status == 401 ? await RefusalCodeAsync(context, token, cancellationToken).ConfigureAwait(false) : null;
                if (status == 401 && code is null && context.Tokens.ExpiresAt is { } exp && exp <= options.TimeProvider.GetUtcNow())
                {
                    code = "token-expired"; // the probe had no answer, but the token says as much itself
                }

                throw HttpAnswers.Classify(status, code, retryAfter, $"WebSocket upgrade refused: {status}" + (code is null ? "" : $" ({code})"));
            }
        }

        await SendAsync(socket, new WsRequestDto { Op = "subscribe", Id = SubscriptionId, Topics = context.Patterns, After = context.Cursor }, cancellationToken)
            .ConfigureAwait(false);

        using var connection = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task refreshing = Task.CompletedTask;
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            while (true)
            {
                WsMessageDto? message;
                using (var firstFrame = context.Established ? null : context.Timeout(options.ConnectTimeout, connection.Token))
                {
                    message = await ReceiveAsync(socket, buffer, options.MaxMessageBytes, firstFrame?.Token ?? connection.Token).ConfigureAwait(false);
                }

                if (message is null)
                {
                    if (socket.CloseStatus == WebSocketCloseStatus.PolicyViolation && socket.CloseStatusDescription == "token expired")
                    {
                        throw new CredentialRejectedException("token-expired", "The WebSocket was closed: token expired");
                    }

                    yield break; // closed by the hub (shutdown, too slow, …): reconnect from the cursor
                }

                switch (message.Op)
                {
                    case "ack" when message.IdText == SubscriptionId:
                        context.Established = true;
                        if (context.Tokens.CanRefresh)
                        {
                            refreshing = RefreshLoopAsync(socket, context, connection.Token);
                        }

                        if (message.Cursor is { } start)
                        {
                            yield return new Delivery(Position: start);
                        }

                        break;
                    case "event" when message.Event is { } e && message.Cursor is { } cursor:
                        yield return new Delivery(Event: e.ToHubEvent(cursor));
                        break;
                    case "reset" when message.Cursor is { } resetCursor:
                        yield return new Delivery(Reset: new HubReset(message.Reason ?? "reset", resetCursor));
                        break;
                    case "error" when message.IdText == SubscriptionId || (message.IdText is null && message.Subscription == SubscriptionId):
                        throw ErrorOp(message.Code, message.Message);
                }
            }
        }
        finally
        {
            await connection.CancelAsync().ConfigureAwait(false);
            try
            {
                await refreshing.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // the connection is over; its refresh loop with it
            }

            if (socket.State == WebSocketState.Open)
            {
                socket.Abort();
            }
        }
    }

    /// <summary>
    /// What a WebSocket <c>error</c> for the subscription means: an expiry renews the token, a code in
    /// <see cref="CallerErrors"/> ends the subscription, anything else is retried with back-off.
    /// </summary>
    internal static Exception ErrorOp(string? code, string? text)
    {
        var message = text ?? code ?? "WebSocket subscribe failed";
        if (CallerErrors.IsExpiry(code))
        {
            return new CredentialRejectedException(code, message);
        }

        if (CallerErrors.IsCredential(code))
        {
            return new SwitchboardAccessDeniedException(0, code, message);
        }

        return CallerErrors.Ends(code)
            ? new SwitchboardException(0, code, message)
            : new TransportStatusException(0, code, null, $"WebSocket error {code}: {message}");
    }

    /// <summary>The problem code a plain request with <paramref name="token"/> is refused with, or null when it is not refused so.</summary>
    private static async Task<string?> RefusalCodeAsync(SubscriptionContext context, string? token, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = context.Timeout(context.Options.ConnectTimeout, cancellationToken);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(context.BaseAddress, "v1/events?" + context.TopicQuery() + "&after=latest&limit=1"));
            if (!string.IsNullOrEmpty(token))
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }

            using var response = await context.CreateHttpClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if ((int)response.StatusCode != 401)
            {
                return null;
            }

            return (await HttpAnswers.ReadProblemAsync(response, timeout.Token).ConfigureAwait(false))?.Code;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Sends <c>op: refresh</c> with a fresh token shortly before the current one expires, for as long as the connection lives.</summary>
    private static async Task RefreshLoopAsync(ClientWebSocket socket, SubscriptionContext context, CancellationToken cancellationToken)
    {
        var time = context.Options.TimeProvider;
        var n = 0;
        while (context.Tokens.RefreshDue is { } due)
        {
            var wait = due - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
            }

            var stale = await context.Tokens.GetAsync(cancellationToken).ConfigureAwait(false);
            var fresh = context.Tokens.RefreshDue is { } stillDue && time.GetUtcNow() < stillDue
                ? stale
                : await context.Tokens.RefreshAsync(stale, cancellationToken).ConfigureAwait(false);
            if (fresh is null)
            {
                return;
            }

            await SendAsync(socket, new WsRequestDto { Op = "refresh", Id = "r" + n++, Token = fresh }, cancellationToken).ConfigureAwait(false);
            ClientLog.TokenRefreshed(context.Logger, "websocket");
            if (context.Tokens.RefreshDue is { } next && next <= time.GetUtcNow())
            {
                return; // the provider handed out a token already due: let the hub close and the reconnect fetch again
            }
        }
    }

    private static Task SendAsync(ClientWebSocket socket, WsRequestDto request, CancellationToken cancellationToken) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(request, ClientJsonContext.Default.WsRequestDto), WebSocketMessageType.Text, true, cancellationToken);

    /// <summary>Reads one whole text message into <paramref name="buffer"/> (bounded); null when the hub closed the socket.</summary>
    private static async Task<WsMessageDto?> ReceiveAsync(ClientWebSocket socket, ArrayBufferWriter<byte> buffer, int maxBytes, CancellationToken cancellationToken)
    {
        buffer.ResetWrittenCount();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(4096), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            buffer.Advance(result.Count);
            if (buffer.WrittenCount > maxBytes)
            {
                throw new WebSocketException(WebSocketError.Faulted, $"A WebSocket message exceeded {maxBytes} bytes.");
            }

            if (result.EndOfMessage)
            {
                return JsonSerializer.Deserialize(buffer.WrittenSpan, ClientJsonContext.Default.WsMessageDto);
            }
        }
    }
}
