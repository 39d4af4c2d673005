using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Log;
using Switchboard.Retention;

namespace Switchboard.Storage.Redis;

/// <summary>Makes Redis the hub's store, so several nodes can serve one hub.</summary>
public static class RedisServiceCollectionExtensions
{
    /// <summary>The configuration section of <see cref="RedisStoreOptions"/>.</summary>
    public const string SectionName = "Switchboard:Redis";

    /// <summary>
    /// Registers <see cref="RedisEventLog"/> as the <see cref="IEventLog"/>, with <see cref="RedisJobStore"/> (jobs) and
    /// <see cref="RedisConfigStore"/> (app settings), <see cref="RedisApiKeyStore"/> (API keys) and <see cref="RedisWebhookStore"/>
    /// (webhook endpoints with their progress, pending and failed deliveries, the attempt log) and <see cref="RedisPresenceStore"/>
    /// (WebSocket room presence, shared by every node) in the same Redis, bound to
    /// <c>Switchboard:Redis</c> (<c>Configuration</c>, <c>KeyPrefix</c>, ...) and validated at start, replacing any stores
    /// registered before. Webhook state is in Redis, so a node that takes over webhook delivery loads where the last one stopped.
    /// </summary>
    public static IServiceCollection AddSwitchboardRedis(this IServiceCollection services, Action<RedisStoreOptions>? configure = null)
    {
        var options = services.AddOptions<RedisStoreOptions>().BindConfiguration(SectionName)
            .Validate(o =>
            {
                try
                {
                    o.Validate();
                    return true;
                }
                catch (ArgumentException)
                {
                    return false;
                }
            }, "Switchboard:Redis is invalid: Configuration must name a Redis server, KeyPrefix be 1 to 64 characters, sizes and intervals positive, PresenceTtl at least 200 ms.")
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<Switchboard.Problems.IStoreFaultClassifier, RedisStoreFaults>());
        services.TryAddSingleton(sp => new RedisConnection(sp.GetRequiredService<IOptions<RedisStoreOptions>>().Value));
        services.RemoveAll<IEventLog>();
        services.AddSingleton<IEventLog>(sp => new RedisEventLog(
            sp.GetRequiredService<RedisConnection>(),
            // Count retention runs inside the append script; age retention and key expiry in the periodic trim.
            new RetentionPolicy(sp.GetRequiredService<IOptions<RetentionOptions>>().Value),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<RedisEventLog>>()));
        services.RemoveAll<Switchboard.Jobs.IJobStore>();
        services.AddSingleton<Switchboard.Jobs.IJobStore>(sp => new RedisJobStore(sp.GetRequiredService<RedisConnection>(),
            // The log itself (not a wrapper of it) is what a job change can commit with.
            sp.GetRequiredService<IEventLog>() as RedisEventLog));
        services.RemoveAll<Switchboard.Config.IConfigStore>();
        services.AddSingleton<Switchboard.Config.IConfigStore>(sp => new RedisConfigStore(sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<IEventLog>() as RedisEventLog));
        services.RemoveAll<Switchboard.Webhooks.IWebhookPartitions>();
        services.AddSingleton<Switchboard.Webhooks.IWebhookPartitions>(sp => new RedisWebhookPartitions(sp.GetRequiredService<RedisConnection>(), sp,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RedisWebhookPartitions>>()));
        services.RemoveAll<Switchboard.Auth.IApiKeyStore>();
        services.AddSingleton<Switchboard.Auth.IApiKeyStore>(sp => new RedisApiKeyStore(sp.GetRequiredService<RedisConnection>()));
        services.RemoveAll<Switchboard.Webhooks.IWebhookStore>();
        services.AddSingleton<Switchboard.Webhooks.IWebhookStore>(sp => new RedisWebhookStore(sp.GetRequiredService<RedisConnection>()));
        services.RemoveAll<Switchboard.Presence.IPresenceStore>();
        services.AddSingleton<Switchboard.Presence.IPresenceStore>(sp => new RedisPresenceStore(sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RedisPresenceStore>>()));
        return services;
    }
}
