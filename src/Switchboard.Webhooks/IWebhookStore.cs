namespace Switchboard.Webhooks;

/// <summary>
/// Where webhook endpoints, their cursors, pending retries and attempts live. Changes arrive in ordered
/// batches from one writer (the dispatcher's journal), and a store applies each batch atomically, so a
/// cursor is never stored ahead of the retry it passes.
/// </summary>
public interface IWebhookStore : IAsyncDisposable
{
    /// <summary>Every endpoint with its progress, and every pending (not failed) delivery.</summary>
    Task<WebhookSnapshot> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>Applies the changes in order, all or none.</summary>
    Task ApplyAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default);

    /// <summary>The newest attempts of an endpoint, newest first; <paramref name="succeeded"/> filters by outcome.</summary>
    Task<IReadOnlyList<WebhookAttempt>> ReadAttemptsAsync(string endpointId, bool? succeeded, int limit, CancellationToken cancellationToken = default);

    /// <summary>Deliveries given up (failed) at or after <paramref name="since"/>, oldest event first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ReadFailedAsync(string endpointId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default);

    /// <summary>Keeps only the newest <paramref name="keepPerEndpoint"/> attempts of each endpoint.</summary>
    Task TrimAttemptsAsync(int keepPerEndpoint, CancellationToken cancellationToken = default);
}

/// <summary>What a store holds at start.</summary>
public sealed record WebhookSnapshot(IReadOnlyList<WebhookEndpoint> Endpoints, IReadOnlyList<WebhookDelivery> PendingDeliveries);

/// <summary>One change to webhook state.</summary>
public abstract record WebhookChange;

/// <summary>Creates the endpoint with its progress, or updates its configuration (never its progress).</summary>
public sealed record WebhookEndpointSaved(WebhookEndpoint Endpoint) : WebhookChange;

/// <summary>Removes the endpoint with its deliveries and attempts.</summary>
public sealed record WebhookEndpointDeleted(string EndpointId) : WebhookChange;

/// <summary>Moves an endpoint's progress.</summary>
public sealed record WebhookProgressSaved(string EndpointId, WebhookProgress Progress) : WebhookChange;

/// <summary>Creates or replaces the delivery of one event to one endpoint.</summary>
public sealed record WebhookDeliverySaved(WebhookDelivery Delivery) : WebhookChange;

/// <summary>Forgets a delivery (it succeeded, or the endpoint was replayed past it).</summary>
public sealed record WebhookDeliveryRemoved(string EndpointId, long Seq) : WebhookChange;

/// <summary>Adds an attempt to the log.</summary>
public sealed record WebhookAttemptAdded(WebhookAttempt Attempt) : WebhookChange
{
    /// <summary>
    /// The id the store gave the attempt when it stored it (0 until then, or when its endpoint was gone). The store
    /// assigns ids, so this is how a caller that waits for the commit (a test ping) answers with the id the attempt log shows.
    /// </summary>
    public long AssignedId { get; set; }
}
