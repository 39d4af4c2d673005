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
public sealed class RedisJobStore(RedisConnection redis) : IJobStore
{
    // KEYS: unfinished, finished. ARGV: prefix, count, then per change 11 values:
    // kind (s|d), id, json, version, lease id, idempotency key, expectation (''|new|same), expected version,
    // expected lease id, finished (0|1), score (created ms while unfinished, updated ms once finished).
    private const string ApplyScript = """
        local prefix = ARGV[1]
        local n = tonumber(ARGV[2])
        local function job_key(id) return prefix .. 'job:' .. id end
        local function index_key(key) return prefix .. 'job-key:' .. key end
        -- First every precondition, so a batch applies all or none.
        for i = 0, n - 1 do
          local at = 3 + i * 11
          if ARGV[at] == 's' and ARGV[at + 6] ~= '' then
            local id = ARGV[at + 1]
            local current = redis.call('HMGET', job_key(id), 'version', 'lease')
            if ARGV[at + 6] == 'new' then
              if current[1] then return {'conflict', id} end
              local key = ARGV[at + 5]
              if key ~= '' then
                local owner = redis.call('GET', index_key(key))
                if owner and owner ~= id then return {'conflict', id} end
              end
            elseif current[1] ~= ARGV[at + 7] or (current[2] or '') ~= ARGV[at + 8] then
              return {'conflict', id}
            end
          end
        end
        for i = 0, n - 1 do
          local at = 3 + i * 11
          local id = ARGV[at + 1]
          local key = job_key(id)
          if ARGV[at] == 's' then
            redis.call('HSET', key, 'json', ARGV[at + 2], 'version', ARGV[at + 3], 'lease', ARGV[at + 4], 'key', ARGV[at + 5])
            if ARGV[at + 5] ~= '' then redis.call('SET', index_key(ARGV[at + 5]), id) end
            if ARGV[at + 9] == '1' then
              redis.call('ZREM', KEYS[1], id)
              redis.call('ZADD', KEYS[2], ARGV[at + 10], id)
            else
              redis.call('ZADD', KEYS[1], ARGV[at + 10], id)
              redis.call('ZREM', KEYS[2], id)
            end
          else
            local old_key = redis.call('HGET', key, 'key')
            if old_key and old_key ~= '' then redis.call('DEL', index_key(old_key)) end
            redis.call('DEL', key)
            redis.call('ZREM', KEYS[1], id)
            redis.call('ZREM', KEYS[2], id)
          end
        end
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

        var reply = redis.Database.ScriptEvaluateAsync(ApplyScript, [_unfinished, _finished], [.. args]).WaitAsync(cancellationToken);
        var result = (RedisResult[])(await reply.ConfigureAwait(false))!;
        if ((string)result[0]! == "conflict")
        {
            throw new JobConflictException((string)result[1]!);
        }
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
