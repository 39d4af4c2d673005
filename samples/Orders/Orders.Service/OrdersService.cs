using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Orders.Service;

/// <summary>Where the Switchboard hub is; bound from the <c>Hub</c> configuration section.</summary>
public sealed class HubOptions
{
    public const string SectionName = "Hub";

    /// <summary>The hub's base URL.</summary>
    [Required]
    public Uri Url { get; set; } = new("http://localhost:8080");
}

/// <summary>The order service: places orders and announces each one on the hub's <c>orders</c> topic.</summary>
public static class OrdersService
{
    public const string DefaultUrls = "http://127.0.0.1:5080";

    /// <summary>Builds the app; the tests start exactly this on a free port.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.UseUrls(builder.Configuration["urls"] ?? DefaultUrls);
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, OrdersJsonContext.Default));
        builder.Services.AddProblemDetails();
        builder.Services.AddOptions<HubOptions>().BindConfiguration(HubOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<OrderBook>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddHttpClient<HubPublisher>((services, http) =>
        {
            http.BaseAddress = services.GetRequiredService<IOptions<HubOptions>>().Value.Url;
            http.Timeout = TimeSpan.FromSeconds(10);
        });

        var app = builder.Build();
        app.MapOrdersApi();
        return app;
    }
}
