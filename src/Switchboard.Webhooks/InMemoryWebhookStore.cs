namespace Switchboard.Webhooks;

/// <summary>Webhook state in memory, for the memory store and tests: lost on restart, like the memory log.</summary>
public sealed class InMemoryWebhookStore : IWebhookStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, WebhookEndpoint> _endpoints = new(StringComparer.Ordinal);
    private readonly Dictionary<(string EndpointId, long Seq), WebhookDelivery> _deliveries = [];
    private readonly Dictionary<string, List<WebhookAttempt>> _attempts = new(StringComparer.Ordinal);
    private long _nextAttemptId;

    /// <inheritdoc />
    public Task<WebhookSnapshot> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(new WebhookSnapshot(
                _endpoints.Values.OrderBy(e => e.CreatedAt).ToList(),
                _deliveries.Values.Where(d => d.Status == WebhookDeliveryStatus.Pending).OrderBy(d => d.Seq).ToList()));
        }
    }

    /// <inheritdoc />
    public Task ApplyAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            foreach (var change in changes)
            {
                Apply(change);
            }
        }

        return Task.CompletedTask;
    }

    private void Apply(WebhookChange change)
    {
        switch (change)
        {
            case WebhookEndpointSaved { Endpoint: var endpoint }:
                _endpoints[endpoint.Id] = _endpoints.TryGetValue(endpoint.Id, out var existing)
                    ? endpoint with { Progress = existing.Progress }
                    : endpoint;
                break;
            case WebhookEndpointDeleted { EndpointId: var id }:
                _endpoints.Remove(id);
                _attempts.Remove(id);
                foreach (var key in _deliveries.Keys.Where(k => k.EndpointId == id).ToList())
                {
                    _deliveries.Remove(key);
                }

                break;
            case WebhookProgressSaved { EndpointId: var id, Progress: var progress }:
                if (_endpoints.TryGetValue(id, out var endpointToMove))
                {
                    _endpoints[id] = endpointToMove with { Progress = progress };
                }

                break;
            case WebhookDeliverySaved { Delivery: var delivery }:
                if (_endpoints.ContainsKey(delivery.EndpointId))
                {
                    _deliveries[(delivery.EndpointId, delivery.Seq)] = delivery;
                }

                break;
            case WebhookDeliveryRemoved { EndpointId: var id, Seq: var seq }:
                _deliveries.Remove((id, seq));
                break;
            case WebhookAttemptAdded { Attempt: var attempt } added:
                if (_endpoints.ContainsKey(attempt.EndpointId))
                {
                    if (!_attempts.TryGetValue(attempt.EndpointId, out var list))
                    {
                        _attempts[attempt.EndpointId] = list = [];
                    }

                    list.Add(attempt with { Id = ++_nextAttemptId });
                    added.AssignedId = _nextAttemptId;
                }

                break;
            default:
                throw new ArgumentException($"Unknown change {change.GetType().Name}.", nameof(change));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<WebhookAttempt>> ReadAttemptsAsync(string endpointId, bool? succeeded, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<WebhookAttempt> result = _attempts.TryGetValue(endpointId, out var list)
                ? list.AsEnumerable().Reverse().Where(a => succeeded is null || a.Succeeded == succeeded).Take(limit).ToList()
                : [];
            return Task.FromResult(result);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<WebhookDelivery>> ReadFailedAsync(string endpointId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<WebhookDelivery> result = _deliveries.Values
                .Where(d => d.EndpointId == endpointId && d.Status == WebhookDeliveryStatus.Failed && d.UpdatedAt >= since)
                .OrderBy(d => d.Seq).Take(limit).ToList();
            return Task.FromResult(result);
        }
    }

    /// <inheritdoc />
    public Task TrimAttemptsAsync(int keepPerEndpoint, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            foreach (var list in _attempts.Values.Where(l => l.Count > keepPerEndpoint))
            {
                list.RemoveRange(0, list.Count - keepPerEndpoint);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
