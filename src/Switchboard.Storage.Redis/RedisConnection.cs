using StackExchange.Redis;

namespace Switchboard.Storage.Redis;

/// <summary>
/// One multiplexed connection per node, shared by the log and the other stores, with the hub's key names.
/// StackExchange.Redis pipelines every caller over it, so one is all a process needs.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private readonly bool _owned;

    /// <summary>Connects (and keeps reconnecting in the background when Redis is away).</summary>
    public RedisConnection(RedisStoreOptions options)
    {
        options.Validate();
        Options = options;
        var configuration = ConfigurationOptions.Parse(options.Configuration);
        // Start even when Redis is down: the node serves what it can and reconnects on its own.
        configuration.AbortOnConnectFail = false;
        // Publishing while disconnected must fail at once (503), not queue behind a reconnect.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        var timeout = (int)options.OperationTimeout.TotalMilliseconds;
        configuration.ConnectTimeout = timeout;
        configuration.SyncTimeout = timeout;
        configuration.AsyncTimeout = timeout;
        configuration.ReconnectRetryPolicy = new LinearRetry(500);
        Multiplexer = ConnectionMultiplexer.Connect(configuration);
        _owned = true;
    }

    internal RedisConnection(IConnectionMultiplexer multiplexer, RedisStoreOptions options)
    {
        options.Validate();
        Options = options;
        Multiplexer = multiplexer;
    }

    /// <summary>The options the connection was made with.</summary>
    public RedisStoreOptions Options { get; }

    /// <summary>The StackExchange.Redis connection.</summary>
    public IConnectionMultiplexer Multiplexer { get; }

    internal IDatabase Database => Multiplexer.GetDatabase();

    internal RedisKey Key(string name) => Options.KeyPrefix + name;

    internal RedisChannel Channel(string name) => RedisChannel.Literal(Options.KeyPrefix + name);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_owned)
        {
            await Multiplexer.CloseAsync().ConfigureAwait(false);
            Multiplexer.Dispose();
        }
    }
}
