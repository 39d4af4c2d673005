using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Switchboard.Metrics;
using Switchboard.Retention;

namespace Switchboard.Monitoring;

/// <summary>Registers the instruments, the dashboard's sampler and the playground's sessions.</summary>
public static class MonitoringServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="MonitoringOptions"/> (bound from <c>Switchboard:Metrics</c>, validated at start), the
    /// <see cref="DashboardSampler"/> and the <see cref="PlaygroundSessions"/>, both as hosted services, and the retention
    /// rules that keep their system topics small. The host registers the hub's <see cref="SwitchboardMetrics"/>,
    /// <see cref="IDashboardWebhooks"/>, <see cref="IDashboardJobs"/> and <see cref="IPlaygroundWebhooks"/>
    /// (<c>AddSwitchboard</c> does).
    /// </summary>
    public static IServiceCollection AddSwitchboardMonitoring(this IServiceCollection services)
    {
        services.AddOptions<MonitoringOptions>().BindConfiguration(MonitoringOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MonitoringOptions>, MonitoringOptionsValidator>());

        // Snapshots are small and only useful for the charts' five minutes; keep them from piling up in the log.
        // An operator's own rule for the topic (Retention:Topics:switchboard.monitoring) wins.
        services.PostConfigure<RetentionOptions>(retention =>
        {
            retention.Topics.TryAdd(DashboardSampler.Topic, new RetentionRule { MaxAge = DashboardSampler.History, MaxEventsPerTopic = DashboardSampler.MaxSnapshotsKept });
            retention.Topics.TryAdd(PlaygroundSessions.ReceiptsTopicPrefix, new RetentionRule { MaxAge = TimeSpan.FromMinutes(5), MaxEventsPerTopic = 1000 });
        });

        services.TryAddSingleton<DashboardSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<DashboardSampler>());
        services.TryAddSingleton<PlaygroundSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<PlaygroundSessions>());
        return services;
    }
}
