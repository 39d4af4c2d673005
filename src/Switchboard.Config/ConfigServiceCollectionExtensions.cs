using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Switchboard.Config;

/// <summary>Registers config and feature-flag sync: the store (in memory unless one was registered), the held polls and the service.</summary>
public static class ConfigServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="ConfigService"/> and <see cref="ConfigWaiters"/>. The store is an <see cref="InMemoryConfigStore"/>
    /// unless a store (for example <c>AddSwitchboardSqlite</c>) registered an <see cref="IConfigStore"/> before or after.
    /// Needs the hub (<c>Hub</c>, <c>ConfigOptions</c> and a <see cref="TimeProvider"/>), which <c>AddSwitchboard</c> registers.
    /// </summary>
    public static IServiceCollection AddSwitchboardConfig(this IServiceCollection services)
    {
        services.TryAddSingleton<IConfigStore, InMemoryConfigStore>();
        services.TryAddSingleton<ConfigWaiters>();
        services.TryAddSingleton<ConfigService>();
        return services;
    }
}
