using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Switchboard.Cursors;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Retention;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Storage.Redis;

/// <summary>
/// The log for several nodes serving one hub. Events live in one Redis stream (entry id <c>{seq}-0</c>) with a sorted
/// set per topic as its index; a Lua script assigns seqs, writes both, applies count retention and records idempotency
/// keys in one atomic step, then publishes the new head. Every node follows the head: it fetches new entries once into
/// its in-memory tail ring and wakes its own readers, so live subscribers on any node never query Redis per event.
/// </summary>
public sealed partial class RedisEventLog : IEventLog, IStoreHealth
{
    private const int TrimBatch = 10_000;

    private readonly RedisConnection _redis;
    private readonly RedisStoreOptions _options;
    private readonly RetentionPolicy? _retention;
    private long _ageTrimTopicsExamined;
    private bool _emptiedSwept; // set once this hub's listed topics were checked for ones emptied before retirement
    private readonly TimeProvider _time;
    private readonly WarningThrottle _failureWarnings;
    private readonly WarningThrottle _refusalWarnings;
    private readonly StoreFaultState _faults;
    private readonly ILogger _logger;
    private readonly RedisKey _meta, _log, _topicsKey, _trimmed, _retired, _keyExpiry;
    private readonly RedisChannel _channel;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _poke = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ChannelMessageQueue _subscription;
    private readonly Task _follower;
    private EpochState _state;
    private long _head;
    private long _fetched;
    private long _target;
    private int _refreshWanted;
    private int _disposed;

    /// <summary>Opens the log in Redis (starting a new epoch when Redis holds none) and starts following it.</summary>
    public RedisEventLog(RedisConnection redis, RetentionPolicy? retention = null, TimeProvider? timeProvider = null, ILogger<RedisEventLog>? logger = null)
    {
        _redis = redis;
        _options = redis.Options;
        _retention = retention;
        _time = timeProvider ?? TimeProvider.System;
        _failureWarnings = new WarningThrottle(_time, TimeSpan.FromSeconds(10));
        _refusalWarnings = new WarningThrottle(_time, TimeSpan.FromSeconds(10));
        _faults = new StoreFaultState(_time, ProbeAsync);
        _logger = logger ?? NullLogger<RedisEventLog>.Instance;
        _meta = redis.Key("meta");
        _log = redis.Key("log");
        _topicsKey = redis.Key("topics");
        _trimmed = redis.Key("trimmed");
        _retired = redis.Key("retired");
        _keyExpiry = redis.Key("idempotency-expiry");
        _channel = redis.Channel("events");

        _state = new EpochState("", 0, new RecentEventsRing(_options.TailCacheSize, 0, _options.TailCacheBytes), new TopicRegistry());
        try
        {
            // Subscribe before reading the head: a notification racing the read is then never lost.
            _subscription = SubscribeWhenConnected(redis, _channel);
            _subscription.OnMessage(OnNotification);
            var head = HeadInfo.From(redis.Database.ScriptEvaluate(RedisScripts.Head, [_meta], [Cursor.NewEpoch(), "", 0]));
            // The trim points first, then the retired ones: a retirement between the two reads moves a topic from the
            // first to the second, which is then seen.
            var trimmed = redis.Database.HashGetAll(_trimmed);
            Adopt(head, new TrimPoints(trimmed, redis.Database.HashGetAll(_retired)));
        }
        catch (RedisException ex)
        {
            _subscription?.Unsubscribe();
            // A node needs Redis to start (it must learn the epoch and head); once running it rides out outages.
            var remedy = ex is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure } || Reason(ex).Contains("NOAUTH", StringComparison.Ordinal) || Reason(ex).Contains("WRONGPASS", StringComparison.Ordinal)
                ? "Give the password (and user) Redis expects: --redis host:port,password=...,user=..."
                : "Start Redis there, or pass --redis host:port.";
            throw new StoreOpenException($"Cannot open the Redis store at '{RedisStoreOptions.Redact(_options.Configuration)}': {Reason(ex)} {remedy}", ex);
        }

