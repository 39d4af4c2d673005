using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Switchboard.Metrics;
using Switchboard.Monitoring;

namespace Switchboard.AspNetCore.Monitoring;

/// <summary>Registers the instruments, the monitoring engine (Switchboard.Monitoring) over this host's webhooks and jobs, and the Prometheus exporter.</summary>
internal static class MonitoringServiceCollectionExtensions
{
    public static IServiceCollection AddMonitoringHosting(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(sp => new SwitchboardMetrics(sp.GetService<IMeterFactory>()));
        services.AddSwitchboardMonitoring();
        services.TryAddSingleton<Switchboard.Webhooks.HubLocalWebhooks>();
        services.TryAddSingleton<IDashboardWebhooks, DashboardWebhooks>();
        services.TryAddSingleton<IDashboardJobs, DashboardJobs>();
        services.TryAddSingleton<IPlaygroundWebhooks, PlaygroundWebhooks>();

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
