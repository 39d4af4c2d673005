using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Switchboard.AspNetCore;

/// <summary>Options an endpoint reads for one request.</summary>
internal static class HttpContextOptions
{
    /// <summary>
    /// The current <typeparamref name="T"/>, from its <see cref="IOptionsMonitor{TOptions}"/>: read per request, so a
    /// setting changed by a configuration reload applies from the next request on.
    /// </summary>
    public static T Options<T>(this HttpContext context) where T : class =>
        context.RequestServices.GetRequiredService<IOptionsMonitor<T>>().CurrentValue;
}
