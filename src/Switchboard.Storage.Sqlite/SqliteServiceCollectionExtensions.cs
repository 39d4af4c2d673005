using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Log;

namespace Switchboard.Storage.Sqlite;

/// <summary>Makes SQLite the hub's log.</summary>
public static class SqliteServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="SqliteEventLog"/> as the <see cref="IEventLog"/>, with <see cref="SqliteWebhookStore"/> (webhook state), <see cref="SqliteJobStore"/> (jobs) and <see cref="SqliteConfigStore"/> (app settings) in the same file, bound to <c>Switchboard:Store</c>
    /// (<c>Path</c>, <c>Synchronous</c>, <c>TailCacheSize</c>, ...), replacing any log registered before.
    /// </summary>
    public static IServiceCollection AddSwitchboardSqlite(this IServiceCollection services, Action<SqliteEventLogOptions>? configure = null)
    {
        var options = services.AddOptions<SqliteEventLogOptions>().BindConfiguration("Switchboard:Store");
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.RemoveAll<IEventLog>();
        services.AddSingleton<IEventLog>(sp => new SqliteEventLog(
            sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<SqliteEventLog>>()));
        services.RemoveAll<Switchboard.Webhooks.IWebhookStore>();
        services.AddSingleton<Switchboard.Webhooks.IWebhookStore>(sp => sp.GetRequiredService<IEventLog>() is SqliteEventLog log
            ? new SqliteWebhookStore(log, sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value.Path)
            : new SqliteWebhookStore(sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value.Path));
        services.RemoveAll<Switchboard.Jobs.IJobStore>();
        services.AddSingleton<Switchboard.Jobs.IJobStore>(sp => sp.GetRequiredService<IEventLog>() is SqliteEventLog log
            ? new SqliteJobStore(log, sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value.Path)
            : new SqliteJobStore(sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value.Path));
        services.RemoveAll<Switchboard.Config.IConfigStore>();
        services.AddSingleton<Switchboard.Config.IConfigStore>(sp => sp.GetRequiredService<IEventLog>() is SqliteEventLog log
            ? new SqliteConfigStore(log, sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value.Path)
            : new SqliteConfigStore(sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value.Path));
        return services;
    }
}
