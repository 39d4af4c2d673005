using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Switchboard.AspNetCore;

/// <summary>
/// The hub's limits on a request's line and headers, answered with problem documents. Kestrel's own 414 and 431 have no
/// body and close the connection, so a host that is only a hub raises Kestrel's limits above these
/// (<see cref="RaiseKestrelLimits"/>) and <see cref="SwitchboardEndpointRouteBuilderExtensions.UseSwitchboardProblemAnswers"/> answers the requests in between.
/// </summary>
public static class SwitchboardRequestLimits
{
    /// <summary>
    /// The longest request line (method, target and version), in bytes. Twice Kestrel's default, so that a stream or
    /// poll naming the most topics the default limits allow (32 of 255 characters), percent-encoded, fits.
    /// </summary>
    public const int MaxRequestLineBytes = 16 * 1024;

    /// <summary>The most bytes of header lines in one request: Kestrel's default.</summary>
    public const int MaxRequestHeadersBytes = 32 * 1024;

    /// <summary>The most header lines in one request: Kestrel's default.</summary>
    public const int MaxRequestHeaderCount = 100;

    /// <summary>
    /// Sets Kestrel's limits to four times the hub's request line, and twice its header bytes and header count. Requests beyond those still get Kestrel's bodiless
    /// answer: the band bounds what one connection may make the server buffer before it is refused.
    /// </summary>
    public static void RaiseKestrelLimits(KestrelServerOptions kestrel)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        kestrel.Limits.MaxRequestLineSize = Math.Max(kestrel.Limits.MaxRequestLineSize, 4 * MaxRequestLineBytes);
        kestrel.Limits.MaxRequestHeadersTotalSize = Math.Max(kestrel.Limits.MaxRequestHeadersTotalSize, 2 * MaxRequestHeadersBytes);
        kestrel.Limits.MaxRequestHeaderCount = Math.Max(kestrel.Limits.MaxRequestHeaderCount, 2 * MaxRequestHeaderCount);
    }
}
