using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Redis;

/// <summary>
/// The webhook lease in Redis: <c>{prefix}webhooks:leader</c> holds "node-id base-url" with an expiry. The holder
/// renews it every third of the lease; the others try to take it every quarter and read who holds it, so they can
/// forward the webhook API there. A holder that cannot renew before its lease runs out stops leading.
/// </summary>
public sealed partial class RedisWebhookLeadership : IWebhookLeadership, IAsyncDisposable
{
    // KEYS: the lease. ARGV: the holder's value, the lease in ms. Renews only our own lease.
    private const string RenewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """;

    // KEYS: the lease. ARGV: the holder's value. Releases only our own lease.
    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private readonly RedisConnection _redis;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisKey _key;
    private readonly string _nodeId = Guid.NewGuid().ToString("N")[..12];
    private readonly CancellationTokenSource _disposed = new();
    private CancellationTokenSource? _leading;
    private string? _value;
    private volatile string? _leaderAddress;

    public RedisWebhookLeadership(RedisConnection redis, IServiceProvider services, TimeProvider time, ILogger<RedisWebhookLeadership> logger)
    {
        _redis = redis;
        _services = services;
        _time = time;
        _logger = logger;
        _key = redis.Key("webhooks:leader");
    }

    private TimeSpan Lease => _redis.Options.WebhookLeaseDuration;

    /// <inheritdoc />
    public bool IsShared => true;

    /// <inheritdoc />
    public bool IsLeader => _leading is { IsCancellationRequested: false };

    /// <inheritdoc />
    public string? LeaderAddress => IsLeader ? null : _leaderAddress;

    /// <inheritdoc />
    public async Task<CancellationToken> AcquireAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        if (_services.GetService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>() is { } lifetime && !lifetime.ApplicationStarted.IsCancellationRequested)
        {
            // Hosted services start before the server listens; the lease names this node's address, so wait for it.
            var started = new TaskCompletionSource();
            using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
            await started.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }

        _value ??= $"{_nodeId} {Address()}";
        while (true)
        {
            try
            {
                if (await _redis.Database.StringSetAsync(_key, _value, Lease, When.NotExists).ConfigureAwait(false))
                {
                    var leading = new CancellationTokenSource();
                    _leading = leading;
                    LogLeading(_logger, _nodeId);
                    _ = RenewAsync(leading);
                    return leading.Token;
                }

                var holder = (string?)await _redis.Database.StringGetAsync(_key).ConfigureAwait(false);
                _leaderAddress = holder?[(holder.IndexOf(' ') + 1)..];
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Redis is away: nobody can take the lease; try again shortly.
            }

            await Task.Delay(Lease / 4, _time, linked.Token).ConfigureAwait(false);
        }
    }

    private async Task RenewAsync(CancellationTokenSource leading)
    {
        var renewedAt = _time.GetTimestamp();
        try
        {
            while (!_disposed.IsCancellationRequested)
            {
                await Task.Delay(Lease / 3, _time, _disposed.Token).ConfigureAwait(false);
                try
                {
                    var renewed = (long)await _redis.Database.ScriptEvaluateAsync(RenewScript, [_key], [_value, (long)Lease.TotalMilliseconds]).ConfigureAwait(false);
                    if (renewed == 0)
                    {
                        break; // another node holds it now
                    }

                    renewedAt = _time.GetTimestamp();
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Keep leading while the lease we hold is still ours by time; after that another node may have it.
                    if (_time.GetElapsedTime(renewedAt) >= Lease)
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        LogStoppedLeading(_logger, _nodeId);
        await leading.CancelAsync().ConfigureAwait(false);
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

    /// <summary>Releases the lease on a clean stop, so another node takes over at once rather than after the expiry.</summary>
    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        if (IsLeader || _leading is not null)
        {
            try
            {
                await _redis.Database.ScriptEvaluateAsync(ReleaseScript, [_key], [_value]).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // It expires on its own.
            }
        }

        _disposed.Dispose();
    }

    [LoggerMessage(EventId = 820, Level = LogLevel.Information, Message = "This node ({Node}) now delivers webhooks")]
    private static partial void LogLeading(ILogger logger, string node);

    [LoggerMessage(EventId = 821, Level = LogLevel.Warning, Message = "This node ({Node}) no longer delivers webhooks")]
    private static partial void LogStoppedLeading(ILogger logger, string node);
}
