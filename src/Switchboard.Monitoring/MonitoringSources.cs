using Switchboard.Webhooks;

namespace Switchboard.Monitoring;

/// <summary>The webhook endpoints as the dashboard lists them; the host implements it over its webhook dispatcher.</summary>
public interface IDashboardWebhooks
{
    /// <summary>Every endpoint now, with its live delivery state while it runs.</summary>
    IReadOnlyList<WebhookEndpointHealth> Endpoints();
}

/// <summary>One webhook endpoint's health for the dashboard's table.</summary>
/// <param name="Id">The endpoint id.</param>
/// <param name="Url">Its URL as stored (the dashboard strips credentials and query before showing it).</param>
/// <param name="Status">Active, paused or disabled.</param>
/// <param name="Circuit"><c>closed</c>, <c>open</c> or <c>half-open</c>; null while the endpoint is not delivering.</param>
/// <param name="ConsecutiveFailures">Failed attempts since the last success (0 while not delivering).</param>
/// <param name="LastError">The last attempt's error, if any.</param>
/// <param name="AttemptsSucceeded">Attempts that succeeded since the endpoint's worker started.</param>
/// <param name="AttemptsFailed">Attempts that failed since the endpoint's worker started.</param>
/// <param name="Pending">Events waiting to be delivered.</param>
/// <param name="Delivered">Events delivered, in total.</param>
/// <param name="Failed">Events given up on, in total.</param>
public sealed record WebhookEndpointHealth(string Id, string Url, WebhookStatus Status, string? Circuit, int ConsecutiveFailures, string? LastError,
    long AttemptsSucceeded, long AttemptsFailed, int Pending, long Delivered, long Failed);

/// <summary>The job queues as the dashboard shows them; the host implements it over its job queue.</summary>
public interface IDashboardJobs
{
    /// <summary>Queued jobs per queue.</summary>
    IReadOnlyList<(string Queue, int Depth)> QueueDepths();

    /// <summary>Jobs queued or running.</summary>
    int UnfinishedCount { get; }
}

/// <summary>
/// What the playground needs from the webhook engine: real endpoints aimed at the hub's own sink, and the mark that lets
/// exactly those (and no endpoint a client registers) reach loopback.
/// </summary>
public interface IPlaygroundWebhooks
{
    /// <summary>Marks <paramref name="endpointId"/> as the hub's own, for exactly <paramref name="url"/>.</summary>
    void MarkLocal(string endpointId, string url);

    /// <summary>Removes the mark of <see cref="MarkLocal"/>.</summary>
    void UnmarkLocal(string endpointId);

    /// <summary>
    /// An id for a new endpoint that this node will deliver itself (with several nodes, one that falls into a
    /// partition this node holds), so its sink on this node's own address is reached from here.
    /// </summary>
    string NewLocalEndpointId();

    /// <summary>Registers and starts the endpoint, as the webhook API would.</summary>
    Task CreateAsync(WebhookEndpoint endpoint, CancellationToken cancellationToken);

    /// <summary>Deletes the endpoint; false when there is none.</summary>
    Task<bool> DeleteAsync(string endpointId, CancellationToken cancellationToken);

    /// <summary>The ids of the endpoints whose description is <paramref name="description"/> (left by a previous run).</summary>
    IReadOnlyList<string> FindByDescription(string description);
}
