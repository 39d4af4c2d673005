using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Hubs;
using Switchboard.Metrics;
using Switchboard.Presence;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// <c>GET /v1/ws</c>: everything that can be refused is refused before the upgrade, as a problem+json answer:
/// not a WebSocket request, a foreign Origin, an unknown subprotocol, a bad member name, or too many connections.
/// </summary>
internal static class WebSocketEndpoint
{
    public const string SubProtocol = "switchboard.v1";

    public static async Task AcceptAsync(HttpContext context, Hub hub, IPresenceStore presence, WebSocketConnectionCounter counter,
        IHostApplicationLifetime lifetime, TimeProvider time, ILogger<WebSocketConnection> logger, SwitchboardAuthenticator authenticator, ConnectionGate connections, SwitchboardMetrics metrics,
        ConnectionSweep sweep, IReadOnlyList<IStoreFaultClassifier> storeFaults)
    {
        string name;
        Caller caller;
        ConnectionLease? lease = null;
        try
        {
            caller = await authenticator.AuthenticateAsync(context);
            name = Admit(context, counter, caller);
            try
            {
                lease = connections.Enter(caller, context.RemoteIp(), longPoll: false);
            }
            catch (SwitchboardException)
            {
                counter.Release();
                throw;
            }
        }
        catch (SwitchboardException problem)
        {
            await ProblemResponses.WriteAsync(context, problem);
            return;
        }
        catch (HttpProblemException problem)
        {
            await ProblemResponses.WriteAsync(context, problem.Problem);
            return;
        }

        var options = context.Options<WebSocketOptions>();
        var requested = context.WebSockets.WebSocketRequestedProtocols;
        try
        {
            // The runtime's keep-alive is off (it costs every socket a timer); the node's sweep pings instead.
            var (socket, transport) = await WebSocketHandshake.AcceptAsync(context, requested.Count > 0 ? SubProtocol : null, time);
            using var disposeSocket = socket;
            var connection = new WebSocketConnection(context, socket, transport, sweep, hub, presence, name, caller, authenticator, context.RemoteIp(),
                time, logger, metrics, storeFaults,
                lifetime.ApplicationStopping);
            metrics.ConnectionOpened(DeliveryTransport.WebSocket);
            try
            {
                await connection.RunAsync(lifetime.ApplicationStopping);
            }
            finally
            {
                metrics.ConnectionClosed(DeliveryTransport.WebSocket);
            }
        }
        finally
        {
            lease?.Dispose();
            counter.Release();
        }
    }

    /// <summary>
    /// Why a request is not a WebSocket handshake, in RFC 6455's terms: no upgrade asked (426, naming the protocol to
    /// upgrade to), a version other than 13 (426, naming the version spoken), or an upgrade that is malformed (400).
    /// </summary>
    [DoesNotReturn]
    private static void RefuseHandshake(HttpContext context)
    {
        var headers = context.Request.Headers;
        var upgrade = headers.Upgrade.ToString();
        if (!upgrade.Split(',').Any(p => p.Trim().Equals("websocket", StringComparison.OrdinalIgnoreCase)))
        {
            context.Response.Headers.Upgrade = "websocket";
            context.Response.Headers.Connection = "Upgrade";
            throw new HttpProblemException(HttpProblem.Protocol(StatusCodes.Status426UpgradeRequired, "websocket-required", "WebSocket required",
                $"GET /v1/ws is a WebSocket endpoint (subprotocol {SubProtocol}); send an Upgrade: websocket request."));
        }

        if (headers.SecWebSocketVersion.ToString() != "13")
        {
            context.Response.Headers.Upgrade = "websocket";
            context.Response.Headers.SecWebSocketVersion = "13";
            throw new HttpProblemException(HttpProblem.Protocol(StatusCodes.Status426UpgradeRequired, "unsupported-websocket-version",
                "Unsupported WebSocket version", "This server speaks WebSocket version 13 (RFC 6455); send Sec-WebSocket-Version: 13."));
        }

        throw new HttpProblemException(HttpProblem.Protocol(StatusCodes.Status400BadRequest, "invalid-websocket-handshake", "Invalid WebSocket handshake",
            "The upgrade request needs Connection: Upgrade and one Sec-WebSocket-Key of 16 bytes in base64 (RFC 6455, section 4.1)."));
    }

    /// <summary>Checks everything that can be refused before the upgrade; on success holds a connection slot and returns the member name.</summary>
    private static string Admit(HttpContext context, WebSocketConnectionCounter counter, Caller caller)
    {
        var options = context.Options<WebSocketOptions>();
        if (!context.WebSockets.IsWebSocketRequest)
        {
            RefuseHandshake(context);
        }

        if (!Auth.Origins.IsRequestOriginAllowed(context.Request, Auth.Origins.Allowed(context.Options<Switchboard.Auth.CorsOptions>(), options)))
        {
            throw new SwitchboardException(SwitchboardErrorKind.Forbidden, "origin-not-allowed", "Origin not allowed",
                $"Origin '{context.Request.Headers.Origin}' may not open WebSockets here; add it to Switchboard:Cors:AllowedOrigins.");
        }

        var requested = context.WebSockets.WebSocketRequestedProtocols;
        if (requested.Count > 0 && !requested.Contains(SubProtocol))
        {
            // Say what to send instead: "The server speaks switchboard.v1" alone left the fix to guesswork. The
            // requested names are not echoed: they are the client's text, of any length.
            throw SwitchboardException.Invalid("unsupported-subprotocol", "Unsupported subprotocol",
                $"None of the subprotocols in Sec-WebSocket-Protocol is {SubProtocol}, the only one this endpoint speaks. Ask for {SubProtocol} (new WebSocket(url, '{SubProtocol}')), or for no subprotocol.");
        }

        var name = QueryValues.Get(context.Request, "name").ToString();
        if (caller.Kind == CallerKind.Token && (caller.PresenceName ?? (caller.Subject is { } subject ? PresenceNames.FromSubject(subject) : null)) is { } granted)
        {
            // A token names its holder; a chat room shows that name, not one the client picked.
            name = granted;
        }
        else if (name.Length == 0)
        {
            name = "guest-" + Random.Shared.Next(1000, 10000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (!PresenceNames.IsValid(name))
        {
            throw SwitchboardException.Invalid("invalid-name", "Invalid member name", PresenceNames.Rule);
        }

        if (!counter.TryAcquire(options.MaxConnections))
        {
            throw SwitchboardException.Unavailable("too-many-connections", "Too many connections",
                $"This server holds its maximum of {options.MaxConnections} WebSocket connections. Retry later or elsewhere.", TimeSpan.FromSeconds(5));
        }

        return name;
    }
}

/// <summary>Counts open WebSocket connections; Kestrel does not limit upgraded connections.</summary>
internal sealed class WebSocketConnectionCounter
{
    private int _open;

    public int Open => Volatile.Read(ref _open);

    public bool TryAcquire(int max)
    {
        if (Interlocked.Increment(ref _open) <= max)
        {
            return true;
        }

        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _open);
}
