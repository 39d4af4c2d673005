using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Switchboard.Client;

/// <summary>Registers <see cref="SwitchboardClient"/>.</summary>
public static class SwitchboardClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="SwitchboardClient"/> configured by <paramref name="configure"/>, whose requests go through
    /// the <c>IHttpClientFactory</c> client named <see cref="SwitchboardClient.HttpClientName"/>. The returned builder adds handlers to it.
    /// </summary>
    public static IHttpClientBuilder AddSwitchboardClient(this IServiceCollection services, Action<SwitchboardClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SwitchboardClientOptions>().Configure(configure);
        services.TryAddSingleton(sp => new SwitchboardClient(
            sp.GetRequiredService<IOptions<SwitchboardClientOptions>>().Value,
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetService<ILoggerFactory>()));
        // Streams and long polls are held for long: each request carries its own deadline instead.
        return services.AddHttpClient(SwitchboardClient.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan);
    }
}
