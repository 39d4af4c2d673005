using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Switchboard.Jobs;

/// <summary>Registers the job queue and in-process job handlers.</summary>
public static class JobServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="JobQueue"/> as a singleton and a hosted service (it loads unfinished jobs and sweeps leases). The
    /// store is an <see cref="InMemoryJobStore"/> unless a store (for example <c>AddSwitchboardSqlite</c>) registered an
    /// <see cref="IJobStore"/> before or after. Needs the hub (the <c>IEventLog</c>, <c>JobOptions</c>,
    /// <c>SwitchboardMetrics</c> and a <see cref="TimeProvider"/>), which <c>AddSwitchboard</c> registers.
    /// </summary>
    public static IServiceCollection AddSwitchboardJobs(this IServiceCollection services)
    {
        services.AddSwitchboardPart(JobOptions.SectionName, new JobOptionsValidator());
        services.TryAddSingleton<IJobStore, InMemoryJobStore>();
        services.TryAddSingleton(static sp => new JobMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<JobQueue>();
        // The hosted service is the same instance the endpoints use (added once: hosted services are keyed by their type).
        services.AddHostedService(static sp => sp.GetRequiredService<JobQueue>());
        return services;
    }

    /// <summary>
    /// Runs <typeparamref name="THandler"/> for jobs of <paramref name="type"/> inside this process, with
    /// <paramref name="concurrency"/> jobs at once. It claims from the same queue as HTTP workers, with the same leases,
    /// retries and cancellation. The handler is resolved from a fresh scope per job. Call after <c>AddSwitchboard</c>.
    /// </summary>
    public static IServiceCollection AddJobHandler<THandler>(this IServiceCollection services, string type, int concurrency = 1)
        where THandler : class, IJobHandler
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        services.TryAddScoped<THandler>();
        services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => new JobHandlerService<THandler>(
            type, concurrency, sp.GetRequiredService<JobQueue>(), sp.GetRequiredService<IServiceScopeFactory>(),
            sp.GetRequiredService<IOptionsMonitor<JobOptions>>(), sp.GetRequiredService<ILogger<JobHandlerService<THandler>>>()));
        return services;
    }
}
