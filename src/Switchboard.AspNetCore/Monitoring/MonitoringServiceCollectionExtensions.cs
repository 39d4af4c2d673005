using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Switchboard.Metrics;
using Switchboard.Retention;

namespace Switchboard.AspNetCore.Monitoring;

/// <summary>Registers the instruments, the dashboard's sampler, the playground and the Prometheus exporter.</summary>
internal static class MonitoringServiceCollectionExtensions
{
    public static IServiceCollection AddSwitchboardMonitoring(this IServiceCollection services)
    {
        services.AddOptions<MonitoringOptions>().BindConfiguration(MonitoringOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MonitoringOptions>, MonitoringOptionsValidator>());
        services.AddMetrics();
        services.TryAddSingleton(sp => new SwitchboardMetrics(sp.GetService<IMeterFactory>()));

        // Snapshots are small and only useful for the charts' five minutes; keep them from piling up in the log.
        // An operator's own rule for the topic (Retention:Topics:switchboard.monitoring) wins.
        services.PostConfigure<SwitchboardOptions>(options =>
        {
            options.Retention.Topics.TryAdd(DashboardSampler.Topic, new RetentionRule { MaxAge = DashboardSampler.History, MaxEventsPerTopic = DashboardSampler.MaxSnapshotsKept });
            options.Retention.Topics.TryAdd(PlaygroundSessions.ReceiptsTopicPrefix, new RetentionRule { MaxAge = TimeSpan.FromMinutes(5), MaxEventsPerTopic = 1000 });
        });

        services.TryAddSingleton<DashboardSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<DashboardSampler>());
        services.TryAddSingleton<Webhooks.HubLocalWebhooks>();
        services.TryAddSingleton<PlaygroundSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<PlaygroundSessions>());

        // OpenTelemetry collects the Switchboard meter only when Prometheus is on (the switch is read when the provider is
        // built, after configuration is final); off, no OpenTelemetry listener touches the instruments at all.
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddPrometheusExporter();
            ((IDeferredMeterProviderBuilder)metrics).Configure((sp, builder) =>
            {
                if (sp.GetRequiredService<IOptions<MonitoringOptions>>().Value.Prometheus)
                {
                    builder.AddMeter(SwitchboardMetrics.MeterName);
                }
            });
        });
        return services;
    }
}
