using System.Globalization;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Redis;

/// <summary>
/// Webhook state in Redis, so a node that takes over webhook delivery loads what the previous one wrote. Keys:
/// <c>wh:endpoints</c> (hash, id to the endpoint's JSON; its progress there is ignored), <c>wh:progress</c> (hash, id
/// to the progress JSON, apart so a configuration save never moves it), <c>wh:pending:{id}</c> and
/// <c>wh:failed:{id}</c> (hashes, seq to the delivery JSON), <c>wh:attempts:{id}</c> (list, newest first, each entry
/// the attempt id, a colon and the attempt JSON) and <c>wh:attempt-id</c> (the counter behind attempt ids).
/// A batch of changes is one Lua script, so no other client sees half of it, and a change for an endpoint that does
/// not exist (any more) is ignored, as in the other stores.
/// </summary>
public sealed class RedisWebhookStore(RedisConnection redis) : IWebhookStore
{
    // KEYS: endpoints, progress, attempt id counter. ARGV: prefix, count, then per change 4 values:
    // kind (e|x|p|d|r|a), endpoint id, then two values that depend on the kind:
    // e: endpoint JSON, progress JSON; p: progress JSON, unused; d: seq, delivery JSON with its status in the kind
    // (d for pending, f for failed); r: seq, unused; a: attempt JSON, unused; x: unused, unused.
    private const string ApplyScript = """
        local prefix = ARGV[1]
        local n = tonumber(ARGV[2])
        local assigned = {}
        for i = 0, n - 1 do
          local at = 3 + i * 4
          local kind = ARGV[at]
          local id = ARGV[at + 1]
          local pending = prefix .. 'wh:pending:' .. id
          local failed = prefix .. 'wh:failed:' .. id
          local attempts = prefix .. 'wh:attempts:' .. id
          if kind == 'a' then assigned[#assigned + 1] = 0 end
          if kind == 'e' then
            redis.call('HSET', KEYS[1], id, ARGV[at + 2])
            redis.call('HSETNX', KEYS[2], id, ARGV[at + 3])
          elseif kind == 'x' then
            redis.call('HDEL', KEYS[1], id)
            redis.call('HDEL', KEYS[2], id)
            redis.call('DEL', pending, failed, attempts)
          elseif kind == 'r' then
            redis.call('HDEL', pending, ARGV[at + 2])
            redis.call('HDEL', failed, ARGV[at + 2])
          elseif redis.call('HEXISTS', KEYS[1], id) == 1 then
            if kind == 'p' then
              redis.call('HSET', KEYS[2], id, ARGV[at + 2])
            elseif kind == 'd' then
              redis.call('HSET', pending, ARGV[at + 2], ARGV[at + 3])
              redis.call('HDEL', failed, ARGV[at + 2])
            elseif kind == 'f' then
              redis.call('HSET', failed, ARGV[at + 2], ARGV[at + 3])
              redis.call('HDEL', pending, ARGV[at + 2])
            elseif kind == 'a' then
              local attempt = redis.call('INCR', KEYS[3])
              redis.call('LPUSH', attempts, attempt .. ':' .. ARGV[at + 2])
              assigned[#assigned] = attempt
            end
          end
        end
        -- The ids given to the attempts, in order (0 for one whose endpoint was gone).
        return assigned
        """;

    // KEYS: endpoints, progress. ARGV: prefix. Per endpoint: id, endpoint JSON, progress JSON (or ''), the number of
    // pending deliveries, then their JSON; read in one script so the snapshot is consistent.
    private const string LoadScript = """
        local ids = redis.call('HKEYS', KEYS[1])
        local out = {}
        for i = 1, #ids do
          local id = ids[i]
          local pending = redis.call('HVALS', ARGV[1] .. 'wh:pending:' .. id)
          out[#out + 1] = id
          out[#out + 1] = redis.call('HGET', KEYS[1], id)
          out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
          out[#out + 1] = #pending
          for j = 1, #pending do out[#out + 1] = pending[j] end
        end
        return out
        """;

