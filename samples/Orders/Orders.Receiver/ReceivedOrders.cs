using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orders.Receiver;

/// <summary>The part of the <c>order.created</c> data this service needs; other fields are ignored.</summary>
internal sealed record OrderCreated(string Id, string? Customer, decimal Total, IReadOnlyList<JsonElement>? Items);

/// <summary>An order as this service received it.</summary>
public sealed record ReceivedOrder(string OrderId, string? Customer, decimal Total, int ItemCount, string WebhookId, long Seq, DateTimeOffset ReceivedAt);

/// <summary>Received orders, in memory and keyed by order id: a sample, not a database. Keeps the newest <see cref="Capacity"/>.</summary>
public sealed class ReceivedOrders
{
    public const int Capacity = 10_000;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, ReceivedOrder> _orders = new(StringComparer.Ordinal);
    private readonly Queue<string> _arrival = new();

    /// <summary>Keeps <paramref name="order"/> unless one with its id is kept already.</summary>
    public bool TryAdd(ReceivedOrder order)
    {
        lock (_gate)
        {
            if (!_orders.TryAdd(order.OrderId, order))
            {
                return false;
            }

            _arrival.Enqueue(order.OrderId);
            if (_arrival.Count > Capacity)
            {
                _orders.Remove(_arrival.Dequeue());
            }

            return true;
        }
    }

    /// <summary>The kept orders, oldest first.</summary>
    public IReadOnlyList<ReceivedOrder> List()
    {
        lock (_gate)
        {
            return [.. _arrival.Select(id => _orders[id])];
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(OrderCreated))]
[JsonSerializable(typeof(IReadOnlyList<ReceivedOrder>))]
internal sealed partial class ReceiverJsonContext : JsonSerializerContext;
