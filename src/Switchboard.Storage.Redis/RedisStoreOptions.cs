namespace Switchboard.Storage.Redis;

/// <summary>
/// The scale-out store: every node of a hub points at the same Redis, which holds the log (a stream), the
/// per-topic indexes, idempotency keys and the other stores. Bound to <c>Switchboard:Redis</c>.
/// </summary>
public sealed class RedisStoreOptions
{
    /// <summary>
    /// A StackExchange.Redis configuration string, for example <c>localhost:6379</c> or
    /// <c>redis1:6379,password=...,ssl=true</c>. Required.
    /// </summary>
    public string Configuration { get; set; } = "localhost:6379";

    /// <summary>
    /// <paramref name="configuration"/> as it may be printed or logged: its password masked. A string that does not
    /// parse is not shown at all, since where its password sits cannot be known.
    /// </summary>
    public static string Redact(string configuration)
    {
        try
        {
            return StackExchange.Redis.ConfigurationOptions.Parse(configuration, ignoreUnknown: true).ToString(includePassword: false);
        }
        catch (ArgumentException)
        {
            return "(an unreadable configuration string)";
        }
    }

    /// <summary>
    /// Prefix of every key and channel, so several hubs (or tests) can share one Redis. Every node of one hub must
    /// use the same prefix. Default <c>switchboard:</c>.
    /// </summary>
    public string KeyPrefix { get; set; } = "switchboard:";

    /// <summary>How many of the newest events each node keeps in memory for its live readers. Default 65,536.</summary>
    public int TailCacheSize { get; set; } = 65_536;

    /// <summary>
    /// What those events may cost in memory, by an estimate of their payload and cached wire forms; large events leave
    /// the cache early and their readers read the store. Default 256 MiB.
    /// </summary>
    public long TailCacheBytes { get; set; } = Switchboard.Log.RecentEventsRing.DefaultMaxBytes;

    /// <summary>Stream entries scanned per read when a wildcard filter cannot use a topic index. Default 4,096.</summary>
    public int MaxScanRows { get; set; } = 4096;

    /// <summary>Entries fetched per round trip when a node follows the log's tail. Default 1,024.</summary>
    public int FollowBatchSize { get; set; } = 1024;

    /// <summary>
    /// Group commit: at most this many publish requests go to Redis in one script call. Requests that arrive while a
    /// call is out wait for the next one, so under load many share a round trip. Default 256.
    /// </summary>
    public int AppendBatchMaxRequests { get; set; } = 256;

    /// <summary>
    /// Group commit: a script call carries at most about this many bytes of events (a single larger request still goes,
    /// alone). Default 1 MiB.
    /// </summary>
    public int AppendBatchMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How often a node asks Redis for the head even without a notification, so a lost pub/sub message (a dropped
    /// connection) delays readers by at most this much. Default 1 s.
    /// </summary>
    public TimeSpan HeadPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Redis operations (connect, sync and async calls) give up after this long. Publishing while Redis is
    /// unreachable fails at once (503); this bounds a call to a Redis that answers slowly. Default 5 s.
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a node holds a webhook partition's lease without renewing it. If it dies, other nodes take its
    /// partitions after at most about this long. Default 10 s.
    /// </summary>
    public TimeSpan WebhookLeaseDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many partitions webhook endpoints fall into; the live nodes share them about evenly, so this caps how many
    /// nodes deliver at once. The first node of a hub fixes it (stored in Redis); later nodes use the stored number.
    /// Default 32; 1 to 1,024.
    /// </summary>
    public int WebhookPartitions { get; set; } = 32;

    /// <summary>
    /// The base URL other nodes use to reach this one (the webhook API is forwarded to the node that delivers webhooks).
    /// Default: the first address the server listens on (0.0.0.0 as 127.0.0.1).
    /// </summary>
    public string? AdvertisedUrl { get; set; }

    /// <summary>
    /// A folder for the Data Protection key ring that encrypts webhook signing secrets and URL credentials, shared by
    /// every node. Default: none, and the key ring lives in Redis itself (<c>dataprotection:keys</c>).
    /// </summary>
    public string? KeysPath { get; set; }

    /// <summary>
    /// How long a WebSocket presence member stays in a room without its node refreshing it. Each node refreshes its
    /// members every quarter of this, so a node that dies has its members leave on the other nodes within it.
    /// Default 20 s; at least 200 ms.
    /// </summary>
    public TimeSpan PresenceTtl { get; set; } = TimeSpan.FromSeconds(20);

    internal void Validate()
    {
        if (PresenceTtl < TimeSpan.FromMilliseconds(200))
        {
            throw new ArgumentException("Switchboard:Redis:PresenceTtl must be at least 200 ms.");
        }

        if (WebhookLeaseDuration < TimeSpan.FromMilliseconds(300))
        {
            throw new ArgumentException("Switchboard:Redis:WebhookLeaseDuration must be at least 300 ms.");
        }

        if (WebhookPartitions is < 1 or > 1024)
        {
            throw new ArgumentException("Switchboard:Redis:WebhookPartitions must be 1 to 1,024.");
        }

        if (string.IsNullOrWhiteSpace(Configuration))
        {
            throw new ArgumentException("Switchboard:Redis:Configuration is empty; give host:port of the Redis server.");
        }

        if (string.IsNullOrEmpty(KeyPrefix) || KeyPrefix.Length > 64)
        {
            throw new ArgumentException("Switchboard:Redis:KeyPrefix must be 1 to 64 characters.");
        }

        if (TailCacheSize < 16 || TailCacheBytes < 1 || MaxScanRows < 1 || FollowBatchSize < 1)
        {
            throw new ArgumentException("Redis store sizes must be positive (TailCacheSize at least 16).");
        }

        if (AppendBatchMaxRequests < 1 || AppendBatchMaxBytes < 1024)
        {
            throw new ArgumentException("Switchboard:Redis:AppendBatchMaxRequests must be positive and AppendBatchMaxBytes at least 1024.");
        }

        if (HeadPollInterval <= TimeSpan.Zero || OperationTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Switchboard:Redis:HeadPollInterval and OperationTimeout must be positive.");
        }
    }
}
