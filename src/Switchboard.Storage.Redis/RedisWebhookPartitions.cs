using System.Threading.Channels;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Redis;

/// <summary>
/// Webhook partitions leased in Redis. <c>{prefix}webhooks:partition:{i}</c> holds "node-id base-url" with an expiry,
/// and <c>{prefix}webhooks:nodes</c> is a sorted set of the live nodes, scored by when each stops counting as alive.
/// Every quarter of the lease each node runs one script that marks it alive, renews the partitions it holds, and
/// takes free partitions up to its fair share (the partitions over the live nodes, rounded up), so the nodes cannot
/// race for a partition. A node holding more than its share (another node joined) hands the extra ones over:
/// it stops their workers first and only then frees the leases. A node that dies simply stops renewing; its leases
/// and its place in the set expire within one lease, and the others take its partitions.
/// </summary>
public sealed partial class RedisWebhookPartitions : IWebhookPartitions, IAsyncDisposable
{
    // KEYS[1]: the node set; KEYS[2..]: the partition leases. ARGV: this node's value, the lease in ms, where to start
    // looking for free partitions (so nodes starting together spread out). Returns every partition's holder ('' for
    // none), then the fair share.
    private const string TickScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local lease = tonumber(ARGV[2])
        redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('PEXPIRE', KEYS[1], lease * 3)
        local count = #KEYS - 1
        local fair = math.ceil(count / redis.call('ZCARD', KEYS[1]))
        local holders = {}
        local held = 0
        for i = 1, count do
          local v = redis.call('GET', KEYS[i + 1])
          if v == ARGV[1] then
            redis.call('PEXPIRE', KEYS[i + 1], lease)
            held = held + 1
          end
          holders[i] = v or ''
        end
        local start = tonumber(ARGV[3])
        for k = 0, count - 1 do
          if held >= fair then break end
          local i = (start + k) % count + 1
          if holders[i] == '' then
            redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', lease)
            holders[i] = ARGV[1]
            held = held + 1
          end
        end
        holders[count + 1] = tostring(fair)
        return holders
        """;

    // KEYS: a partition lease. ARGV: the holder's value. Frees only our own lease.
    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    /// <summary>How long a hand-over waits for the dispatcher to stop a partition's workers before freeing it anyway.</summary>
    private static readonly TimeSpan HandOverLimit = TimeSpan.FromSeconds(15);

    private readonly RedisConnection _redis;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisKey _nodesKey;
    private readonly RedisKey _countKey;
    private readonly RedisKey _forwardingKeyKey;
    private volatile byte[] _forwardingKey = [];
    private readonly string _nodeId = Guid.NewGuid().ToString("N")[..12];
    private readonly CancellationTokenSource _disposed = new();
    private readonly Channel<WebhookPartitionLease> _granted = Channel.CreateUnbounded<WebhookPartitionLease>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    // The leases this node holds and the ones it is handing over, under _gate (the tick and hand-overs change them).
    private readonly Lock _gate = new();
    private readonly Dictionary<int, HeldLease> _held = [];
    private readonly HashSet<int> _handingOver = [];
    private RedisKey[] _partitionKeys = [];
    private int _count;
    private Task _ticking = Task.CompletedTask;
    private string? _value;

    // Read by the API on any thread: the holders as of the last tick, and the partitions this node delivers now.
    private volatile string[] _holders = [];
    private volatile bool[] _delivering = [];

    public RedisWebhookPartitions(RedisConnection redis, IServiceProvider services, TimeProvider time, ILogger<RedisWebhookPartitions> logger)
    {
        _redis = redis;
        _services = services;
        _time = time;
        _logger = logger;
        _nodesKey = redis.Key("webhooks:nodes");
        _countKey = redis.Key("webhooks:partitions");
        _forwardingKeyKey = redis.Key("webhooks:forwarding-key");
        _count = redis.Options.WebhookPartitions;
    }

    private TimeSpan Lease => _redis.Options.WebhookLeaseDuration;

    /// <inheritdoc />
    public bool IsShared => true;

    /// <inheritdoc />
    public int Count => Volatile.Read(ref _count);

    /// <inheritdoc />
    public ReadOnlyMemory<byte> ForwardingKey => _forwardingKey;

    /// <summary>The partitions this node delivers now.</summary>
    public int Held => _delivering.Count(d => d);

    /// <inheritdoc />
    public WebhookPartitionHolder HolderOf(int partition)
    {
        var delivering = _delivering;
        var holders = _holders;
        if ((uint)partition < (uint)delivering.Length && delivering[partition])
        {
            return WebhookPartitionHolder.ThisNode;
        }

        if ((uint)partition >= (uint)holders.Length || holders[partition] is not { Length: > 0 } holder || holder == _value)
        {
            return WebhookPartitionHolder.Nobody; // free, being handed over, or lost by this node a moment ago
        }

        return WebhookPartitionHolder.At(AddressOf(holder));
    }

    private static string AddressOf(string holder) => holder[(holder.IndexOf(' ') + 1)..];

    /// <inheritdoc />
    public async IAsyncEnumerable<WebhookPartitionLease> LeasesAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        if (_services.GetService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>() is { } lifetime && !lifetime.ApplicationStarted.IsCancellationRequested)
        {
            // Hosted services start before the server listens; a lease names this node's address, so wait for it.
            var started = new TaskCompletionSource();
            using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
            await started.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }

        _value ??= $"{_nodeId} {Address()}";
        _ticking = TickLoopAsync(_disposed.Token);
        while (true)
        {
            WebhookPartitionLease lease;
            try
            {
                lease = await _granted.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                yield break;
            }

            yield return lease;
        }
    }

    private async Task TickLoopAsync(CancellationToken stopping)
    {
        await AgreeOnCountAsync(stopping).ConfigureAwait(false);
        var renewedAt = _time.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(TickScript, [_nodesKey, .. _partitionKeys],
                    [_value, (long)Lease.TotalMilliseconds, Random.Shared.Next(_count)]).ConfigureAwait(false))!;
                renewedAt = _time.GetTimestamp();
                Apply([.. result.Take(_count).Select(r => (string?)r ?? "")], int.Parse((string)result[_count]!, System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Keep delivering while the leases we hold are still ours by time; after that another node may have them.
                if (_time.GetElapsedTime(renewedAt) >= Lease && Held > 0)
                {
                    LogLeasesExpired(_logger, _nodeId, Held);
                    Apply([.. Enumerable.Repeat("", _count)], fair: 0);
                }
            }

            try
            {
                await Task.Delay(Lease / 4, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// The first node of a hub writes the partition count; every later node uses the stored one, so a node configured
    /// differently still hashes endpoints as the hub does.
    /// </summary>
    private async Task AgreeOnCountAsync(CancellationToken stopping)
    {
        while (true)
        {
            try
            {
                await _redis.Database.StringSetAsync(_countKey, _count, when: When.NotExists).ConfigureAwait(false);
                var stored = (int)await _redis.Database.StringGetAsync(_countKey).ConfigureAwait(false);
                if (stored != _count)
                {
                    LogCountFromHub(_logger, stored, _count);
                }

                Volatile.Write(ref _count, stored);

                // Drawn by the hub's first node, like the count; read before the first tick names this node, so it
                // is known before any other node can forward a call here.
                await _redis.Database.StringSetAsync(_forwardingKeyKey, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), when: When.NotExists).ConfigureAwait(false);
                _forwardingKey = Convert.FromBase64String((string)(await _redis.Database.StringGetAsync(_forwardingKeyKey).ConfigureAwait(false))!);
                _partitionKeys = [.. Enumerable.Range(0, stored).Select(i => _redis.Key($"webhooks:partition:{i}"))];
                _holders = [.. Enumerable.Repeat("", stored)];
                _delivering = new bool[stored];
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                await Task.Delay(Lease / 4, _time, stopping).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Compares the tick's holders with what this node holds: new leases go to the dispatcher, lost ones are cancelled.</summary>
    private void Apply(string[] holders, int fair)
    {
        var delivering = new bool[holders.Length];
        lock (_gate)
        {
            for (var i = 0; i < holders.Length; i++)
            {
                var ours = holders[i] == _value;
                if (ours && !_held.ContainsKey(i) && !_handingOver.Contains(i))
                {
                    var held = new HeldLease(new CancellationTokenSource());
                    held.Lease = new WebhookPartitionLease(i, held.Lost.Token);
                    _held[i] = held;
                    _granted.Writer.TryWrite(held.Lease);
                    LogGained(_logger, _nodeId, i);
                }
                else if (!ours && _held.Remove(i, out var lost))
                {
                    LogLost(_logger, _nodeId, i);
                    lost.Lost.Cancel();
                }

                delivering[i] = ours && _held.ContainsKey(i);
            }

            // More than a fair share: another node joined. Hand the highest-numbered extras over.
            var extra = _held.Count - fair;
            if (fair > 0 && extra > 0)
            {
                foreach (var partition in _held.Keys.OrderDescending().Take(extra).ToList())
                {
                    _held.Remove(partition, out var handOver);
                    _handingOver.Add(partition);
                    delivering[partition] = false;
                    _ = HandOverAsync(partition, handOver!);
                }
            }

            _holders = holders;
            _delivering = delivering;
        }
    }

    /// <summary>Stops delivering a partition, waits for its workers to store their progress, then frees its lease.</summary>
    private async Task HandOverAsync(int partition, HeldLease held)
    {
        LogHandingOver(_logger, _nodeId, partition);
        await held.Lost.CancelAsync().ConfigureAwait(false);
        await Task.WhenAny(held.Lease!.Released, Task.Delay(HandOverLimit, _time)).ConfigureAwait(false);
        try
        {
            await _redis.Database.ScriptEvaluateAsync(ReleaseScript, [_partitionKeys[partition]], [_value]).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // It expires on its own within a lease.
        }
        finally
        {
            lock (_gate)
            {
                _handingOver.Remove(partition);
            }
        }
    }

    /// <summary>Where other nodes reach this one: <c>Redis:AdvertisedUrl</c>, else the first address the server bound.</summary>
    private string Address()
    {
        if (!string.IsNullOrEmpty(_redis.Options.AdvertisedUrl))
        {
            return _redis.Options.AdvertisedUrl.TrimEnd('/');
        }

        var addresses = _services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal)) ?? addresses.FirstOrDefault() ?? "";
        return address.Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal).Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
    }

    /// <summary>
    /// On a clean stop (the dispatcher has stored every worker's progress by now), frees this node's leases and its
    /// place among the live nodes, so the others take its partitions at their next tick rather than after the expiry.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        _granted.Writer.TryComplete();
        try
        {
            await _ticking.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        int[] held;
        lock (_gate)
        {
            held = [.. _held.Keys, .. _handingOver];
            foreach (var lease in _held.Values)
            {
                lease.Lost.Cancel();
            }

            _held.Clear();
        }

        if (_value is not null)
        {
            try
            {
                foreach (var partition in held)
                {
                    await _redis.Database.ScriptEvaluateAsync(ReleaseScript, [_partitionKeys[partition]], [_value]).ConfigureAwait(false);
                }

                await _redis.Database.SortedSetRemoveAsync(_nodesKey, _value).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // They expire on their own.
            }
        }

        _disposed.Dispose();
    }

    private sealed class HeldLease(CancellationTokenSource lost)
    {
        public CancellationTokenSource Lost { get; } = lost;

        public WebhookPartitionLease? Lease { get; set; }
    }

    [LoggerMessage(EventId = 820, Level = LogLevel.Information, Message = "This node ({Node}) now delivers webhook partition {Partition}")]
    private static partial void LogGained(ILogger logger, string node, int partition);

    [LoggerMessage(EventId = 821, Level = LogLevel.Warning, Message = "This node ({Node}) lost webhook partition {Partition} to another node")]
    private static partial void LogLost(ILogger logger, string node, int partition);

    [LoggerMessage(EventId = 822, Level = LogLevel.Information, Message = "This node ({Node}) hands webhook partition {Partition} over to a node with fewer")]
    private static partial void LogHandingOver(ILogger logger, string node, int partition);

    [LoggerMessage(EventId = 823, Level = LogLevel.Warning, Message = "This node ({Node}) could not renew its {Count} webhook partitions within the lease; it stops delivering them")]
    private static partial void LogLeasesExpired(ILogger logger, string node, int count);

    [LoggerMessage(EventId = 824, Level = LogLevel.Warning, Message = "The hub has {Stored} webhook partitions; this node's setting of {Configured} is ignored")]
    private static partial void LogCountFromHub(ILogger logger, int stored, int configured);
}
