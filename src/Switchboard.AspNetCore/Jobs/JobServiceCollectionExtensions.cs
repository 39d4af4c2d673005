using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Switchboard.AspNetCore.Jobs;

/// <summary>Registers in-process job handlers.</summary>
public static class JobServiceCollectionExtensions
{
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
            sp.GetRequiredService<IOptionsMonitor<SwitchboardOptions>>(), sp.GetRequiredService<ILogger<JobHandlerService<THandler>>>()));
        return services;
    }
}
