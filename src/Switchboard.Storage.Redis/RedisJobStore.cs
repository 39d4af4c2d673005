using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;
using Switchboard.Jobs;

namespace Switchboard.Storage.Redis;

/// <summary>
/// Jobs in Redis, shared by every node. A job is a hash (its JSON, version and lease id); sorted sets list the
/// unfinished jobs by creation and the finished ones by last update. A batch of changes is one Lua script that checks
/// every <see cref="JobSaved.Expected"/> before writing anything, which is what makes a claim atomic across nodes:
/// of two nodes starting the same queued job, the second finds the version moved and gets a conflict.
/// </summary>
/// <param name="redis">The connection.</param>
/// <param name="log">
/// The hub's log in the same Redis: a change with events is then one script call with their append
/// (<see cref="IJobStoreWithEvents"/>), so a job is never stored without the event that announces it.
/// </param>
public sealed class RedisJobStore(RedisConnection redis, RedisEventLog? log = null) : IJobStore, IJobStoreWithEvents
{
    // ARGV: as RedisScripts.JobFunctions takes them from 1. KEYS: unfinished, finished (the keys the functions write).
    private const string ApplyScript = RedisScripts.JobFunctions + """
        -- First every precondition, so a batch applies all or none.
        local refused = job_check(1)
        if refused then return {'conflict', refused} end
        job_apply(1)
        return {'ok'}
        """;

    private const string DeleteFinishedScript = """
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
        for i = 1, #ids do
          local key = ARGV[1] .. 'job:' .. ids[i]
          local index = redis.call('HGET', key, 'key')
          if index and index ~= '' then redis.call('DEL', ARGV[1] .. 'job-key:' .. index) end
          redis.call('DEL', key)
          redis.call('ZREM', KEYS[1], ids[i])
        end
        return #ids
        """;

    private readonly RedisEventLog? _log = log;
    private readonly RedisKey _unfinished = redis.Key("jobs:unfinished");
    private readonly RedisKey _finished = redis.Key("jobs:finished");

    /// <inheritdoc />
    public bool IsShared => true;

    /// <inheritdoc />
    public async Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default)
    {
        var ids = await redis.Database.SortedSetRangeByRankAsync(_unfinished).WaitAsync(cancellationToken).ConfigureAwait(false);
        var jobs = await Task.WhenAll(ids.Select(id => GetAsync((string)id!, cancellationToken))).ConfigureAwait(false);
        // Oldest first; equal creation times keep a stable order by id.
        return [.. jobs.OfType<Job>().Where(j => !j.IsFinished).OrderBy(j => j.CreatedAt).ThenBy(j => j.Id, StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    public async Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var json = await redis.Database.HashGetAsync(redis.Key("job:" + id), "json").WaitAsync(cancellationToken).ConfigureAwait(false);
        return json.IsNull ? null : JsonSerializer.Deserialize((byte[])json!, RedisJsonContext.Default.Job);
    }

    /// <inheritdoc />
    public async Task<Job?> FindByIdempotencyKeyAsync(string key, CancellationToken cancellationToken = default)
    {
        var id = await redis.Database.StringGetAsync(redis.Key("job-key:" + key)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return id.IsNull ? null : await GetAsync((string)id!, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task ApplyAsync(IReadOnlyList<JobChange> changes, CancellationToken cancellationToken = default)
    {
        var reply = redis.Database.ScriptEvaluateAsync(ApplyScript, [_unfinished, _finished], [.. Arguments(changes)]).WaitAsync(cancellationToken);
        var result = (RedisResult[])(await reply.ConfigureAwait(false))!;
        if ((string)result[0]! == "conflict")
        {
            throw new JobConflictException((string)result[1]!);
        }
    }

    /// <inheritdoc />
    public bool CommitsWith(Switchboard.Log.IEventLog log) => log is not null && ReferenceEquals(log, _log);

    /// <inheritdoc />
    /// <remarks>
    /// The changes ride in the log's group commit as a state write of their append: checked before the events take
    /// seqs, written with them. A full Redis refuses both (store-full), and another node's move first refuses both
    /// with <see cref="JobConflictException"/>.
    /// </remarks>
    public Task<Switchboard.Log.AppendResult> ApplyAndAppendAsync(IReadOnlyList<JobChange> changes, IReadOnlyList<Switchboard.Events.EventDraft> events,
        CancellationToken cancellationToken = default)
    {
        if (_log is null)
        {
            throw new InvalidOperationException("This job store was made without the hub's log.");
        }

        return _log.AppendWithStateAsync(events, new RedisStateWrite("job", [.. Arguments(changes)], static id => new JobConflictException(id)), cancellationToken);
    }

    private List<RedisValue> Arguments(IReadOnlyList<JobChange> changes)
    {
        var args = new List<RedisValue> { redis.Options.KeyPrefix, changes.Count };
        foreach (var change in changes)
        {
            switch (change)
            {
                case JobSaved saved:
                    var job = saved.Job;
                    var expected = saved.Expected;
                    args.AddRange([
                        "s", job.Id, JsonSerializer.SerializeToUtf8Bytes(job, RedisJsonContext.Default.Job), job.Version, job.Lease?.Id ?? "",
                        job.IdempotencyKey ?? "", expected is null ? "" : expected.MustNotExist ? "new" : "same",
                        expected?.Version ?? 0, expected?.LeaseId ?? "", job.IsFinished ? "1" : "0",
                        (job.IsFinished ? job.UpdatedAt : job.CreatedAt).ToUnixTimeMilliseconds()]);
                    break;
                case JobDeleted deleted:
                    args.AddRange(["d", deleted.JobId, "", 0, "", "", "", 0, "", "0", 0]);
                    break;
                default:
                    throw new ArgumentException($"Unknown change {change.GetType().Name}.", nameof(changes));
            }
        }

        return args;
    }

    /// <inheritdoc />
    public async Task<int> DeleteFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default) =>
        (int)await redis.Database.ScriptEvaluateAsync(DeleteFinishedScript, [_finished], [redis.Options.KeyPrefix, before.ToUnixTimeMilliseconds(), limit])
            .WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

[JsonSerializable(typeof(Job))]
[JsonSerializable(typeof(StoredKey))]
[JsonSerializable(typeof(Switchboard.Webhooks.WebhookEndpoint))]
[JsonSerializable(typeof(Switchboard.Webhooks.WebhookProgress))]
[JsonSerializable(typeof(Switchboard.Webhooks.WebhookDelivery))]
[JsonSerializable(typeof(Switchboard.Webhooks.WebhookAttempt))]
internal sealed partial class RedisJsonContext : JsonSerializerContext;
