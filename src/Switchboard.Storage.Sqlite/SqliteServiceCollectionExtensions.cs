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
    /// Registers <see cref="SqliteEventLog"/> as the <see cref="IEventLog"/>, with <see cref="SqliteWebhookStore"/> (webhook state), <see cref="SqliteJobStore"/> (jobs) and <see cref="SqliteConfigStore"/> (app settings) and <see cref="SqliteApiKeyStore"/> (API keys) in the same file, bound to <c>Switchboard:Store</c>
    /// (<c>Path</c>, <c>Synchronous</c>, <c>TailCacheSize</c>, ...), replacing any log registered before.
    /// </summary>
    public static IServiceCollection AddSwitchboardSqlite(this IServiceCollection services, Action<SqliteEventLogOptions>? configure = null)
    {
        var options = services.AddOptions<SqliteEventLogOptions>().BindConfiguration("Switchboard:Store");
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<Switchboard.Problems.IStoreFaultClassifier, SqliteStoreFaults>());
        services.RemoveAll<IEventLog>();
        services.AddSingleton<IEventLog>(sp => new SqliteEventLog(
            sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<SqliteEventLog>>(),
            sp.GetService<IOptions<Switchboard.Retention.RetentionOptions>>() is { } retention ? new Switchboard.Retention.RetentionPolicy(retention.Value) : null)
        {
            Metrics = sp.GetService<Switchboard.Metrics.SwitchboardMetrics>(),
        });
        services.RemoveAll<Switchboard.Webhooks.IWebhookStore>();
        services.AddSingleton<Switchboard.Webhooks.IWebhookStore>(sp =>
        {
            var store = sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value;
            var keys = store.KeysPath ?? Switchboard.Webhooks.WebhookSecretProtection.DefaultKeysDirectory(store.Path);
            return new SqliteWebhookStore(store.Path, sp.GetRequiredService<IEventLog>() as SqliteEventLog, Switchboard.Webhooks.WebhookSecretProtection.ForDirectory(keys));
        });
        AddNextToTheLog<Switchboard.Jobs.IJobStore>(services, (log, path) => log is null ? new SqliteJobStore(path) : new SqliteJobStore(log, path));
        AddNextToTheLog<Switchboard.Config.IConfigStore>(services, (log, path) => log is null ? new SqliteConfigStore(path) : new SqliteConfigStore(log, path));
        AddNextToTheLog<Switchboard.Auth.IApiKeyStore>(services, (log, path) => log is null ? new SqliteApiKeyStore(path) : new SqliteApiKeyStore(log, path));
        services.AddHostedService<SqliteStoresOpening>();
        return services;
    }

    /// <summary>
    /// Registers a store that lives in the log's file, replacing any registered before; it writes through the SQLite
    /// log's writer when that is the log in use (an embedding app may have swapped the log out).
    /// </summary>
    private static void AddNextToTheLog<TStore>(IServiceCollection services, Func<SqliteEventLog?, string, TStore> create)
        where TStore : class
    {
        services.RemoveAll<TStore>();
        services.AddSingleton(sp => create(
            sp.GetRequiredService<IEventLog>() as SqliteEventLog,
            sp.GetRequiredService<IOptions<SqliteEventLogOptions>>().Value.Path));
    }
}

/// <summary>
/// Opens the stores that share the log's file when the host starts. Each creates its table when first resolved, and a
/// first request that resolved it on a full disk failed outside every endpoint's error mapping; at start, the hub
/// fails with its reason instead, and requests only ever meet stores that are open.
/// </summary>
internal sealed class SqliteStoresOpening(IServiceProvider services) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetService<Switchboard.Webhooks.IWebhookStore>();
        _ = services.GetService<Switchboard.Jobs.IJobStore>();
        _ = services.GetService<Switchboard.Config.IConfigStore>();
        _ = services.GetService<Switchboard.Auth.IApiKeyStore>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
