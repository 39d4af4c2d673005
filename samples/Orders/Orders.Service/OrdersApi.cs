using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Orders.Service;

/// <summary>The order endpoints, as one table.</summary>
internal static class OrdersApi
{
    public static RouteGroupBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/orders").WithTags("Orders");
        orders.MapPost("/", PlaceAsync).WithName("PlaceOrder").WithSummary("Place an order and announce it as order.created");
        orders.MapGet("/", (OrderBook book) => TypedResults.Ok(book.List())).WithName("ListOrders").WithSummary("The placed orders");
        orders.MapGet("/{id}", Results<Ok<Order>, NotFound> (string id, OrderBook book) =>
            book.Find(id) is { } order ? TypedResults.Ok(order) : TypedResults.NotFound()).WithName("GetOrder").WithSummary("One placed order");
        return orders;
    }

    /// <summary>
    /// Publishes first and keeps the order after, so a hub outage leaves no order that nobody heard of (the caller
    /// gets 502 and can try again). A real service writes the order and an outbox row in one transaction instead.
    /// </summary>
    private static async Task<Results<Created<Order>, ValidationProblem, ProblemHttpResult>> PlaceAsync(
        PlaceOrder request, OrderBook book, HubPublisher hub, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = Validate(request);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var items = request.Items!;
        var order = new Order(
            "ord_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            request.Customer!,
            items,
            items.Sum(line => line.Quantity * line.UnitPrice),
            time.GetUtcNow());
        try
        {
            await hub.PublishOrderCreatedAsync(order, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            return TypedResults.Problem(
                $"The order was not placed because the hub could not be reached or refused it: {ex.Message}",
                statusCode: StatusCodes.Status502BadGateway,
                title: "Hub unavailable");
        }

        if (!book.TryAdd(order))
        {
            return TypedResults.Problem($"The sample keeps at most {OrderBook.Capacity} orders; restart it.", statusCode: StatusCodes.Status507InsufficientStorage);
        }

        return TypedResults.Created($"/orders/{order.Id}", order);
    }

    private static Dictionary<string, string[]> Validate(PlaceOrder request)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Customer))
        {
            errors["customer"] = ["A customer is required."];
        }

        if (request.Items is not { Count: > 0 } items)
        {
            errors["items"] = ["At least one item is required."];
        }
        else if (items.Any(line => string.IsNullOrWhiteSpace(line.Sku) || line.Quantity <= 0 || line.UnitPrice < 0))
        {
            errors["items"] = ["Every item needs a sku, a positive quantity and a unitPrice of at least 0."];
        }

        return errors;
    }
}
