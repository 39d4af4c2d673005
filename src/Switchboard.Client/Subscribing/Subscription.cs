using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Switchboard.Client;

/// <summary>
/// The reconnect and fallback loop of one subscription. It runs one transport at a time from the best allowed one down:
/// a transport that fails before its first frame is skipped for the next, unless the failure says the hub itself is down
/// or busy; one that fails after it is reconnected with back-off; while on a worse transport the better one is tried again every (growing) upgrade delay. Every connection
/// starts from the last cursor, and an event whose seq is not above the last one seen is dropped.
/// </summary>
internal static class Subscription
{
    /// <summary>
    /// How long a connection must stay up, when it delivered no event, before its end counts as a new start: only then is
    /// the back-off reset. A hub (or proxy) that accepts, acks and closes at once would otherwise be reconnected to in a
    /// tight loop, every attempt looking like a success.
    /// </summary>
    internal static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(5);

    public static async IAsyncEnumerable<HubEvent> RunAsync(SubscriptionContext context, IReadOnlyList<ISubscriptionTransport> transports,
        SubscribeOptions subscribe, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = context.Options;
        var logger = context.Logger;
        var time = options.TimeProvider;
        var index = 0;
        var failures = 0;
        var credentialRetried = false;
        var unansweredOnce = false;
        var upgradeDelay = options.UpgradeRetryDelay;
        var probing = false;
        var lastSeq = long.MinValue;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var transport = transports[index];
            context.Established = false;
            // On a worse transport the session ends after the upgrade delay, to try the best one again.
            using var session = context.Timeout(index > 0 ? upgradeDelay : Timeout.InfiniteTimeSpan, cancellationToken);
            Exception? failure = null;
            var upgrade = false;
            var announced = false;
            var delivered = false;
            var connectedAt = DateTimeOffset.MinValue;
            var items = transport.RunAsync(context, session.Token).GetAsyncEnumerator(session.Token);
            try
            {
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await items.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && session.IsCancellationRequested)
                    {
                        upgrade = true;
                        break;
                    }
                    catch (SwitchboardException)
                    {
                        throw;
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        failure = ex;
                        break;
                    }

                    if (context.Established && !announced)
                    {
                        announced = true;
                        connectedAt = time.GetUtcNow();
                        credentialRetried = false;
                        unansweredOnce = false;
                        if (index == 0)
                        {
                            upgradeDelay = options.UpgradeRetryDelay;
                            probing = false;
                        }

                        ClientLog.Connected(logger, transport.Kind);
                        subscribe.OnConnected?.Invoke(transport.Kind);
                    }

                    if (!more)
                    {
                        break;
                    }

                    var delivery = items.Current;
                    if (delivery.Event is { } e)
                    {
                        if (e.Seq <= lastSeq)
                        {
                            ClientLog.DroppedDuplicate(logger, e.Seq, lastSeq);
                            continue;
                        }

                        lastSeq = e.Seq;
                        context.Cursor = e.Cursor;
                        delivered = true;
                        yield return e;
                    }
                    else if (delivery.Reset is { } reset)
                    {
                        // A reset may start another history (epoch-changed), whose seqs begin again.
                        lastSeq = long.MinValue;
                        context.Cursor = reset.Cursor;
                        ClientLog.Reset(logger, reset.Reason, reset.Cursor);
                        subscribe.OnReset?.Invoke(reset);
                    }
                    else if (delivery.Position is { } position)
                    {
                        context.Cursor = position;
                    }
                }
            }
            finally
            {
                await items.DisposeAsync().ConfigureAwait(false);
            }

            if (upgrade)
            {
                ClientLog.TryingUpgrade(logger, transports[0].Kind, transport.Kind);
                index = 0;
                probing = true;
                continue;
            }

            if (failure is CredentialRejectedException rejected)
            {
                if (!context.Tokens.CanRefresh || (credentialRetried && !context.Established))
                {
                    throw new SwitchboardAccessDeniedException(401, rejected.Code, $"The hub refused the credential: {rejected.Message}");
                }

                credentialRetried = true;
                await context.Tokens.RefreshAsync(await context.Tokens.GetAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                continue;
            }

            var established = context.Established;
            var stable = established && (delivered || time.GetUtcNow() - connectedAt >= StableAfter);
            if (stable)
            {
                failures = 0;
            }

            if (failure is null && stable)
            {
                continue; // a connection that worked ended cleanly (a hub restart, a slow reader closed): resume at once
            }

            var reason = failure?.Message ?? (established ? "closed soon after connecting" : "closed before its first frame");
            var retryAfter = (failure as TransportStatusException)?.RetryAfter;
            if (!established && index < transports.Count - 1 && !HubUnavailable(failure) && await HubReachableAsync(context, failure, cancellationToken).ConfigureAwait(false))
            {
                if (!Answered(failure) && !unansweredOnce)
                {
                    // A handshake that timed out while the network was down looks the same as one a proxy swallowed,
                    // when the network comes back just before the health check: only a second such failure, with the
                    // hub answering all along, says it is the transport.
                    unansweredOnce = true;
                    ClientLog.Reconnecting(logger, transport.Kind, reason, TimeSpan.Zero);
                    continue;
                }

                unansweredOnce = false;
                ClientLog.FallingBack(logger, transport.Kind, reason, transports[index + 1].Kind);
                if (index == 0 && probing)
                {
                    // The better transport is still refused: wait longer before the next try.
                    upgradeDelay = TimeSpan.FromTicks(Math.Min(upgradeDelay.Ticks * 2, options.MaxUpgradeRetryDelay.Ticks));
                    probing = false;
                }

                index++;
                if (retryAfter is { } wait)
                {
                    await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            var delay = Backoff.Delay(options.InitialReconnectDelay, options.MaxReconnectDelay, failures++, retryAfter);
            ClientLog.Reconnecting(logger, transport.Kind, reason, delay);
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether the hub still answers HTTP after a transport failed without an answer of its own (a handshake or first frame
    /// that timed out, a connection that closed first). A network cut looks just like a proxy that swallows upgrades or
    /// buffers SSE, until a plain request is tried: when that fails too, the hub is out of reach rather than the transport
    /// unusable, and falling back would only leave the subscription on a worse transport (its first poll held by the dead
    /// network) well after the network is back.
    /// </summary>
    private static async Task<bool> HubReachableAsync(SubscriptionContext context, Exception? failure, CancellationToken cancellationToken)
    {
        if (Answered(failure))
        {
            return true; // the hub (or a proxy before it) answered that transport
        }

        try
        {
            using var timeout = context.Timeout(context.Options.ConnectTimeout, cancellationToken);
            using var response = await context.CreateHttpClient().GetAsync(new Uri(context.BaseAddress, "v1/health"), HttpCompletionOption.ResponseHeadersRead, timeout.Token)
                .ConfigureAwait(false);
            return true; // any answer, even an error: something is there
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static bool Answered(Exception? failure) => failure is TransportStatusException or SwitchboardException;

    /// <summary>
    /// A failure that says nothing about the transport: the hub cannot be reached (it is restarting, the network is down) or
    /// it asked to be left alone for a while (429 or 503 with <c>Retry-After</c>). Every other transport would fail the same
    /// way, so falling back would only strand the subscription on a worse one until the next upgrade try.
    /// </summary>
    private static bool HubUnavailable(Exception? failure)
    {
        if (failure is TransportStatusException { Status: 429 or 503, RetryAfter: not null })
        {
            return true;
        }

        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
                || e is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostNotFound })
            {
                return true;
            }
        }

        return false;
    }
}