    // KEYS: endpoints. ARGV: prefix, how many attempts to keep per endpoint.
    private const string TrimScript = """
        local ids = redis.call('HKEYS', KEYS[1])
        local keep = tonumber(ARGV[2])
        for i = 1, #ids do
          local key = ARGV[1] .. 'wh:attempts:' .. ids[i]
          if keep > 0 then redis.call('LTRIM', key, 0, keep - 1) else redis.call('DEL', key) end
        end
        return #ids
        """;

    private readonly WebhookSecretProtection _protection = RedisKeyRing.Protection(redis);
    private readonly RedisKey _endpoints = redis.Key("wh:endpoints");
    private readonly RedisKey _progress = redis.Key("wh:progress");
    private readonly RedisKey _attemptId = redis.Key("wh:attempt-id");

    /// <inheritdoc />
    public async Task<WebhookSnapshot> LoadAsync(CancellationToken cancellationToken = default)
    {
        var reply = await redis.Database.ScriptEvaluateAsync(LoadScript, [_endpoints, _progress], [redis.Options.KeyPrefix])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        var values = (RedisResult[])reply!;
        var endpoints = new List<WebhookEndpoint>();
        var clearText = new List<WebhookEndpoint>();
        var pending = new List<WebhookDelivery>();
        for (var i = 0; i < values.Length;)
        {
            i++; // the id, which is also in the JSON
            var stored = JsonSerializer.Deserialize((byte[])values[i++]!, RedisJsonContext.Default.WebhookEndpoint)!;
            var endpoint = stored with
            {
                Url = _protection.Unprotect(stored.Url),
                Secret = _protection.Unprotect(stored.Secret),
                PreviousSecret = _protection.UnprotectOptional(stored.PreviousSecret),
            };
            if (!WebhookSecretProtection.IsProtected(stored.Secret) || !WebhookSecretProtection.IsProtected(stored.PreviousSecret) || WebhookSecretProtection.UrlNeedsProtection(stored.Url))
            {
                clearText.Add(endpoint);
            }
            var progress = (byte[])values[i++]!;
            if (progress.Length > 0)
            {
                endpoint = endpoint with { Progress = JsonSerializer.Deserialize(progress, RedisJsonContext.Default.WebhookProgress)! };
            }

            endpoints.Add(endpoint);
            var count = (int)values[i++];
            for (var j = 0; j < count; j++)
            {
                pending.Add(JsonSerializer.Deserialize((byte[])values[i++]!, RedisJsonContext.Default.WebhookDelivery)!);
            }
        }

        if (clearText.Count > 0)
        {
            // Written in clear by an older version: store them encrypted (progress, kept apart, is untouched).
            await ApplyAsync([.. clearText.Select(e => new WebhookEndpointSaved(e))], cancellationToken).ConfigureAwait(false);
        }

        return new WebhookSnapshot(
            [.. endpoints.OrderBy(e => e.CreatedAt).ThenBy(e => e.Id, StringComparer.Ordinal)],
            [.. pending.OrderBy(d => d.EndpointId, StringComparer.Ordinal).ThenBy(d => d.Seq)]);
    }