        _follower = Task.Run(FollowAsync);
        StartCommitter();
        LogOpened(_logger, RedisStoreOptions.Redact(_options.Configuration), Epoch, HeadSeq);
    }

    // StackExchange.Redis's own messages carry a long diagnostic dump (queues, thread-pool counts); the innermost
    // exception says what happened ("Connection refused"), up to its first diagnostic field.
    private static string Reason(Exception exception)
    {
        var innermost = exception;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        var message = innermost.Message;
        var end = message.IndexOf(", mc: ", StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).TrimEnd('.', ' ') + ".";
    }

    /// <inheritdoc />
    public string Epoch => Volatile.Read(ref _state).Epoch;

    /// <inheritdoc />
    public long HeadSeq => Volatile.Read(ref _head);

    /// <inheritdoc />
    /// <remarks>
    /// Unreachable while the connection is down (as a write would find it: writes fail fast then); otherwise the
    /// last append's fault, such as Redis at its maxmemory, until an append or a probe goes through.
    /// </remarks>
    public Problems.SwitchboardException? CurrentFault => _redis.Multiplexer.IsConnected
        ? _faults.Current
        : Problems.StoreProblems.Unavailable("The hub's Redis store cannot be reached (not connected). Retry shortly; a publish with the same Idempotency-Key is safe to repeat.");

    /// <summary>
    /// The readiness probe of a faulted Redis (at most once per <see cref="StoreFaultState.ProbeInterval"/>): one small
    /// key written with a short expiry, which Redis at its maxmemory refuses as it refuses an append.
    /// </summary>
    private async Task<Problems.SwitchboardException?> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _redis.Database.StringSetAsync(_redis.Key("health-probe"), _time.GetUtcNow().ToUnixTimeMilliseconds(), TimeSpan.FromSeconds(10)).WaitAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            return RedisStoreFaults.Fault(ex);
        }
    }

    /// <inheritdoc />
    public SubscriptionIndex Subscriptions { get; } = new();

    /// <summary>
    /// Asks Redis for the head: a cursor handed out by another node may be ahead of what this node has heard of yet.
    /// Blocking, but only taken when a client's cursor is ahead of this node, which is rare and short.
    /// </summary>
    public long RefreshHeadSeq()
    {
        try
        {
            var state = Volatile.Read(ref _state);
            var head = HeadInfo.From(_redis.Database.ScriptEvaluate(RedisScripts.Head, [_meta], [Cursor.NewEpoch(), state.Epoch, HeadSeq]));
            Adopt(head, null);
            if (head.Epoch == state.Epoch)
            {
                // Everything up to Redis' seq is committed, so readers may have it now; the follower fills the ring.
                Advance(head.Seq);
                _poke.Release();
            }
        }
        catch (RedisException ex)
        {
            LogFollowFailed(_logger, ex);
        }

        return HeadSeq;
    }

    /// <inheritdoc />
    public async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        var state = Volatile.Read(ref _state);
        if (FindGap(state, filter, afterSeq) is { } gap)
        {
            return new LogReadResult([], afterSeq, gap);
        }

        var head = HeadSeq;
        if (afterSeq >= head)
        {
            return new LogReadResult([], afterSeq);
        }

        if (state.Ring.TryRead(filter, afterSeq, head, limit, out var fromMemory))
        {
            return fromMemory;
        }

        try
        {
            return await ReadFromRedisAsync(state, filter, afterSeq, head, limit).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            throw Unavailable(ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<EventRecord?> ReadEventAsync(long seq, CancellationToken cancellationToken = default)
    {
        var state = Volatile.Read(ref _state);
        if (seq < 1 || seq > HeadSeq || seq <= state.Base)
        {
            return null;
        }

        // The ring keeps events retention already removed from Redis; never hand those out. Where the trim point is a
        // retired region's, which may cover events of a topic published to again that are still kept, Redis decides.
        if (state.Ring.Find(seq) is { } cached && seq > state.Topics.TrimmedThrough(cached.Topic))
        {
            return cached;
        }

        var id = StreamId(seq);
        var entries = await _redis.Database.StreamRangeAsync(_log, id, id).WaitAsync(cancellationToken).ConfigureAwait(false);
        return entries.Length == 0 ? null : ToRecord(state.Epoch, entries[0]);
    }

    /// <inheritdoc />
    public long EarliestAfterSeq(TopicFilter filter)
    {
        var state = Volatile.Read(ref _state);
        return Math.Max(state.Base, state.Topics.MaxTrimmed(filter));
    }

    /// <inheritdoc />
    public async ValueTask<long> AfterSeqForLastAsync(TopicFilter filter, int count, CancellationToken cancellationToken = default)
    {
        var head = HeadSeq;
        var earliest = EarliestAfterSeq(filter);
        if (count <= 0)
        {
            return head;
        }

        var database = _redis.Database;
        if (filter.ExactTopics is { } exact)
        {
            var newest = new List<long>();
            foreach (var topic in exact)
            {
                var found = (RedisResult[])(await database.ExecuteAsync("ZREVRANGEBYSCORE", TopicIndex(topic), head, "-inf", "LIMIT", 0, count).WaitAsync(cancellationToken).ConfigureAwait(false))!;
                newest.AddRange(found.Select(r => (long)r));
            }

            newest.Sort();
            return newest.Count >= count ? Math.Max(newest[^count] - 1, earliest) : earliest;
        }

        // Wildcards scan backwards from the head, bounded: a room's history is its recent past.
        var scanLimit = Math.Max(_options.MaxScanRows, count) * 4;
        var entries = await database.StreamRangeAsync(_log, "-", StreamId(head), scanLimit, Order.Descending).WaitAsync(cancellationToken).ConfigureAwait(false);
        var matched = 0;
        long lastScanned = head;
        foreach (var entry in entries)
        {
            lastScanned = SeqOf(entry.Id);
            if (filter.Matches((string)entry["t"]!) && ++matched == count)
            {
                return Math.Max(lastScanned - 1, earliest);
            }
        }

        return entries.Length < scanLimit ? earliest : Math.Max(lastScanned - 1, earliest);
    }

    /// <inheritdoc />
    public async Task<TrimResult> TrimAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var database = _redis.Database;
        var state = Volatile.Read(ref _state);
        var head = HeadSeq;
        var cutoffs = new Dictionary<TimeSpan, long>();
        long deleted = 0;
        if (!_emptiedSwept)
        {
            await RetireEmptiedAsync(database, state, policy, cancellationToken).ConfigureAwait(false);
        }

        if (_retention is not null && SameCountLimits(_retention, policy))
        {
            // Appends already hold every topic to these count limits, so only age has work: a walk over the log's
            // old entries, not over every topic the hub has seen.
            deleted = await TrimByAgeAsync(database, state, policy, now, head, cutoffs, cancellationToken).ConfigureAwait(false);
            return new TrimResult(deleted, await ExpireKeysAsync(database, now).ConfigureAwait(false));
        }

        await foreach (var entry in database.HashScanAsync(_topicsKey, pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var topic = (string)entry.Name!;
            var rule = policy.RuleFor(topic);
            var index = TopicIndex(topic);
            long through = 0;
            if (rule.MaxEventsPerTopic is { } keep)
            {
                var older = await database.SortedSetRangeByRankAsync(index, keep, keep, Order.Descending).ConfigureAwait(false);
                through = older.Length == 0 ? 0 : (long)older[0];
            }

            if (rule.MaxAge is { } maxAge)
            {
                if (!cutoffs.TryGetValue(maxAge, out var cutoff))
                {
                    cutoff = (long)await database.ScriptEvaluateAsync(RedisScripts.NewestBefore, [_log], [(now - maxAge).ToUnixTimeMilliseconds(), head]).ConfigureAwait(false);
                    cutoffs[maxAge] = cutoff;
                }

                if (cutoff > through)
                {
                    var found = (RedisResult[])(await database.ExecuteAsync("ZREVRANGEBYSCORE", index, cutoff, "-inf", "LIMIT", 0, 1).ConfigureAwait(false))!;
                    through = Math.Max(through, found.Length == 0 ? 0 : (long)found[0]);
                }
            }

            // Every seq still indexed is past the topic's own trim point, so a bound found there always removes something.
            // (Not compared with TrimmedThrough: a retired region's point may cover events a topic published to again keeps.)
            if (through == 0)
            {
                continue;
            }

            deleted += await TrimTopicAsync(database, state, policy, topic, index, through).ConfigureAwait(false);
        }

        return new TrimResult(deleted, await ExpireKeysAsync(database, now).ConfigureAwait(false));
    }

    /// <summary>
    /// Once per hub: retires the listed topics whose index is gone, which a version that did not retire topics left
    /// behind (it kept every emptied topic listed with its trim point). A walk over the list, then marked done in meta.
    /// </summary>
    private async Task RetireEmptiedAsync(IDatabase database, EpochState state, RetentionPolicy policy, CancellationToken cancellationToken)
    {
        if (await database.HashExistsAsync(_meta, EmptiedSweptField).ConfigureAwait(false))
        {
            _emptiedSwept = true;
            return;
        }

        var page = new List<string>(1000);
        await foreach (var entry in database.HashScanAsync(_topicsKey, pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            page.Add((string)entry.Name!);
            if (page.Count == 1000)
            {
                await RetireEmptiedAsync(database, state, policy, page).ConfigureAwait(false);
                page.Clear();
            }
        }

        if (page.Count > 0)
        {
            await RetireEmptiedAsync(database, state, policy, page).ConfigureAwait(false);
        }

        await database.HashSetAsync(_meta, EmptiedSweptField, 1).ConfigureAwait(false);
        _emptiedSwept = true;
    }

    private async Task RetireEmptiedAsync(IDatabase database, EpochState state, RetentionPolicy policy, List<string> topics)
    {
        var keys = new RedisKey[4 + topics.Count];
        var args = new RedisValue[3 + (2 * topics.Count)];
        keys[0] = _meta;
        keys[1] = _trimmed;
        keys[2] = _topicsKey;
        keys[3] = _retired;
        args[0] = _channel.ToString();
        args[1] = state.Epoch;
        args[2] = TopicRegistry.MaxRetiredRegions;
        for (var i = 0; i < topics.Count; i++)
        {
            keys[4 + i] = TopicIndex(topics[i]);
            args[3 + (2 * i)] = topics[i];
            args[4 + (2 * i)] = state.Topics.RetiredRegion(topics[i], policy.Prefixes[policy.RuleIndexFor(topics[i])]);
        }

        var retired = (RedisResult[])(await database.ScriptEvaluateAsync(RedisScripts.RetireEmptied, keys, args).ConfigureAwait(false))!;
        for (var i = 0; i + 2 < retired.Length; i += 3)
        {
            var through = (long)retired[i + 2];
            state.Topics.Retired((string)retired[i]!, (string)retired[i + 1]!, through);
            NoteMaxTrimmed(state, through);
        }
    }

    /// <summary>The meta field that says <see cref="RetireEmptiedAsync(IDatabase, EpochState, RetentionPolicy, CancellationToken)"/> ran for this hub.</summary>
    private const string EmptiedSweptField = "emptiedRetired";

    /// <summary>Topics this node keeps trim points for: those trimmed and not yet emptied (retired topics leave).</summary>
    internal int KnownTopics => Volatile.Read(ref _state).Topics.Count;

    /// <summary>Topics examined by age passes that walk the log (<see cref="TrimByAgeAsync"/>); retention's cost, which tests bound.</summary>
    internal long AgeTrimTopicsExamined => Interlocked.Read(ref _ageTrimTopicsExamined);

    private static bool SameCountLimits(RetentionPolicy configured, RetentionPolicy pass) =>
        configured.Prefixes.SequenceEqual(pass.Prefixes)
        && configured.Rules.Select(r => r.MaxEventsPerTopic).SequenceEqual(pass.Rules.Select(r => r.MaxEventsPerTopic));

    /// <summary>
    /// Age retention from the log itself: the entries up to the newest cutoff, a page at a time, name the topics that
    /// hold events older than their rule allows. Events a longer rule keeps are walked again each pass; the rest is
    /// work in proportion to what is removed.
    /// </summary>
    private async Task<long> TrimByAgeAsync(IDatabase database, EpochState state, RetentionPolicy policy, DateTimeOffset now, long head,
        Dictionary<TimeSpan, long> cutoffs, CancellationToken cancellationToken)
    {
        foreach (var rule in policy.Rules)
        {
            if (rule.MaxAge is { } age && !cutoffs.ContainsKey(age))
            {
                cutoffs[age] = (long)await database.ScriptEvaluateAsync(RedisScripts.NewestBefore, [_log], [(now - age).ToUnixTimeMilliseconds(), head]).ConfigureAwait(false);
            }
        }

        var last = cutoffs.Count == 0 ? 0 : cutoffs.Values.Max();
        long deleted = 0;
        var start = "-";
        while (last > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = (RedisResult[])(await database.ScriptEvaluateAsync(RedisScripts.TopicsInRange, [_log], [start, last, TrimBatch]).ConfigureAwait(false))!;
            var through = new Dictionary<string, long>(StringComparer.Ordinal);
            for (var i = 0; i + 1 < page.Length; i += 2)
            {
                var seq = (long)page[i];
                var topic = (string)page[i + 1]!;
                if (policy.RuleFor(topic).MaxAge is { } age && seq <= cutoffs[age] && seq > through.GetValueOrDefault(topic))
                {
                    through[topic] = seq;
                }
            }

            Interlocked.Add(ref _ageTrimTopicsExamined, through.Count);
            foreach (var (topic, upTo) in through)
            {
                deleted += await TrimTopicAsync(database, state, policy, topic, TopicIndex(topic), upTo).ConfigureAwait(false);
            }

            if (page.Length < 2 * TrimBatch)
            {
                break;
            }

            start = "(" + (long)page[^2] + "-0";
        }

        return deleted;
    }

    /// <summary>
    /// Trims one topic through <paramref name="through"/>; one it empties is retired into its region (the rule's prefix,
    /// else its first segment), so that neither Redis nor any node keeps state for every topic ever published to.
    /// </summary>
    private async Task<long> TrimTopicAsync(IDatabase database, EpochState state, RetentionPolicy policy, string topic, RedisKey index, long through)
    {
        var region = state.Topics.RetiredRegion(topic, policy.Prefixes[policy.RuleIndexFor(topic)]);
        long deleted = 0;
        while (true)
        {
            var reply = (RedisResult[])(await database.ScriptEvaluateAsync(RedisScripts.TrimTopic,
                [_meta, _log, index, _trimmed, _topicsKey, _retired],
                [topic, through, _channel.ToString(), state.Epoch, TrimBatch, region, TopicRegistry.MaxRetiredRegions]).ConfigureAwait(false))!;
            deleted += (long)reply[0];
            if (reply.Length > 2)
            {
                // Retired, into the region the script settled on (the catch-all once Redis holds the most regions).
                state.Topics.Retired(topic, (string)reply[2]!, through);
                NoteMaxTrimmed(state, through);
                return deleted;
            }

            if ((long)reply[1] == 1)
            {
                break;
            }
        }

        state.Topics.Trimmed(topic, through);
        NoteMaxTrimmed(state, through);
        return deleted;
    }

    private async Task<long> ExpireKeysAsync(IDatabase database, DateTimeOffset now)
    {
        long keysDeleted = 0;
        while (true)
        {
            var expired = (long)await database.ScriptEvaluateAsync(RedisScripts.ExpireKeys, [_keyExpiry], [now.ToUnixTimeMilliseconds()]).ConfigureAwait(false);
            keysDeleted += expired;
            if (expired < TrimBatch)
            {
                return keysDeleted;
            }
        }
    }

    /// <summary>When set, disposing the log also closes its connection (a log opened on its own, as tests do).</summary>
    internal bool OwnsConnection { get; init; }

    /// <summary>Stops following the log. The connection belongs to whoever created it, unless <see cref="OwnsConnection"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopCommitterAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _subscription.UnsubscribeAsync().ConfigureAwait(false);
        }
        catch (RedisException)
        {
            // Redis is away; the subscription dies with the connection anyway.
        }

        await _follower.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
        if (OwnsConnection)
        {
            await _redis.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Subscribes, waiting up to the operation timeout for the connection: the multiplexer does not wait for its first
    /// connections (AbortOnConnectFail is off so a node can start during an outage), and the subscription one can come last.
    /// </summary>
    private static ChannelMessageQueue SubscribeWhenConnected(RedisConnection redis, RedisChannel channel)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                return redis.Multiplexer.GetSubscriber().Subscribe(channel);
            }
            catch (RedisConnectionException) when (System.Diagnostics.Stopwatch.GetElapsedTime(started) < redis.Options.OperationTimeout)
            {
                Thread.Sleep(50);
            }
        }
    }

    internal RedisKey TopicIndex(string topic) => _redis.Key("topic:" + topic);

    private static SwitchboardException Unavailable(RedisException ex) => RedisStoreFaults.Unavailable(ex);

    private static string StreamId(long seq) => seq.ToString(CultureInfo.InvariantCulture) + "-0";

    private static long SeqOf(RedisValue id)
    {
        var text = (string)id!;
        return long.Parse(text.AsSpan(0, text.IndexOf('-', StringComparison.Ordinal)), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    private static EventRecord ToRecord(string epoch, StreamEntry entry) => new(
        epoch,
        SeqOf(entry.Id),
        (string)entry["t"]!,
        (string)entry["y"]!,
        DateTimeOffset.FromUnixTimeMilliseconds((long)entry["m"]),
        (byte[])entry["d"]!);

    private static EventRecord ToRecord(string epoch, RedisResult entry)
    {
        var parts = (RedisResult[])entry!;
        var fields = (RedisResult[])parts[1]!;
        string topic = "", type = "";
        long time = 0;
        byte[] data = [];
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            switch ((string)fields[i]!)
            {
                case "t": topic = (string)fields[i + 1]!; break;
                case "y": type = (string)fields[i + 1]!; break;
                case "m": time = (long)fields[i + 1]; break;
                case "d": data = (byte[])fields[i + 1]!; break;
            }
        }

        return new EventRecord(epoch, SeqOf((RedisValue)parts[0]), topic, type, DateTimeOffset.FromUnixTimeMilliseconds(time), data);
    }

    private static LogGap? FindGap(EpochState state, TopicFilter filter, long afterSeq)
    {
        // Positions before the epoch's base belong to history Redis lost: the reader restarts at the base.
        if (afterSeq < state.Base)
        {
            return new LogGap(Math.Max(state.Base, state.Topics.MaxTrimmed(filter)), HistoryLost: true);
        }

        return state.Topics.FindGap(filter, afterSeq);
    }

    private async Task<LogReadResult> ReadFromRedisAsync(EpochState state, TopicFilter filter, long afterSeq, long head, int limit)
    {
        var database = _redis.Database;
        var found = new List<EventRecord>();
        long next;
        long maxTrimmed, trims;
        string epoch;
        if (filter.ExactTopics is { } exact)
        {
            // Exact topics read through their indexes, never scanning other topics' events.
            var keys = new RedisKey[2 + exact.Count];
            keys[0] = _meta;
            keys[1] = _log;
            for (var i = 0; i < exact.Count; i++)
            {
                keys[2 + i] = TopicIndex(exact[i]);
            }

            var reply = (RedisResult[])(await database.ScriptEvaluateAsync(RedisScripts.ReadTopics, keys, [afterSeq, head, limit]).ConfigureAwait(false))!;
            for (var i = 0; i < reply.Length - 3; i++)
            {
                found.Add(ToRecord(state.Epoch, reply[i]));
            }

            (maxTrimmed, trims, epoch) = ((long)reply[^3], (long)reply[^2], (string)reply[^1]!);
            next = found.Count == limit ? found[^1].Seq : head;
        }
        else
        {
            var scanLimit = Math.Max(_options.MaxScanRows, limit);
            // Sent in order on one connection: the trim markers and the epoch are read after the entries, so a racing
            // trim, or Redis losing its history, is seen.
            var entriesTask = database.StreamRangeAsync(_log, StreamId(afterSeq + 1), StreamId(head), scanLimit);
            var metaTask = database.HashGetAsync(_meta, MetaAfterRead);
            var entries = await entriesTask.ConfigureAwait(false);
            var meta = await metaTask.ConfigureAwait(false);
            (maxTrimmed, trims, epoch) = ((long?)meta[0] ?? 0, (long?)meta[1] ?? 0, (string?)meta[2] ?? "");
            next = entries.Length < scanLimit ? head : SeqOf(entries[^1].Id);
            foreach (var entry in entries)
            {
                var topic = (string)entry["t"]!;
                if (!filter.Matches(topic))
                {
                    continue;
                }

                found.Add(ToRecord(state.Epoch, entry));
                if (found.Count == limit)
                {
                    next = found[^1].Seq;
                    break;
                }
            }
        }

        if (epoch != state.Epoch)
        {
            // Redis lost its history under this read (wiped, or restored from an older file): what it returned is not
            // the log this reader was in. Adopt the new epoch now; a position before its base is a gap, and any other
            // position is held where it was rather than moved past events that were never read.
            await RefreshAsync().ConfigureAwait(false);
            var current = Volatile.Read(ref _state);
            return FindGap(current, filter, afterSeq) is { } lost ? new LogReadResult([], afterSeq, lost) : new LogReadResult([], afterSeq);
        }

        if (maxTrimmed > state.KnownMaxTrimmed || trims > Volatile.Read(ref state.KnownTrims))
        {
            // Another node trimmed and its notification has not arrived yet (or was lost): learn the trim points now.
            Learn(state, await LoadTrimPointsAsync(database).ConfigureAwait(false));
            NoteMaxTrimmed(state, maxTrimmed);
            NoteTrims(state, trims);
        }

        if (FindGap(state, filter, afterSeq) is { } gap)
        {
            return new LogReadResult([], afterSeq, gap);
        }

        return new LogReadResult(found, next);
    }

    /// <summary>The meta fields a read from Redis takes after its entries: maxTrimmed, the trim count and the epoch.</summary>
    private static readonly RedisValue[] MetaAfterRead = ["maxTrimmed", "trims", "epoch"];

    private static void NoteMaxTrimmed(EpochState state, long value)
    {
        var current = Volatile.Read(ref state.KnownMaxTrimmed);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref state.KnownMaxTrimmed, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>
    /// Counts a trim notice in: notices come in the order Redis counted them, so one numbered past the next expected
    /// means some were lost (a dropped subscription) and the trim points are reloaded, whatever their seqs.
    /// </summary>
    private void HeardTrims(EpochState state, long trims)
    {
        var current = Volatile.Read(ref state.KnownTrims);
        while (trims > current)
        {
            if (trims != current + 1)
            {
                Interlocked.Exchange(ref state.ReloadWanted, 1);
                Interlocked.Exchange(ref _refreshWanted, 1);
                _poke.Release();
                return;
            }

            var seen = Interlocked.CompareExchange(ref state.KnownTrims, trims, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Notes that this node's trim points hold every trim Redis had counted up to <paramref name="trims"/> (read before they were loaded).</summary>
    private static void NoteTrims(EpochState state, long trims)
    {
        var current = Volatile.Read(ref state.KnownTrims);
        while (trims > current)
        {
            var seen = Interlocked.CompareExchange(ref state.KnownTrims, trims, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>
    /// Whether the head poll must reload the trim points: a notice was found missing, or Redis counted trims at the
    /// previous poll that no notice has brought since (a whole poll interval later, so not merely still on its way).
    /// </summary>
    private static bool TrimsMissed(EpochState state, long trims)
    {
        var previous = Interlocked.Exchange(ref state.PolledTrims, trims);
        return Interlocked.Exchange(ref state.ReloadWanted, 0) == 1 || Math.Min(previous, trims) > Volatile.Read(ref state.KnownTrims);
    }

    /// <summary>
    /// The trim points Redis keeps: per topic, then per region of retired topics. Sent in order on one connection, so
    /// a retirement between the two reads, which moves a topic from the first to the second, is seen in the second.
    /// </summary>
    private async Task<TrimPoints> LoadTrimPointsAsync(IDatabase database)
    {
        var topics = database.HashGetAllAsync(_trimmed);
        var regions = database.HashGetAllAsync(_retired);
        return new TrimPoints(await topics.ConfigureAwait(false), await regions.ConfigureAwait(false));
    }

    /// <summary>Raises this node's trim points to those Redis keeps, and forgets topics retired since it last looked.</summary>
    private static void Learn(EpochState state, TrimPoints points)
    {
        foreach (var entry in points.Regions)
        {
            state.Topics.LoadRetired((string)entry.Name!, (long)entry.Value);
        }

        foreach (var entry in points.Topics)
        {
            state.Topics.Trimmed((string)entry.Name!, (long)entry.Value);
        }

        // Topics this node heard trimmed and that were retired while it was not listening (a lost notification).
        state.Topics.ForgetCovered();
    }

    private void OnNotification(ChannelMessage message)
    {
        var text = (string)message.Message!;
        var parts = text.Split('|', 4);
        var state = Volatile.Read(ref _state);
        if (parts.Length < 3 || parts[1] != state.Epoch)
        {
            // Another epoch: Redis lost its history, or this node is behind. The follower sorts it out.
            Interlocked.Exchange(ref _refreshWanted, 1);
            _poke.Release();
            return;
        }

        var seq = long.Parse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture);
        if (parts[0] == "a")
        {
            // This node's own batches are in the ring and the head already when their notification comes back: no wake.
            if (seq <= HeadSeq)
            {
                return;
            }

            RaiseTarget(seq);
            // While this node's own call is out, the notification is most likely for it; fetching now would read back
            // what the reply brings. The commit loop looks at the target when the reply is in (see CommitAsync).
            if (Volatile.Read(ref _committing) == 0)
            {
                _poke.Release();
            }
        }
        else if (parts[0] == "t" && text.Split('|', 5) is [_, _, _, var trims, var trimmedTopic])
        {
            state.Topics.Trimmed(trimmedTopic, seq);
            NoteMaxTrimmed(state, seq);
            HeardTrims(state, long.Parse(trims, NumberStyles.None, CultureInfo.InvariantCulture));
        }
        else if (parts[0] == "r" && text.Split('|', 6) is [_, _, _, var count, var region, var topic])
        {
            // Topics have no '|', and a region is a topic prefix or empty: the split is unambiguous.
            state.Topics.Retired(topic, region, seq);
            NoteMaxTrimmed(state, seq);
            HeardTrims(state, long.Parse(count, NumberStyles.None, CultureInfo.InvariantCulture));
        }
    }

    private void RaiseTarget(long seq)
    {
        var current = Volatile.Read(ref _target);
        while (seq > current)
        {
            var seen = Interlocked.CompareExchange(ref _target, seq, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>
    /// Follows the log's tail: woken by notifications (and by a poll, for lost ones), it fetches what is new once for
    /// the whole node into the ring, then moves the head and wakes this node's readers.
    /// </summary>
    private async Task FollowAsync()
    {
        var token = _stopping.Token;
        var failing = false;
        var polled = _time.GetTimestamp();
        while (!token.IsCancellationRequested)
        {
            try
            {
                var poked = await _poke.WaitAsync(_options.HeadPollInterval, token).ConfigureAwait(false);
                // Also by time while notices keep waking the loop: they bring the head, but not a trim notice that
                // was lost, which only the poll's trim count shows.
                if (!poked || Interlocked.Exchange(ref _refreshWanted, 0) == 1 || _time.GetElapsedTime(polled) >= _options.HeadPollInterval)
                {
                    await RefreshAsync().ConfigureAwait(false);
                    polled = _time.GetTimestamp();
                }

                await CatchUpAsync(token).ConfigureAwait(false);
                if (failing)
                {
                    failing = false;
                    LogFollowResumed(_logger, HeadSeq);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (!failing)
                {
                    failing = true;
                    LogFollowFailed(_logger, ex);
                }

                // Redis is away: pokes keep coming (readers ask for a refresh), and without a pause this loop would spin
                // on failing calls. Try again after the poll interval.
                try
                {
                    await Task.Delay(_options.HeadPollInterval, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task RefreshAsync()
    {
        var state = Volatile.Read(ref _state);
        var head = HeadInfo.From(await _redis.Database.ScriptEvaluateAsync(RedisScripts.Head, [_meta], [Cursor.NewEpoch(), state.Epoch, HeadSeq]).ConfigureAwait(false));
        TrimPoints? trimmed = null;
        var missed = TrimsMissed(state, head.Trims);
        if (head.Epoch != state.Epoch || head.MaxTrimmed > state.KnownMaxTrimmed || missed)
        {
            trimmed = await LoadTrimPointsAsync(_redis.Database).ConfigureAwait(false);
        }

        Adopt(head, trimmed);
    }

    /// <summary>Takes the head Redis reported; a different epoch replaces everything this node knew.</summary>
    private void Adopt(HeadInfo head, TrimPoints? trimmed)
    {
        var state = Volatile.Read(ref _state);
        if (head.Epoch != state.Epoch)
        {
            var fresh = new EpochState(head.Epoch, head.Base, new RecentEventsRing(_options.TailCacheSize, head.Seq, _options.TailCacheBytes), new TopicRegistry());
            if (trimmed is { } points)
            {
                foreach (var entry in points.Topics)
                {
                    fresh.Topics.Load((string)entry.Name!, 0, (long)entry.Value);
                }

                foreach (var entry in points.Regions)
                {
                    fresh.Topics.LoadRetired((string)entry.Name!, (long)entry.Value);
                }
            }

            if (trimmed is null)
            {
                // Adopted without its trim points (a cursor-ahead check): the next head poll loads them.
                fresh.ReloadWanted = 1;
            }
            else
            {
                fresh.KnownMaxTrimmed = head.MaxTrimmed;
                fresh.KnownTrims = head.Trims;
            }

            fresh.PolledTrims = head.Trims;
            lock (_gate)
            {
                var wasEmpty = state.Epoch.Length == 0;
                Volatile.Write(ref _state, fresh);
                Volatile.Write(ref _head, head.Seq);
                _fetched = head.Seq;
                Volatile.Write(ref _target, head.Seq);
                if (!wasEmpty)
                {
                    LogEpochChanged(_logger, state.Epoch, head.Epoch, head.Base);
                }
            }

            Subscriptions.NotifyAll(); // a new history: every reader must look
            return;
        }

        if (trimmed is { } learned)
        {
            Learn(state, learned);
            NoteMaxTrimmed(state, head.MaxTrimmed);
            NoteTrims(state, head.Trims);
        }

        RaiseTarget(head.Seq);
    }

    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var state = Volatile.Read(ref _state);
            long from;
            lock (_gate)
            {
                from = _fetched;
            }

            var target = Volatile.Read(ref _target);
            if (target <= from)
            {
                if (target > HeadSeq)
                {
                    Advance(target);
                }

                return;
            }

            var entries = await _redis.Database.StreamRangeAsync(_log, StreamId(from + 1), StreamId(target), _options.FollowBatchSize).ConfigureAwait(false);
            var reached = entries.Length < _options.FollowBatchSize ? target : SeqOf(entries[^1].Id);
            lock (_gate)
            {
                if (!ReferenceEquals(state, _state))
                {
                    continue; // the epoch changed under us: start over from the new head
                }

                foreach (var entry in entries)
                {
                    state.Ring.Add(ToRecord(state.Epoch, entry));
                }

                _fetched = Math.Max(_fetched, reached);
            }

            Advance(reached);
        }
    }

    /// <summary>Wakes the readers matching the events in (<paramref name="from"/>, <paramref name="to"/>]; all of them when the ring lacks some.</summary>
    private void NotifyRange(long from, long to)
    {
        const int MaxMatched = 4096;
        var ring = Volatile.Read(ref _state).Ring;
        if (to - from > MaxMatched)
        {
            Subscriptions.NotifyAll();
            return;
        }

        var records = new List<EventRecord>((int)(to - from));
        for (var seq = from + 1; seq <= to; seq++)
        {
            if (ring.Find(seq) is not { } record)
            {
                Subscriptions.NotifyAll();
                return;
            }

            records.Add(record);
        }

        Subscriptions.Notify(records);
    }

    /// <summary>Moves the head forward (never back) and wakes the readers its new events match.</summary>
    private void Advance(long seq)
    {
        var current = Volatile.Read(ref _head);
        while (seq > current)
        {
            var seen = Interlocked.CompareExchange(ref _head, seq, current);
            if (seen == current)
            {
                NotifyRange(current, seq);
                return;
            }

            current = seen;
        }
    }

    private static byte[] EncodeDrafts(IReadOnlyList<EventDraft> events)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var draft in events)
            {
                writer.WriteStartObject();
                writer.WriteString("t"u8, draft.Topic);
                writer.WriteString("y"u8, draft.Type);
                writer.WritePropertyName("d"u8);
                writer.WriteRawValue(draft.Data.Span, skipInputValidation: true);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static EventRecord[] DecodeDrafts(string epoch, long first, DateTimeOffset time, byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Select((e, i) => new EventRecord(
            epoch,
            first + i,
            e.GetProperty("t").GetString()!,
            e.GetProperty("y").GetString()!,
            time,
            Encoding.UTF8.GetBytes(e.GetProperty("d").GetRawText())))];
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Redis event log opened at {Configuration} (epoch {Epoch}, head seq {Head})")]
    private static partial void LogOpened(ILogger logger, string configuration, string epoch, long head);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Redis append failed; the publisher was answered 503 ({Suppressed} more failed appends not logged since the last)")]
    private static partial void LogAppendFailed(ILogger logger, int suppressed, Exception exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Redis refused one append of a batch ({Message}); the others committed ({Suppressed} more refusals not logged since the last)")]
    private static partial void LogAppendRefused(ILogger logger, string message, int suppressed);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Following the Redis log failed; live readers on this node wait until Redis answers again")]
    private static partial void LogFollowFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Following the Redis log again (head seq {Head})")]
    private static partial void LogFollowResumed(ILogger logger, long head);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Redis lost the log's history: epoch {Old} is replaced by {New} (seqs continue after {Base}); readers are told to reset")]
    private static partial void LogEpochChanged(ILogger logger, string old, string @new, long @base);

    /// <summary>What this node knows of one epoch; replaced whole when the epoch changes.</summary>
    private sealed class EpochState(string epoch, long @base, RecentEventsRing ring, TopicRegistry topics)
    {
        public string Epoch { get; } = epoch;

        /// <summary>The seq the epoch started after; positions before it belong to lost history.</summary>
        public long Base { get; } = @base;

        public RecentEventsRing Ring { get; } = ring;

        public TopicRegistry Topics { get; } = topics;

        public long KnownMaxTrimmed;

        /// <summary>Redis' trim count (meta <c>trims</c>) this node's trim points are known to include.</summary>
        public long KnownTrims;

        /// <summary>The trim count the last head poll saw.</summary>
        public long PolledTrims;

        /// <summary>1 when a lost trim notice was found: the next head poll reloads the trim points.</summary>
        public int ReloadWanted;
    }

    /// <summary>The trim points Redis keeps: <c>{prefix}trimmed</c> (per topic) and <c>{prefix}retired</c> (per region).</summary>
    private readonly record struct TrimPoints(HashEntry[] Topics, HashEntry[] Regions);

    private readonly record struct HeadInfo(string Epoch, long Seq, long Base, long MaxTrimmed, long Trims)
    {
        public static HeadInfo From(RedisResult result)
        {
            var parts = (RedisResult[])result!;
            return new HeadInfo((string)parts[0]!, (long)parts[1], (long)parts[2], (long)parts[3], (long)parts[4]);
        }
    }
}
