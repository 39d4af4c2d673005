using Switchboard.Jobs;
using Switchboard.Monitoring;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Monitoring;

/// <summary>The dashboard's view of the webhook dispatcher: stored state, and the live state of running endpoints.</summary>
internal sealed class DashboardWebhooks(WebhookDispatcher dispatcher) : IDashboardWebhooks
{
    public IReadOnlyList<WebhookEndpointHealth> Endpoints() => [.. dispatcher.List().Select(Health)];

    private static WebhookEndpointHealth Health(WebhookEndpointView view)
    {
        var endpoint = view.Endpoint;
        var live = view.Live;
        var circuit = live is null ? null : live.Circuit switch
        {
            CircuitState.Open => "open",
            CircuitState.HalfOpen => "half-open",
            _ => "closed",
        };
        return new WebhookEndpointHealth(endpoint.Id, endpoint.Url, endpoint.Status, circuit, live?.ConsecutiveFailures ?? 0, live?.LastError,
            live?.AttemptsSucceeded ?? 0, live?.AttemptsFailed ?? 0, live?.Pending ?? view.StoredPending,
            live?.Progress.Delivered ?? endpoint.Progress.Delivered, live?.Progress.Failed ?? endpoint.Progress.Failed);
    }
}

/// <summary>The dashboard's view of the job queue.</summary>
internal sealed class DashboardJobs(JobQueue jobs) : IDashboardJobs
{
    public IReadOnlyList<(string Queue, int Depth)> QueueDepths() => jobs.QueueDepths();

    public int UnfinishedCount => jobs.UnfinishedCount;
}

/// <summary>The playground's endpoints are ordinary dispatcher endpoints, marked in <see cref="HubLocalWebhooks"/>.</summary>
internal sealed class PlaygroundWebhooks(WebhookDispatcher dispatcher, HubLocalWebhooks local) : IPlaygroundWebhooks
{
    public string NewLocalEndpointId() => dispatcher.NewLocalEndpointId();

    public void MarkLocal(string endpointId, string url) => local.Add(endpointId, url);

    public void UnmarkLocal(string endpointId) => local.Remove(endpointId);

    public async Task CreateAsync(WebhookEndpoint endpoint, CancellationToken cancellationToken) =>
        await dispatcher.CreateAsync(endpoint, cancellationToken).ConfigureAwait(false);

    public Task<bool> DeleteAsync(string endpointId, CancellationToken cancellationToken) => dispatcher.DeleteAsync(endpointId, cancellationToken);

    public IReadOnlyList<string> FindByDescription(string description) =>
        [.. dispatcher.List().Where(v => v.Endpoint.Description == description).Select(v => v.Endpoint.Id)];
}
