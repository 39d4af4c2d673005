using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Switchboard.AspNetCore;

/// <summary>The application's services, carried as metadata by every endpoint that <c>MapSwitchboard</c> maps.</summary>
internal sealed class HubServicesMetadata(IServiceProvider services)
{
    public IServiceProvider Services { get; } = services;
}

/// <summary>Services and options an endpoint reads for one request.</summary>
internal static class HttpContextOptions
{
    /// <summary>
    /// The application's services. The hub's services are singletons, and <c>RequestServices</c> would create a DI
    /// scope on first use that the HttpContext keeps (and registers for disposal) until the request ends: for a stream,
    /// a WebSocket or a held poll, its whole life.
    /// </summary>
    public static IServiceProvider HubServices(this HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<HubServicesMetadata>()?.Services ?? context.RequestServices;

    /// <summary>
    /// The current <typeparamref name="T"/>, from its <see cref="IOptionsMonitor{TOptions}"/>: read per request, so a
    /// setting changed by a configuration reload applies from the next request on.
    /// </summary>
    public static T Options<T>(this HttpContext context) where T : class =>
        context.HubServices().GetRequiredService<IOptionsMonitor<T>>().CurrentValue;

    /// <summary>
    /// The client's address, read from the connection feature: <c>HttpContext.Connection</c> would allocate a wrapper
    /// that the context then keeps for an open stream's whole life.
    /// </summary>
    public static IPAddress? RemoteIp(this HttpContext context) => context.Features.Get<IHttpConnectionFeature>()?.RemoteIpAddress;

    /// <summary>The address the request arrived at; see <see cref="RemoteIp"/>.</summary>
    public static IPAddress? LocalIp(this HttpContext context) => context.Features.Get<IHttpConnectionFeature>()?.LocalIpAddress;
}
