using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Switchboard.Config;

/// <summary>Registers config and feature-flag sync: the store (in memory unless one was registered), the held polls and the service.</summary>
public static class ConfigServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="ConfigService"/> and <see cref="ConfigWaiters"/>. The store is an <see cref="InMemoryConfigStore"/>
    /// unless a store (for example <c>AddSwitchboardSqlite</c>) registered an <see cref="IConfigStore"/> before or after.
    /// Binds <see cref="ConfigOptions"/> to <c>Switchboard:Config</c> and validates it at start. Needs the hub (<c>Hub</c>
    /// and a <see cref="TimeProvider"/>), which <c>AddSwitchboard</c> registers.
    /// </summary>
    public static IServiceCollection AddSwitchboardConfig(this IServiceCollection services)
    {
        services.AddSwitchboardPart(ConfigOptions.SectionName, new ConfigOptionsValidator());
        services.TryAddSingleton<IConfigStore, InMemoryConfigStore>();
        services.TryAddSingleton<ConfigWaiters>();
        services.TryAddSingleton<ConfigService>();
        return services;
    }
}
