using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;

namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// Completes a WebSocket upgrade that ASP.NET Core's middleware has already recognised and validated
/// (<c>HttpContext.WebSockets.IsWebSocketRequest</c>), the way <c>AcceptWebSocketAsync</c> does, but builds the
/// WebSocket over a <see cref="KeepAliveStream"/> and with the runtime's keep-alive off: the hub's
/// <see cref="ConnectionSweep"/> pings instead, so an idle socket has no timer of its own.
/// </summary>
internal static class WebSocketHandshake
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static async Task<(WebSocket Socket, KeepAliveStream Transport)> AcceptAsync(HttpContext context, string? subProtocol, TimeProvider time)
    {
        Stream opaque;
        if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            // WebSocket over HTTP/2 (RFC 8441): a 200 to the extended CONNECT, no key to answer.
            if (subProtocol is not null)
            {
                context.Response.Headers.SecWebSocketProtocol = subProtocol;
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            opaque = await connect.AcceptAsync();
        }
        else
        {
            var upgrade = context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } feature
                ? feature
                : throw new InvalidOperationException("The request cannot be upgraded to a WebSocket.");
            var headers = context.Response.Headers;
            headers.Connection = "Upgrade";
            headers.Upgrade = "websocket";
            headers.SecWebSocketAccept = AcceptKey(context.Request.Headers.SecWebSocketKey.ToString());
            if (subProtocol is not null)
            {
                headers.SecWebSocketProtocol = subProtocol;
            }

            opaque = await upgrade.UpgradeAsync(); // sends the 101
        }

        // A request timeout, if the app has one, must not end a connection that lives for hours.
        context.Features.Get<IHttpRequestTimeoutFeature>()?.DisableTimeout();
        var transport = new KeepAliveStream(opaque, time, innerWritesThrough: true); // Kestrel's upgraded stream flushes each write
        var socket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = subProtocol,
            KeepAliveInterval = TimeSpan.Zero,
        });
        return (socket, transport);
    }

    /// <summary>RFC 6455's Sec-WebSocket-Accept: base64(SHA-1(key + the protocol's GUID)).</summary>
    internal static string AcceptKey(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key.Trim() + AcceptGuid)));
}
