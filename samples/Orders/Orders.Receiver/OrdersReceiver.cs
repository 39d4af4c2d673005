using System.Text.Json;
using Switchboard.Client;

namespace Orders.Receiver;

/// <summary>
/// A service that reacts to orders placed elsewhere (shipping, say): it receives the hub's <c>order.created</c>
/// webhooks, verified by the Switchboard receiver kit, and lists what it received.
/// </summary>
public static partial class OrdersReceiver
{
    public const string DefaultUrls = "http://127.0.0.1:5081";

    /// <summary>Builds the app; the tests start exactly this on a free port.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.UseUrls(builder.Configuration["urls"] ?? DefaultUrls);
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ReceiverJsonContext.Default));

        // The secret the hub answered when the webhook was registered.
        var secret = builder.Configuration["Webhook:Secret"];
        if (string.IsNullOrWhiteSpace(secret))
        {
            throw new InvalidOperationException(
                "Set Webhook:Secret to the whsec_ secret from registering the webhook: --Webhook:Secret=whsec_... or the environment variable Webhook__Secret.");
        }

        builder.Services.AddSwitchboardWebhooks(o => o.Secrets.Add(secret));
        builder.Services.AddSingleton<ReceivedOrders>();
        builder.Services.AddSingleton(TimeProvider.System);

        var app = builder.Build();
        app.MapPost("/webhooks/switchboard", Receive).WithSwitchboardWebhookVerification().WithName("SwitchboardWebhook");
        app.MapGet("/orders", (ReceivedOrders orders) => TypedResults.Ok(orders.List())).WithName("ReceivedOrders");
        return app;
    }

    /// <summary>
    /// Runs only for verified, first-time deliveries. Still keyed by order id, because the replay guard lives in
    /// this process only: two instances, or a restart, could each see one copy.
    /// </summary>
    private static IResult Receive(WebhookDelivery delivery, ReceivedOrders orders, TimeProvider time, ILogger<ReceivedOrders> logger)
    {
        var message = delivery.Message;
        if (message.Type != "order.created")
        {
            Log.Ignored(logger, delivery.Id, message.Type);
            return TypedResults.NoContent(); // acknowledged: another type is not an error worth a retry
        }

        OrderCreated? order;
        try
        {
            order = message.Data.Deserialize(ReceiverJsonContext.Default.OrderCreated);
        }
        catch (JsonException)
        {
            order = null;
        }

        if (order is null || string.IsNullOrEmpty(order.Id))
        {
            return TypedResults.Problem("The order.created data has no order id.", statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        var received = new ReceivedOrder(order.Id, order.Customer, order.Total, order.Items?.Count ?? 0, delivery.Id, message.Seq, time.GetUtcNow());
        if (orders.TryAdd(received))
        {
            Log.Received(logger, order.Id, delivery.Id, message.Seq);
        }

        return TypedResults.NoContent();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Received order {OrderId} (webhook {WebhookId}, seq {Seq})")]
        public static partial void Received(ILogger logger, string orderId, string webhookId, long seq);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Ignored webhook {WebhookId} of type {Type}")]
        public static partial void Ignored(ILogger logger, string webhookId, string type);
    }
}
