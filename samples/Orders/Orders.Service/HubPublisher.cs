using System.Net.Http.Json;

namespace Orders.Service;

/// <summary>Publishes order events to the hub over its HTTP API.</summary>
internal sealed partial class HubPublisher(HttpClient http, ILogger<HubPublisher> logger)
{
    /// <summary>
    /// Publishes <c>order.created</c>. The order id is the <c>Idempotency-Key</c>, so retrying this call after a
    /// lost answer never announces the same order twice.
    /// </summary>
    public async Task PublishOrderCreatedAsync(Order order, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/topics/orders/events")
        {
            Content = JsonContent.Create(new HubEvent("order.created", order), OrdersJsonContext.Default.HubEvent),
        };
        request.Headers.Add("Idempotency-Key", order.Id);
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            Log.PublishRefused(logger, order.Id, (int)response.StatusCode);
            throw new HttpRequestException($"The hub answered {(int)response.StatusCode}.", null, response.StatusCode);
        }

        Log.Published(logger, order.Id);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Announced order {OrderId} on the hub")]
        public static partial void Published(ILogger logger, string orderId);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "The hub refused order {OrderId} with {Status}")]
        public static partial void PublishRefused(ILogger logger, string orderId, int status);
    }
}
