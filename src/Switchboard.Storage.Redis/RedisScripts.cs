namespace Switchboard.Storage.Redis;

/// <summary>
/// The server-side scripts. Each runs atomically in Redis, which is what makes several nodes safe: the seq counter,
/// the stream entry, the topic index, retention and the idempotency key change together or not at all.
/// Stream entry ids are <c>{seq}-0</c>, so a seq is also a stream position.
/// </summary>
internal static class RedisScripts
{
    // Shared prelude: reads the epoch, or starts a new one when Redis lost its history. KEYS[1] is the meta hash.
    // A node that has seen seq N of an epoch and finds Redis behind N (restored from an older AOF/RDB) or empty (wiped)
    // starts a new epoch numbered after N, so no seq is ever reused for a different event under one epoch.
    private const string EpochPrelude = """
        local function current_epoch(candidate, expected, node_head)
          local m = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
          local epoch = m[1]
          local seq = tonumber(m[2] or '0')
          if (not epoch) or (epoch == expected and seq < node_head) then
            epoch = candidate
            redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', string.format('%d', node_head), 'base', string.format('%d', node_head))
          end
          return epoch
        end
        local function note_trim(channel, epoch, topic, through)
          redis.call('HSET', KEYS[4], topic, string.format('%d', through))
          local max_trimmed = tonumber(redis.call('HGET', KEYS[1], 'maxTrimmed') or '0')
          if through > max_trimmed then
            redis.call('HSET', KEYS[1], 'maxTrimmed', string.format('%d', through))
          end
          redis.call('PUBLISH', channel, 't|' .. epoch .. '|' .. string.format('%d', through) .. '|' .. topic)
        end

        """;

    /// <summary>
    /// KEYS: meta, log, topics, trimmed, idempotency key, idempotency expiry set, then one topic index per event.
    /// ARGV: candidate epoch, expected epoch, node head, time ms, has key (0/1), request hash, key expiry ms, drafts blob,
    /// channel, count, then per event: topic, type, data, keep (0 = no count limit).
    /// Returns {epoch, 'appended', first seq, time, then topic and trimmed-through pairs} | {epoch, 'replayed', first seq, time, drafts blob} | {epoch, 'conflict'}.
    /// </summary>
    public const string Append = EpochPrelude + """
        local epoch = current_epoch(ARGV[1], ARGV[2], tonumber(ARGV[3]))
        if ARGV[5] == '1' then
          local stored = redis.call('HMGET', KEYS[5], 'hash', 'first', 'time', 'drafts', 'epoch')
          if stored[1] and stored[5] == epoch then
            if stored[1] == ARGV[6] then
              return {epoch, 'replayed', stored[2], stored[3], stored[4]}
            end
            return {epoch, 'conflict'}
          end
        end
        local n = tonumber(ARGV[10])
        local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
        local first = last - n + 1
        local trims = {}
        for i = 1, n do
          local at = 11 + (i - 1) * 4
          local seq = first + i - 1
          local topic = ARGV[at]
          local index = KEYS[6 + i]
          local member = string.format('%d', seq)
          redis.call('XADD', KEYS[2], member .. '-0', 't', topic, 'y', ARGV[at + 1], 'm', ARGV[4], 'd', ARGV[at + 2])
          redis.call('ZADD', index, seq, member)
          redis.call('HSET', KEYS[3], topic, member)
          -- Retention by count happens right here, so a hot topic never outgrows its limit between trims.
          local keep = tonumber(ARGV[at + 3])
          if keep > 0 then
            local excess = redis.call('ZCARD', index) - keep
            if excess > 0 then
              local removed = redis.call('ZPOPMIN', index, excess)
              local through = 0
              for j = 1, #removed, 2 do
                redis.call('XDEL', KEYS[2], removed[j] .. '-0')
                through = tonumber(removed[j])
              end
              note_trim(ARGV[9], epoch, topic, through)
              trims[#trims + 1] = topic
              trims[#trims + 1] = string.format('%d', through)
            end
          end
        end
        if ARGV[5] == '1' then
          redis.call('HSET', KEYS[5], 'hash', ARGV[6], 'first', string.format('%d', first), 'time', ARGV[4], 'drafts', ARGV[8], 'epoch', epoch)
          redis.call('ZADD', KEYS[6], ARGV[7], KEYS[5])
        end
        redis.call('PUBLISH', ARGV[9], 'a|' .. epoch .. '|' .. string.format('%d', last))
        local reply = {epoch, 'appended', string.format('%d', first), ARGV[4]}
        for i = 1, #trims do reply[#reply + 1] = trims[i] end
        return reply
        """;

