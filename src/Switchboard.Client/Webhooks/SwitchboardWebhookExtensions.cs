using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Switchboard.Client;

/// <summary>Registers the webhook receiver kit in an ASP.NET Core app.</summary>
public static class SwitchboardWebhookServiceCollectionExtensions
{
    /// <summary>
    /// Adds the verifier, the replay guard and the filter's services, with options bound to the
    /// <c>SwitchboardWebhooks</c> configuration section, then <paramref name="configure"/>, validated at start.
    /// Then put <c>WithSwitchboardWebhookVerification()</c> on the receiving endpoint.
    /// </summary>
    public static IServiceCollection AddSwitchboardWebhooks(this IServiceCollection services, Action<SwitchboardWebhookOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SwitchboardWebhookOptions>().BindConfiguration(SwitchboardWebhookOptions.SectionName).ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SwitchboardWebhookOptions>, SwitchboardWebhookOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SwitchboardWebhookOptions>>().Value;
            return new WebhookVerifier(o.Secrets, o.Tolerance, sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SwitchboardWebhookOptions>>().Value;
            return new WebhookReplayGuard(o.ReplayWindow, o.ReplayCapacity, sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton<WebhookReceiver>();
        return services;
    }
}

/// <summary>Puts the webhook verification filter on endpoints.</summary>
public static class SwitchboardWebhookEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Runs the handler only for verified, first-time Switchboard deliveries (see <c>AddSwitchboardWebhooks</c>).
    /// The handler gets the delivery as a <see cref="WebhookMessage"/> or <see cref="WebhookDelivery"/> parameter,
    /// or from <c>HttpContext.GetSwitchboardWebhook()</c>, and can still read the raw body.
    /// </summary>
    public static TBuilder WithSwitchboardWebhookVerification<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WithMetadata(SwitchboardWebhookEndpointMetadata.Instance);
        builder.AddEndpointFilterFactory(static (factoryContext, next) =>
        {
            var services = factoryContext.ApplicationServices;
            var receiver = services.GetService<WebhookReceiver>()
                ?? throw new InvalidOperationException("WithSwitchboardWebhookVerification() needs services.AddSwitchboardWebhooks(...) first.");
            var filter = new SwitchboardWebhookFilter(
                receiver,
                services.GetRequiredService<WebhookReplayGuard>(),
                services.GetRequiredService<ILogger<SwitchboardWebhookFilter>>());
            return context => filter.InvokeAsync(context, next);
        });
        return builder;
    }
}

/// <summary>Reads the verified delivery from the request.</summary>
public static class SwitchboardWebhookHttpContextExtensions
{
    /// <summary>
    /// The delivery that <c>WithSwitchboardWebhookVerification()</c> verified for this request, or null if it has
    /// not run or refused the request.
    /// </summary>
    public static WebhookDelivery? GetSwitchboardWebhook(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return WebhookReceiver.Peek(context)?.Delivery;
    }
}
