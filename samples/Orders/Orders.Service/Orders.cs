using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orders.Service;

/// <summary>What a customer sends to place an order.</summary>
public sealed record PlaceOrder(string? Customer, IReadOnlyList<OrderLine>? Items);

/// <summary>One line of an order.</summary>
public sealed record OrderLine(string Sku, int Quantity, decimal UnitPrice);

/// <summary>A placed order; also the <c>data</c> of the <c>order.created</c> event.</summary>
public sealed record Order(string Id, string Customer, IReadOnlyList<OrderLine> Items, decimal Total, DateTimeOffset PlacedAt);

/// <summary>The body of <c>POST {hub}/v1/topics/orders/events</c>.</summary>
internal sealed record HubEvent(string Type, Order Data);

/// <summary>The placed orders, in memory: a sample, not a database. Holds at most <see cref="Capacity"/>.</summary>
internal sealed class OrderBook
{
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<string, Order> _orders = new(StringComparer.Ordinal);

    public bool TryAdd(Order order) => _orders.Count < Capacity && _orders.TryAdd(order.Id, order);

    public Order? Find(string id) => _orders.GetValueOrDefault(id);

    public IReadOnlyList<Order> List() => [.. _orders.Values.OrderBy(o => o.PlacedAt).ThenBy(o => o.Id, StringComparer.Ordinal)];
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(PlaceOrder))]
[JsonSerializable(typeof(Order))]
[JsonSerializable(typeof(IReadOnlyList<Order>))]
[JsonSerializable(typeof(HubEvent))]
internal sealed partial class OrdersJsonContext : JsonSerializerContext;