    /// <summary>
    /// KEYS: meta. ARGV: candidate epoch, expected epoch, node head.
    /// Returns {epoch, seq, base, maxTrimmed}: what a node needs to follow the log.
    /// </summary>
    public const string Head = EpochPrelude + """
        local epoch = current_epoch(ARGV[1], ARGV[2], tonumber(ARGV[3]))
        local m = redis.call('HMGET', KEYS[1], 'seq', 'base', 'maxTrimmed')
        return {epoch, m[1] or '0', m[2] or '0', m[3] or '0'}
        """;

    /// <summary>
    /// KEYS: meta, log, one index per exact topic. ARGV: after, head, limit.
    /// Merges the topics' indexes in seq order and returns the entries, then the hub's maxTrimmed read last,
    /// so a trim that raced the read is always seen by the caller.
    /// </summary>
    public const string ReadTopics = """
        local limit = tonumber(ARGV[3])
        local seqs = {}
        for i = 3, #KEYS do
          local found = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. ARGV[1], ARGV[2], 'LIMIT', 0, limit)
          for j = 1, #found do seqs[#seqs + 1] = tonumber(found[j]) end
        end
        table.sort(seqs)
        local out = {}
        local previous = -1
        for i = 1, #seqs do
          if #out >= limit then break end
          local seq = seqs[i]
          if seq ~= previous then
            previous = seq
            local id = string.format('%d-0', seq)
            local entry = redis.call('XRANGE', KEYS[2], id, id)
            if #entry > 0 then out[#out + 1] = entry[1] end
          end
        end
        out[#out + 1] = redis.call('HGET', KEYS[1], 'maxTrimmed') or '0'
        return out
        """;

    /// <summary>
    /// KEYS: meta, log, topic index, trimmed. ARGV: topic, through, channel, epoch, batch.
    /// Removes the topic's events up to <c>through</c>, at most <c>batch</c> per call; returns {removed, done}.
    /// </summary>
    public const string TrimTopic = EpochPrelude + """
        local through = tonumber(ARGV[2])
        local current = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
        if through <= current then return {0, 1} end
        local seqs = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[5]))
        for i = 1, #seqs do redis.call('XDEL', KEYS[2], seqs[i] .. '-0') end
        local done = #seqs < tonumber(ARGV[5])
        local marked = through
        if not done then marked = tonumber(seqs[#seqs]) end
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%d', marked))
        if marked > current then note_trim(ARGV[3], ARGV[4], ARGV[1], marked) end
        if done then return {#seqs, 1} end
        return {#seqs, 0}
        """;

    /// <summary>
    /// KEYS: log. ARGV: cutoff ms, head. The newest seq whose event is older than the cutoff (0 when none), by binary
    /// search over the stream: events are appended in time order, so age retention needs no scan.
    /// </summary>
    public const string NewestBefore = """
        local cutoff = tonumber(ARGV[1])
        local low, high, best = 1, tonumber(ARGV[2]), 0
        while low <= high do
          local mid = math.floor((low + high) / 2)
          local entry = redis.call('XRANGE', KEYS[1], string.format('%d-0', mid), '+', 'COUNT', 1)
          if #entry == 0 then
            high = mid - 1
          else
            local seq = tonumber(string.match(entry[1][1], '^(%d+)'))
            local fields = entry[1][2]
            local time = 0
            for j = 1, #fields, 2 do
              if fields[j] == 'm' then time = tonumber(fields[j + 1]) end
            end
            if time < cutoff then
              best = seq
              low = seq + 1
            else
              high = mid - 1
            end
          end
        end
        return best
        """;

    /// <summary>KEYS: expiry set. ARGV: now ms. Deletes idempotency keys that expired; returns how many.</summary>
    public const string ExpireKeys = """
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 10000)
        for i = 1, #expired do
          redis.call('DEL', expired[i])
          redis.call('ZREM', KEYS[1], expired[i])
        end
        return #expired
        """;
}
