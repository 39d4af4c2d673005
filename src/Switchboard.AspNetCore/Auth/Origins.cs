using System.Net;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using CorsOptions = Switchboard.Auth.CorsOptions;

namespace Switchboard.AspNetCore.Auth;

/// <summary>
/// Which browser origins may use the hub: CORS for HTTP, the Origin check for WebSockets (which CORS does not cover)
/// and for every request to an open hub (CORS hides answers from a page, but does not stop a simple cross-origin POST
/// from being sent). Allowed: localhost, the configured lists, and (for the Origin check) the server's own origin.
/// Requests without an Origin header are not from a browser page and are not subject to either.
/// </summary>
internal static class Origins
{
    public const string CorsPolicy = "Switchboard";

    /// <summary>
    /// The methods and headers a cross-origin page may send and read. The methods are the ones the hub serves; a
    /// preflight narrows them to its path's (<see cref="SwitchboardCorsMiddleware"/>). Credentialed requests are
    /// allowed: without <c>Access-Control-Allow-Credentials: true</c> a browser fails every
    /// <c>new EventSource(url, {withCredentials: true})</c> and <c>fetch(url, {credentials: 'include'})</c> (the way
    /// pages written for cookie-authenticated hubs open streams), and the hub gains nothing by refusing them: it reads
    /// no cookies, so a credentialed request from an allowed origin carries no authority a plain one lacks.
    /// </summary>
    public static void Configure(CorsPolicyBuilder policy, Func<IEnumerable<string>> allowed) => policy
        .SetIsOriginAllowed(origin => IsAllowedCrossOrigin(origin, allowed()))
        .AllowCredentials()
        .WithMethods("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        .WithHeaders("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "If-None-Match", "Cache-Control")
        // Every response header the hub sets that is not CORS-safelisted: a browser hides the rest from the page, which
        // then cannot tell a missing credential from an invalid or expired token (WWW-Authenticate), a config's version
        // (X-Config-Version) or a 405's methods (Allow).
        .WithExposedHeaders("Location", "ETag", "Retry-After", "Idempotent-Replayed", "X-Poll-Interval", "WWW-Authenticate", "X-Config-Version", "Allow")
        .SetPreflightMaxAge(TimeSpan.FromMinutes(10));

    /// <summary>The allow-list: <c>Cors:AllowedOrigins</c> and <c>WebSockets:AllowedOrigins</c> together, as they are now.</summary>
    public static IEnumerable<string> Allowed(CorsOptions cors, WebSocketOptions webSockets) => cors.AllowedOrigins.Concat(webSockets.AllowedOrigins);

    /// <summary>For CORS: an allow-listed origin, or localhost. (Same-origin requests never need CORS.)</summary>
    public static bool IsAllowedCrossOrigin(string origin, IEnumerable<string> allowed)
    {
        if (allowed.Any(entry => entry == "*" || string.Equals(entry.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        // Only a web origin on a loopback host is local; Uri calls file:// loopback too, and any local file could claim it.
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && (uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address)));
    }

    /// <summary>
    /// For WebSockets, and for every request to an open hub: no Origin (not a browser), the server's own origin,
    /// localhost, or an allow-listed origin.
    /// </summary>
    public static bool IsRequestOriginAllowed(HttpRequest request, IEnumerable<string> allowed)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0 || IsAllowedCrossOrigin(origin, allowed))
        {
            return true;
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var uri) && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }
}
