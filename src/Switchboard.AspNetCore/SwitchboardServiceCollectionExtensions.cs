using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore.Monitoring;
using Switchboard.AspNetCore.Retention;
using Switchboard.Config;
using Switchboard.Hubs;
using Switchboard.Jobs;
using Switchboard.Log;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore;

/// <summary>Registers the hub in any ASP.NET Core app.</summary>
public static class SwitchboardServiceCollectionExtensions
{
    /// <summary>
    /// Adds the hub, each feature's options bound to its own section under <c>Switchboard</c> (<see cref="PollingOptions"/>
    /// from <c>Switchboard:Polling</c>, ...) and validated at start; <paramref name="configure"/> changes them after binding.
    /// The log is in memory unless a store (for example <c>AddSwitchboardSqlite</c>) registered an <see cref="IEventLog"/> first or after.
    /// </summary>
    public static IServiceCollection AddSwitchboard(this IServiceCollection services, Action<SwitchboardOptions>? configure = null)
    {
        services.AddSwitchboardOptions();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IEventLog>(sp => new InMemoryEventLog(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<Hub>();
        services.TryAddSingleton(sp => new Switchboard.Subscriptions.TailClock(sp.GetRequiredService<TimeProvider>(),
            ClockResolution(sp.GetRequiredService<IOptions<SseOptions>>().Value)));
        services.TryAddSingleton<Presence.PresenceRegistry>();
        // One node's memory unless a shared store (AddSwitchboardRedis) registered its own, before or after.
        services.TryAddSingleton<Presence.IPresenceStore>(sp => sp.GetRequiredService<Presence.PresenceRegistry>());
        services.TryAddSingleton<WebSockets.WebSocketConnectionCounter>();
        services.TryAddSingleton(sp =>
        {
            var webSockets = sp.GetRequiredService<IOptions<WebSocketOptions>>().Value;
            return new WebSockets.ConnectionSweep(sp.GetRequiredService<TimeProvider>(),
                WebSockets.ConnectionSweep.ResolutionFor(webSockets.KeepAliveInterval, webSockets.KeepAliveTimeout),
                sp.GetRequiredService<ILogger<WebSockets.ConnectionSweep>>());
        });
        services.AddHostedService<RetentionService>();
        services.AddSwitchboardWebhooks();
        services.TryAddSingleton<Webhooks.WebhookApiForwarder>();
        services.AddSwitchboardJobs();
        services.AddSwitchboardConfig();
        AddSecurity(services);
        services.AddMonitoringHosting();
        if (configure is not null)
        {
            ConfigurePart<LimitsOptions>(services, configure);
            ConfigurePart<PollingOptions>(services, configure);
            ConfigurePart<SseOptions>(services, configure);
            ConfigurePart<WebSocketOptions>(services, configure);
            ConfigurePart<Switchboard.Retention.RetentionOptions>(services, configure);
            ConfigurePart<IdempotencyOptions>(services, configure);
            ConfigurePart<WebhookOptions>(services, configure);
            ConfigurePart<JobOptions>(services, configure);
            ConfigurePart<ConfigOptions>(services, configure);
            ConfigurePart<Switchboard.Auth.AuthOptions>(services, configure);
            ConfigurePart<Switchboard.Auth.CorsOptions>(services, configure);
        }

        return services;
    }

    /// <summary>
    /// Runs the <see cref="SwitchboardOptions"/> callback on part <typeparamref name="T"/> after its section is bound,
    /// against an aggregate whose part <typeparamref name="T"/> is the instance being built; each part runs the callback
    /// once, and its changes to the other parts land on throwaway defaults.
    /// </summary>
    private static void ConfigurePart<T>(IServiceCollection services, Action<SwitchboardOptions> configure)
        where T : class =>
        services.Configure<T>(options => configure(SwitchboardOptions.Around(options)));

    /// <summary>Authentication, the request-rate limiter, connection limits and CORS.</summary>
    private static void AddSecurity(IServiceCollection services)
    {
        services.TryAddSingleton<Switchboard.Auth.IApiKeyStore, Switchboard.Auth.InMemoryApiKeyStore>();
        services.TryAddSingleton<Auth.SwitchboardAuthenticator>();
        services.TryAddSingleton<Auth.ConnectionGate>();
        services.TryAddSingleton<Auth.SwitchboardRateLimitPolicy>();
        services.TryAddSingleton<Auth.SwitchboardRateLimiter>();
        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptionsMonitor<Switchboard.Auth.CorsOptions>, IOptionsMonitor<WebSocketOptions>>((cors, origins, webSockets) =>
                cors.AddPolicy(Auth.Origins.CorsPolicy, policy => Auth.Origins.Configure(policy, () => Auth.Origins.Allowed(origins.CurrentValue, webSockets.CurrentValue))));

        // ASP.NET Core's "Request starting" log line carries the query string, and with it an access_token sent by
        // EventSource or WebSocket clients. Capped here, after configuration, so no log level setting turns it back on.
        services.PostConfigure<LoggerFilterOptions>(CapHostingDiagnostics);
    }

    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Raises every rule for the host's request log to at least Warning, and adds one at Warning where none is set;
    /// a configured <c>None</c> stays. Not a plain Warning rule: that also replaced the shipped <c>None</c>, and a
    /// category enabled at any level makes the host create a log scope and an <c>Activity</c> for every request.
    /// </summary>
    internal static void CapHostingDiagnostics(LoggerFilterOptions filters)
    {
        var found = false;
        for (var i = 0; i < filters.Rules.Count; i++)
        {
            var rule = filters.Rules[i];
            if (string.Equals(rule.CategoryName, HostingDiagnostics, StringComparison.OrdinalIgnoreCase))
            {
                found = true;
                if (rule.LogLevel is null or < LogLevel.Warning)
                {
                    filters.Rules[i] = new LoggerFilterRule(rule.ProviderName, rule.CategoryName, LogLevel.Warning, rule.Filter);
                }
            }
        }

        if (!found)
        {
            filters.Rules.Add(new LoggerFilterRule(null, HostingDiagnostics, LogLevel.Warning, null));
        }
    }

    /// <summary>The reader clock ticks at a tenth of the heartbeat interval, between 10 and 100 ms.</summary>
    private static TimeSpan ClockResolution(SseOptions sse) =>
        TimeSpan.FromTicks(Math.Clamp(sse.HeartbeatInterval.Ticks / 10, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromMilliseconds(100).Ticks));
}
