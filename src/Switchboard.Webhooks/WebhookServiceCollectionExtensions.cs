using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Switchboard.Webhooks;

/// <summary>Registers the webhook delivery engine.</summary>
public static class WebhookServiceCollectionExtensions
{
    /// <summary>
    /// Adds the webhook dispatcher as a singleton and a hosted service, with its sender and host resolver. The store is an
    /// <see cref="InMemoryWebhookStore"/> and the node holds every partition (<see cref="SingleNodeWebhookPartitions"/>)
    /// unless a store (for example <c>AddSwitchboardSqlite</c> or <c>AddSwitchboardRedis</c>) registered an
    /// <see cref="IWebhookStore"/> or <see cref="IWebhookPartitions"/> before or after. Needs the hub (the <c>IEventLog</c>,
    /// <c>WebhookOptions</c>, <c>SwitchboardMetrics</c> and a <see cref="TimeProvider"/>), which <c>AddSwitchboard</c>
    /// registers; the HTTP API over it is <c>MapSwitchboard</c>'s.
    /// </summary>
    public static IServiceCollection AddSwitchboardWebhooks(this IServiceCollection services)
    {
        services.AddSwitchboardPart(WebhookOptions.SectionName, new WebhookOptionsValidator());
        services.TryAddSingleton<IWebhookStore, InMemoryWebhookStore>();
        services.TryAddSingleton<WebhookHostResolver>();
        services.TryAddSingleton<IWebhookPartitions, SingleNodeWebhookPartitions>();
        services.TryAddSingleton(static sp => new WebhookMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<WebhookSender>();
        services.TryAddSingleton<WebhookDispatcher>();
        // The hosted service is the same instance the API uses (added once: hosted services are keyed by their type).
        services.AddHostedService(static sp => sp.GetRequiredService<WebhookDispatcher>());
        return services;
    }
}
