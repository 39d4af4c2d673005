using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Switchboard;

/// <summary>Registers every feature's options, each bound to its own section and validated at start.</summary>
public static class SwitchboardOptionsServiceCollectionExtensions
{
    /// <summary>
    /// Binds each of the hub's own option parts to its section under <c>Switchboard</c> (<see cref="PollingOptions"/>
    /// from <c>Switchboard:Polling</c>, ...) and validates it at start. Feature projects register their own parts
    /// (<c>AddSwitchboardJobs</c> binds <c>Switchboard:Jobs</c>, ...); <c>AddSwitchboard</c> calls them all.
    /// </summary>
    public static IServiceCollection AddSwitchboardOptions(this IServiceCollection services)
    {
        services.AddSwitchboardPart(LimitsOptions.SectionName, new LimitsOptionsValidator());
        services.AddSwitchboardPart(PollingOptions.SectionName, new PollingOptionsValidator());
        services.AddSwitchboardPart(SseOptions.SectionName, new SseOptionsValidator());
        services.AddSwitchboardPart(WebSocketOptions.SectionName, new WebSocketOptionsValidator());
        services.AddSwitchboardPart(Switchboard.Retention.RetentionOptions.SectionName, new RetentionOptionsValidator());
        services.AddSwitchboardPart(IdempotencyOptions.SectionName, new IdempotencyOptionsValidator());
        services.AddSwitchboardPart(Switchboard.Auth.AuthOptions.SectionName, new AuthOptionsValidator());
        services.AddSwitchboardPart<Switchboard.Auth.CorsOptions>(Switchboard.Auth.CorsOptions.SectionName, validator: null);
        return services;
    }

    /// <summary>
    /// Binds one options part to <paramref name="section"/> and validates it at start with <paramref name="validator"/>
    /// (an <c>[OptionsValidator]</c>), so a bad value stops the server with a message naming the key.
    /// </summary>
    public static IServiceCollection AddSwitchboardPart<T>(this IServiceCollection services, string section, IValidateOptions<T>? validator)
        where T : class
    {
        services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
        if (validator is not null)
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton(validator));
        }

        return services;
    }
}
