namespace Switchboard.Webhooks;

/// <summary>
/// Which node delivers webhooks. On one node it is always this one. When several nodes share a store, one of them
/// holds a lease and delivers every endpoint, so a receiver gets each event once in the steady state; if that node
/// dies, another takes the lease after it expires, loads the endpoints' cursors and pending retries from the store,
/// and carries on (at least once: sends in flight at the crash may be repeated).
/// </summary>
public interface IWebhookLeadership
{
    /// <summary>False on a single node: this node always leads and the dispatcher starts with the host.</summary>
    bool IsShared { get; }

    /// <summary>True while this node holds the lease.</summary>
    bool IsLeader { get; }

    /// <summary>The base URL of the node that leads now, when known and not this node; the webhook API is forwarded there.</summary>
    string? LeaderAddress { get; }

    /// <summary>Waits until this node leads; the token returned is cancelled when it stops leading.</summary>
    Task<CancellationToken> AcquireAsync(CancellationToken cancellationToken);
}

/// <summary>One node: it always leads.</summary>
public sealed class SingleNodeWebhookLeadership : IWebhookLeadership
{
    /// <inheritdoc />
    public bool IsShared => false;

    /// <inheritdoc />
    public bool IsLeader => true;

    /// <inheritdoc />
    public string? LeaderAddress => null;

    /// <inheritdoc />
    public Task<CancellationToken> AcquireAsync(CancellationToken cancellationToken) => Task.FromResult(CancellationToken.None);
}
