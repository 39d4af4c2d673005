using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Switchboard.Config;
using Switchboard.Jobs;

namespace Switchboard;

/// <summary>Registers every feature's options, each bound to its own section and validated at start.</summary>
public static class SwitchboardOptionsServiceCollectionExtensions
{
    /// <summary>
    /// Binds each part to its own section under <c>Switchboard</c> (<see cref="PollingOptions"/> from
    /// <c>Switchboard:Polling</c>, ...), validates it at start, and runs <paramref name="configure"/> after binding.
    /// <c>AddSwitchboard</c> calls it; a host that wires the features by hand calls it once itself.
    /// </summary>
    public static IServiceCollection AddSwitchboardOptions(this IServiceCollection services, Action<SwitchboardOptions>? configure = null)
    {
        AddPart(services, LimitsOptions.SectionName, configure, new LimitsOptionsValidator());
        AddPart(services, PollingOptions.SectionName, configure, new PollingOptionsValidator());
        AddPart(services, SseOptions.SectionName, configure, new SseOptionsValidator());
        AddPart(services, WebSocketOptions.SectionName, configure, new WebSocketOptionsValidator());
        AddPart(services, Switchboard.Retention.RetentionOptions.SectionName, configure, new RetentionOptionsValidator());
        AddPart(services, IdempotencyOptions.SectionName, configure, new IdempotencyOptionsValidator());
        AddPart(services, WebhookOptions.SectionName, configure, new WebhookOptionsValidator());
        AddPart(services, JobOptions.SectionName, configure, new JobOptionsValidator());
        AddPart(services, ConfigOptions.SectionName, configure, new ConfigOptionsValidator());
        AddPart(services, Switchboard.Auth.AuthOptions.SectionName, configure, new AuthOptionsValidator());
        AddPart<Switchboard.Auth.CorsOptions>(services, Switchboard.Auth.CorsOptions.SectionName, configure, validator: null);
        return services;
    }

    /// <summary>
    /// Binds one part to its own section and validates it at start. The <see cref="SwitchboardOptions"/> callback runs
    /// after binding (as it did when the parts were one options object), against an aggregate whose part
    /// <typeparamref name="T"/> is the instance being built; each part runs the callback once, and the callback's
    /// changes to the other parts land on throwaway defaults.
    /// </summary>
    private static void AddPart<T>(IServiceCollection services, string section, Action<SwitchboardOptions>? configure, IValidateOptions<T>? validator)
        where T : class
    {
        var part = services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
        if (configure is not null)
        {
            part.Configure(options => configure(SwitchboardOptions.Around(options)));
        }

        if (validator is not null)
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton(validator));
        }
    }
}
