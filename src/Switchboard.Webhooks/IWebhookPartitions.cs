using System.Text;

namespace Switchboard.Webhooks;

/// <summary>
/// Which node delivers which webhook endpoints. Endpoints fall into a fixed number of partitions by a hash of their
/// id. On one node it holds the only partition. When several nodes share a store, each partition has one lease,
/// held by one node at a time, and the live nodes share the partitions about evenly; so each endpoint is delivered
/// by exactly one node in the steady state, and the hub's delivery capacity grows with its nodes. A node that dies
/// loses its leases when they expire; the others take its partitions, load those endpoints' cursors and pending
/// retries from the store, and carry on (at least once: sends in flight at the crash may be repeated).
/// </summary>
public interface IWebhookPartitions
{
    /// <summary>False on a single node: it holds every endpoint from the start, and the dispatcher loads them with the host.</summary>
    bool IsShared { get; }

    /// <summary>How many partitions the endpoints fall into; the same on every node of a hub.</summary>
    int Count { get; }

    /// <summary>Who delivers the partition now, as far as this node knows.</summary>
    WebhookPartitionHolder HolderOf(int partition);

    /// <summary>
    /// The partitions this node comes to hold, each as a lease, until <paramref name="cancellationToken"/> ends.
    /// A partition held again after losing it comes as a new lease.
    /// </summary>
    IAsyncEnumerable<WebhookPartitionLease> LeasesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A secret the hub's nodes share, to sign the API calls they forward to one another so that a client cannot pass
    /// for a node; empty on a single node, which forwards nothing. Known once this node takes part in the sharing.
    /// </summary>
    ReadOnlyMemory<byte> ForwardingKey => ReadOnlyMemory<byte>.Empty;
}

/// <summary>Who delivers a partition: this node, another node (its base URL), or nobody at this moment (a hand-over).</summary>
public readonly record struct WebhookPartitionHolder(bool IsThisNode, string? Address)
{
    /// <summary>No node holds the partition right now.</summary>
    public static WebhookPartitionHolder Nobody => default;

    /// <summary>This node holds it.</summary>
    public static WebhookPartitionHolder ThisNode => new(true, null);

    /// <summary>Another node, reachable at <paramref name="address"/>, holds it.</summary>
    public static WebhookPartitionHolder At(string address) => new(false, address);
}

/// <summary>
/// A partition this node holds. <see cref="Lost"/> is cancelled when the node must stop delivering it (its lease ran
/// out, or it is being handed to a node that has fewer); the dispatcher then stops the partition's workers, stores
/// where each stood, and calls <see cref="Release"/>. A hand-over frees the lease only after that, so the next holder
/// starts from the stored cursors and no delivery runs on two nodes.
/// </summary>
public sealed class WebhookPartitionLease
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A lease of <paramref name="partition"/>, lost when <paramref name="lost"/> is cancelled.</summary>
    public WebhookPartitionLease(int partition, CancellationToken lost)
    {
        Partition = partition;
        Lost = lost;
    }

    /// <summary>The partition held.</summary>
    public int Partition { get; }

    /// <summary>Cancelled when this node must stop delivering the partition.</summary>
    public CancellationToken Lost { get; }

    /// <summary>Completes once the dispatcher has stopped the partition's workers and stored their progress.</summary>
    public Task Released => _released.Task;

    /// <summary>Says the partition's workers are stopped and their progress stored.</summary>
    public void Release() => _released.TrySetResult();
}

/// <summary>The endpoint-to-partition hash, the same on every node and in every process (unlike <see cref="string.GetHashCode()"/>).</summary>
public static class WebhookPartitioning
{
    /// <summary>The partition of <paramref name="endpointId"/> among <paramref name="count"/>: FNV-1a over its UTF-8 bytes.</summary>
    public static int PartitionOf(string endpointId, int count)
    {
        ArgumentNullException.ThrowIfNull(endpointId);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (count == 1)
        {
            return 0;
        }

        var hash = 2166136261u;
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(endpointId) <= buffer.Length ? buffer[..Encoding.UTF8.GetBytes(endpointId, buffer)] : Encoding.UTF8.GetBytes(endpointId);
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)count);
    }
}

/// <summary>One node: it holds the only partition, for good.</summary>
public sealed class SingleNodeWebhookPartitions : IWebhookPartitions
{
    /// <inheritdoc />
    public bool IsShared => false;

    /// <inheritdoc />
    public int Count => 1;

    /// <inheritdoc />
    public WebhookPartitionHolder HolderOf(int partition) => WebhookPartitionHolder.ThisNode;

    /// <inheritdoc />
    public async IAsyncEnumerable<WebhookPartitionLease> LeasesAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return new WebhookPartitionLease(0, CancellationToken.None);
        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
    }
}