    /// <inheritdoc />
    public async Task ApplyAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default)
    {
        if (changes.Count == 0)
        {
            return;
        }

        try
        {
            await ApplyCoreAsync(changes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisStoreFaults.OutOfMemory(ex) is { } refused)
        {
            // The journal refuses the API's changes at once on a full store (507) and keeps retrying deliveries' state;
            // any other failure it retries, holding the request, which for a Redis that stays full is for ever.
            throw new Switchboard.Log.StoreFullException($"Redis is at its maxmemory limit and refused the webhook change: {refused.Message}", ex);
        }
    }

    private async Task ApplyCoreAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken)
    {
        var args = new List<RedisValue>(2 + changes.Count * 4) { redis.Options.KeyPrefix, changes.Count };
        foreach (var change in changes)
        {
            switch (change)
            {
                case WebhookEndpointSaved { Endpoint: var e }:
                    var protectedEndpoint = e with
                    {
                        Url = _protection.ProtectUrl(e.Url),
                        Secret = _protection.Protect(e.Secret),
                        PreviousSecret = _protection.ProtectOptional(e.PreviousSecret),
                    };
                    args.AddRange(["e", e.Id, JsonSerializer.SerializeToUtf8Bytes(protectedEndpoint, RedisJsonContext.Default.WebhookEndpoint),
                        JsonSerializer.SerializeToUtf8Bytes(e.Progress, RedisJsonContext.Default.WebhookProgress)]);
                    break;
                case WebhookEndpointDeleted { EndpointId: var id }:
                    args.AddRange(["x", id, "", ""]);
                    break;
                case WebhookProgressSaved { EndpointId: var id, Progress: var progress }:
                    args.AddRange(["p", id, JsonSerializer.SerializeToUtf8Bytes(progress, RedisJsonContext.Default.WebhookProgress), ""]);
                    break;
                case WebhookDeliverySaved { Delivery: var d }:
                    args.AddRange([d.Status == WebhookDeliveryStatus.Failed ? "f" : "d", d.EndpointId, d.Seq,
                        JsonSerializer.SerializeToUtf8Bytes(d, RedisJsonContext.Default.WebhookDelivery)]);
                    break;
                case WebhookDeliveryRemoved { EndpointId: var id, Seq: var seq }:
                    args.AddRange(["r", id, seq, ""]);
                    break;
                case WebhookAttemptAdded { Attempt: var a }:
                    args.AddRange(["a", a.EndpointId, JsonSerializer.SerializeToUtf8Bytes(a with { Id = 0 }, RedisJsonContext.Default.WebhookAttempt), ""]);
                    break;
                default:
                    throw new ArgumentException($"Unknown change {change.GetType().Name}.", nameof(changes));
            }
        }

        var assigned = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(ApplyScript, [_endpoints, _progress, _attemptId], [.. args])
            .WaitAsync(cancellationToken).ConfigureAwait(false))!;
        var next = 0;
        foreach (var added in changes.OfType<WebhookAttemptAdded>())
        {
            added.AssignedId = (long)assigned[next++];
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WebhookAttempt>> ReadAttemptsAsync(string endpointId, bool? succeeded, int limit, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
        {
            return [];
        }

        // Unfiltered, the newest `limit` entries are the answer; filtered, the list is read whole (it is kept short by trimming).
        var entries = await redis.Database.ListRangeAsync(redis.Key("wh:attempts:" + endpointId), 0, succeeded is null ? limit - 1 : -1)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<WebhookAttempt>(Math.Min(limit, entries.Length));
        foreach (var entry in entries)
        {
            var attempt = ParseAttempt((byte[])entry!);
            if (succeeded is null || attempt.Succeeded == succeeded)
            {
                result.Add(attempt);
                if (result.Count == limit)
                {
                    break;
                }
            }
        }

        return result;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WebhookDelivery>> ReadFailedAsync(string endpointId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default)
    {
        var values = await redis.Database.HashValuesAsync(redis.Key("wh:failed:" + endpointId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. values.Select(v => JsonSerializer.Deserialize((byte[])v!, RedisJsonContext.Default.WebhookDelivery)!)
            .Where(d => d.UpdatedAt >= since).OrderBy(d => d.Seq).Take(limit)];
    }

    /// <inheritdoc />
    public Task TrimAttemptsAsync(int keepPerEndpoint, CancellationToken cancellationToken = default) =>
        redis.Database.ScriptEvaluateAsync(TrimScript, [_endpoints], [redis.Options.KeyPrefix, Math.Max(0, keepPerEndpoint)])
            .WaitAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static WebhookAttempt ParseAttempt(byte[] entry)
    {
        var colon = Array.IndexOf(entry, (byte)':');
        var id = long.Parse(Encoding.ASCII.GetString(entry, 0, colon), NumberStyles.None, CultureInfo.InvariantCulture);
        var attempt = JsonSerializer.Deserialize(entry.AsSpan(colon + 1), RedisJsonContext.Default.WebhookAttempt)!;
        return attempt with { Id = id };
    }
}
