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
    // Every trim point and retirement counts one in meta's 'trims' and its notice carries that count: a node that
    // finds the count past what it heard (a notice lost to a dropped subscription) reloads the trim points, since a
    // lost point below maxTrimmed would otherwise never be learnt.
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
          local trims = redis.call('HINCRBY', KEYS[1], 'trims', 1)
          redis.call('PUBLISH', channel, 't|' .. epoch .. '|' .. string.format('%d', through) .. '|' .. string.format('%d', trims) .. '|' .. topic)
        end

        """;

    /// <summary>
    /// The job changes of <see cref="RedisJobStore"/>, as functions the job script and the group commit share. ARGV
    /// from <c>at</c>: prefix, change count, then per change 11 values: kind (s|d), id, json, version, lease id,
    /// idempotency key, expectation (''|new|same), expected version, expected lease id, finished (0|1), score
    /// (created ms while unfinished, updated ms once finished). <c>job_check</c> only reads: it returns the id of the
    /// first job whose stored state is not the expected one, or nil; <c>job_apply</c> writes every change.
    /// </summary>
    public const string JobFunctions = """
        local function job_check(at)
          local prefix = ARGV[at]
          for i = 0, tonumber(ARGV[at + 1]) - 1 do
            local c = at + 2 + i * 11
            if ARGV[c] == 's' and ARGV[c + 6] ~= '' then
              local id = ARGV[c + 1]
              local current = redis.call('HMGET', prefix .. 'job:' .. id, 'version', 'lease')
              if ARGV[c + 6] == 'new' then
                if current[1] then return id end
                local key = ARGV[c + 5]
                if key ~= '' then
                  local owner = redis.call('GET', prefix .. 'job-key:' .. key)
                  if owner and owner ~= id then return id end
                end
              elseif current[1] ~= ARGV[c + 7] or (current[2] or '') ~= ARGV[c + 8] then
                return id
              end
            end
          end
          return nil
        end
        local function job_apply(at)
          local prefix = ARGV[at]
          local unfinished = prefix .. 'jobs:unfinished'
          local finished = prefix .. 'jobs:finished'
          for i = 0, tonumber(ARGV[at + 1]) - 1 do
            local c = at + 2 + i * 11
            local id = ARGV[c + 1]
            local key = prefix .. 'job:' .. id
            if ARGV[c] == 's' then
              redis.call('HSET', key, 'json', ARGV[c + 2], 'version', ARGV[c + 3], 'lease', ARGV[c + 4], 'key', ARGV[c + 5])
              if ARGV[c + 5] ~= '' then redis.call('SET', prefix .. 'job-key:' .. ARGV[c + 5], id) end
              if ARGV[c + 9] == '1' then
                redis.call('ZREM', unfinished, id)
                redis.call('ZADD', finished, ARGV[c + 10], id)
              else
                redis.call('ZADD', unfinished, ARGV[c + 10], id)
                redis.call('ZREM', finished, id)
              end
            else
              local old_key = redis.call('HGET', key, 'key')
              if old_key and old_key ~= '' then redis.call('DEL', prefix .. 'job-key:' .. old_key) end
              redis.call('DEL', key)
              redis.call('ZREM', unfinished, id)
              redis.call('ZREM', finished, id)
            end
          end
        end

        """;

    /// <summary>
    /// The config save of <see cref="RedisConfigStore"/>, as functions the save script and the group commit share.
    /// ARGV from <c>at</c>: prefix, app, version, member, keep. <c>config_check</c> only reads: it returns the app
    /// when the version is not the next one, else nil; <c>config_apply</c> stores it and trims the app's history.
    /// </summary>
    public const string ConfigFunctions = """
        local function config_check(at)
          local newest = redis.call('ZREVRANGE', ARGV[at] .. 'config:app:' .. ARGV[at + 1], 0, 0, 'WITHSCORES')
          local current = 0
          if #newest > 0 then current = tonumber(newest[2]) end
          if tonumber(ARGV[at + 2]) ~= current + 1 then return ARGV[at + 1] end
          return nil
        end
        local function config_apply(at)
          local versions = ARGV[at] .. 'config:app:' .. ARGV[at + 1]
          redis.call('ZADD', versions, ARGV[at + 2], ARGV[at + 3])
          redis.call('ZREMRANGEBYRANK', versions, 0, -(tonumber(ARGV[at + 4]) + 1))
          redis.call('SADD', ARGV[at] .. 'config:apps', ARGV[at + 1])
        end

        """;

    /// <summary>
    /// The group commit: the publish requests waiting on a node at one moment, appended in one call. The epoch is
    /// checked once, then each request runs in order under <c>pcall</c>, so a request that fails (a key of the wrong
    /// type) is undone and fails alone while the others commit. Requests run one after another inside the atomic
    /// script, so an idempotency key repeated within one batch replays or conflicts exactly as across batches.
    /// After the requests, each topic the batch touched gets its newest seq and its count retention once: a topic may
    /// run over its limit by a 64th before it is cut back to the limit in one step, so a hot topic at its limit costs
    /// one trim per many events rather than one per event.
    /// KEYS: meta, log, topics, trimmed, idempotency expiry set, then per request its idempotency key (only when it has
    /// one) followed by one topic index per event.
    /// ARGV: candidate epoch, expected epoch, node head, time ms, channel, request count, then per request:
    /// has key (0/1), request hash, key expiry ms, drafts blob, event count, then per event: topic, type, data, keep
    /// (0 = no count limit), then its state write: kind ('' | job | config), argument count, the arguments (as
    /// <see cref="JobFunctions"/> and <see cref="ConfigFunctions"/> take them).
    /// A request with a state write is a store's change and the events announcing it: its check runs before anything
    /// of the request is written, and its writes follow the events inside the same <c>pcall</c>, so the change and its
    /// events commit together or not at all. Redis decides a refusal for memory when the script starts and applies it
    /// to its first write only, so a full Redis refuses the whole request, never half of it.
    /// Returns {epoch, time ms, {topic and trimmed-through pairs}, then per request one of: {'appended', first seq} |
    /// {'replayed', first seq, time ms, drafts blob} | {'conflict'} | {'refused', what the state check named} |
    /// {'failed', message}}.
    /// One notification of the new head goes out for the whole batch.
    /// </summary>
    public const string AppendBatch = EpochPrelude + JobFunctions + ConfigFunctions + """
        local epoch = current_epoch(ARGV[1], ARGV[2], tonumber(ARGV[3]))
        local time = ARGV[4]
        local channel = ARGV[5]
        local requests = tonumber(ARGV[6])
        local touched = {}
        local order = {}

        local function state_check(kind, at)
          if kind == 'job' then return job_check(at) end
          if kind == 'config' then return config_check(at) end
          error('unknown state write ' .. kind)
        end
        local function state_apply(kind, at)
          if kind == 'job' then job_apply(at) else config_apply(at) end
        end

        local function append_one(a, k, has_key, undo)
          local key = nil
          if has_key then
            key = KEYS[k]
            k = k + 1
            local stored = redis.call('HMGET', key, 'hash', 'first', 'time', 'drafts', 'epoch')
            if stored[1] and stored[5] == epoch then
              if stored[1] == ARGV[a + 1] then
                return {'replayed', stored[2], stored[3], stored[4]}
              end
              return {'conflict'}
            end
          end
          local n = tonumber(ARGV[a + 4])
          local state = a + 5 + n * 4
          local kind = ARGV[state]
          if kind ~= '' then
            local refused = state_check(kind, state + 2)
            if refused then return {'refused', refused} end
          end
          local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
          local first = last - n + 1
          undo.first = first
          local at = a + 5
          for i = 1, n do
            local member = string.format('%d', first + i - 1)
            local index = KEYS[k + i - 1]
            redis.call('XADD', KEYS[2], member .. '-0', 't', ARGV[at], 'y', ARGV[at + 1], 'm', time, 'd', ARGV[at + 2])
            undo[#undo + 1] = member
            redis.call('ZADD', index, first + i - 1, member)
            undo[#undo + 1] = index
            at = at + 4
          end
          if key then
            undo.key = key
            redis.call('HSET', key, 'hash', ARGV[a + 1], 'first', string.format('%d', first), 'time', time, 'drafts', ARGV[a + 3], 'epoch', epoch)
            redis.call('ZADD', KEYS[5], ARGV[a + 2], key)
          end
          -- After the events, so the undo below covers them should a state write fail (only a key of the wrong type can).
          if kind ~= '' then state_apply(kind, state + 2) end
          -- Only a request that committed marks its topics for the epilogue.
          at = a + 5
          for i = 1, n do
            local topic = ARGV[at]
            local entry = touched[topic]
            if not entry then
              entry = {index = KEYS[k + i - 1], keep = tonumber(ARGV[at + 3])}
              touched[topic] = entry
              order[#order + 1] = topic
            end
            entry.last = first + i - 1
            at = at + 4
          end
          return {'appended', string.format('%d', first)}
        end

        local replies = {epoch, time, {}}
        local a = 7
        local k = 6
        local head = nil
        for r = 1, requests do
          local has_key = ARGV[a] == '1'
          local n = tonumber(ARGV[a + 4])
          local undo = {}
          local ok, reply = pcall(append_one, a, k, has_key, undo)
          if ok then
            if reply[1] == 'appended' then head = tonumber(reply[2]) + n - 1 end
          else
            -- Undo this request only: its entries, its index members, its key, and the seqs it took.
            for i = 1, #undo, 2 do
              redis.pcall('XDEL', KEYS[2], undo[i] .. '-0')
              if undo[i + 1] then redis.pcall('ZREM', undo[i + 1], undo[i]) end
            end
            if undo.key then redis.pcall('DEL', undo.key) end
            if undo.first then
              -- The stream remembers its last id even after XDEL; set it back so the next request can take these seqs.
              redis.pcall('HSET', KEYS[1], 'seq', string.format('%d', undo.first - 1))
              if #undo > 0 then redis.pcall('XSETID', KEYS[2], string.format('%d-0', undo.first - 1)) end
            end
            local message = reply
            if type(reply) == 'table' then message = reply.err or 'script error' end
            reply = {'failed', tostring(message)}
          end
          replies[#replies + 1] = reply
          a = a + 5 + n * 4
          a = a + 2 + tonumber(ARGV[a + 1])
          k = k + n
          if has_key then k = k + 1 end
        end

        local trims = replies[3]
        for _, topic in ipairs(order) do
          local entry = touched[topic]
          redis.call('HSET', KEYS[3], topic, string.format('%d', entry.last))
          if entry.keep > 0 then
            local excess = redis.call('ZCARD', entry.index) - entry.keep
            if excess > math.floor(entry.keep / 64) then
              local removed = redis.call('ZPOPMIN', entry.index, excess)
              local ids = {}
              for j = 1, #removed, 2 do
                ids[#ids + 1] = removed[j] .. '-0'
                if #ids == 500 then
                  redis.call('XDEL', KEYS[2], unpack(ids))
                  ids = {}
                end
              end
              if #ids > 0 then redis.call('XDEL', KEYS[2], unpack(ids)) end
              local through = tonumber(removed[#removed - 1])
              note_trim(channel, epoch, topic, through)
              trims[#trims + 1] = topic
              trims[#trims + 1] = string.format('%d', through)
            end
          end
        end
        if head then
          redis.call('PUBLISH', channel, 'a|' .. epoch .. '|' .. string.format('%d', head))
        end
        return replies
        """;

    /// <summary>
    /// KEYS: meta. ARGV: candidate epoch, expected epoch, node head.
    /// Returns {epoch, seq, base, maxTrimmed, trims}: what a node needs to follow the log.
    /// </summary>
    public const string Head = EpochPrelude + """
        local epoch = current_epoch(ARGV[1], ARGV[2], tonumber(ARGV[3]))
        local m = redis.call('HMGET', KEYS[1], 'seq', 'base', 'maxTrimmed', 'trims')
        return {epoch, m[1] or '0', m[2] or '0', m[3] or '0', m[4] or '0'}
        """;

    /// <summary>
    /// KEYS: meta, log, one index per exact topic. ARGV: after, head, limit.
    /// Merges the topics' indexes in seq order and returns the entries, then the hub's maxTrimmed, trim count and
    /// epoch read last, so a trim that raced the read, or Redis losing its history under it, is always seen by the caller.
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
        local m = redis.call('HMGET', KEYS[1], 'maxTrimmed', 'trims', 'epoch')
        out[#out + 1] = m[1] or '0'
        out[#out + 1] = m[2] or '0'
        out[#out + 1] = m[3] or ''
        return out
        """;

    // Retires a topic whose index is gone: it leaves the topic list and the trim points, and its point raises its
    // region's in the retired hash ('', covering every topic, once the hash holds the region limit and not this
    // region). Counts one in meta's 'trims', publishes r|epoch|point|trims|region|topic and returns the region it joined.
    private const string RetirePrelude = """
        local function retire(meta, trimmed, topics, retired, channel, epoch, topic, through, region, limit)
          if redis.call('HEXISTS', retired, region) == 0 and redis.call('HLEN', retired) >= limit then region = '' end
          local point = tonumber(redis.call('HGET', retired, region) or '0')
          if through > point then redis.call('HSET', retired, region, string.format('%d', through)) end
          redis.call('HDEL', trimmed, topic)
          redis.call('HDEL', topics, topic)
          local max_trimmed = tonumber(redis.call('HGET', meta, 'maxTrimmed') or '0')
          if through > max_trimmed then redis.call('HSET', meta, 'maxTrimmed', string.format('%d', through)) end
          local trims = redis.call('HINCRBY', meta, 'trims', 1)
          redis.call('PUBLISH', channel, 'r|' .. epoch .. '|' .. string.format('%d', through) .. '|' .. string.format('%d', trims) .. '|' .. region .. '|' .. topic)
          return region
        end

        """;

    /// <summary>
    /// KEYS: meta, log, topic index, trimmed, topics, retired. ARGV: topic, through, channel, epoch, batch, region, region limit.
    /// Removes the topic's events up to <c>through</c>, at most <c>batch</c> per call. When that empties the topic it is
    /// retired: it leaves the topic list and the trim points, and its point raises its region's in the retired hash
    /// (<c>''</c>, covering every topic, once the hash holds the region limit and not this region). In one script, so an
    /// append to the topic lands wholly before (its newer event keeps the topic) or after (it starts the topic again).
    /// Returns {removed, done, region when retired}.
    /// </summary>
    public const string TrimTopic = EpochPrelude + RetirePrelude + """
        local through = tonumber(ARGV[2])
        local current = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
        if through <= current then return {0, 1} end
        local seqs = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[5]))
        for i = 1, #seqs do redis.call('XDEL', KEYS[2], seqs[i] .. '-0') end
        local done = #seqs < tonumber(ARGV[5])
        local marked = through
        if not done then marked = tonumber(seqs[#seqs]) end
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%d', marked))
        if done and redis.call('EXISTS', KEYS[3]) == 0 then
          return {#seqs, 1, retire(KEYS[1], KEYS[4], KEYS[5], KEYS[6], ARGV[3], ARGV[4], ARGV[1], through, ARGV[6], tonumber(ARGV[7]))}
        end
        if marked > current then note_trim(ARGV[3], ARGV[4], ARGV[1], marked) end
        if done then return {#seqs, 1} end
        return {#seqs, 0}
        """;

    /// <summary>
    /// KEYS: meta, trimmed, topics, retired, then one index per topic. ARGV: channel, epoch, region limit, then per
    /// topic: topic, region. Retires the listed topics whose index is gone, at their trim point: what a store that did
    /// not retire topics left behind. Returns {topic, region, point, ...} for those retired.
    /// </summary>
    public const string RetireEmptied = RetirePrelude + """
        local out = {}
        for i = 5, #KEYS do
          local a = 4 + (i - 5) * 2
          local topic = ARGV[a]
          if redis.call('EXISTS', KEYS[i]) == 0 and redis.call('HEXISTS', KEYS[3], topic) == 1 then
            local through = tonumber(redis.call('HGET', KEYS[2], topic) or '0')
            out[#out + 1] = topic
            out[#out + 1] = retire(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], topic, through, ARGV[a + 1], tonumber(ARGV[3]))
            out[#out + 1] = string.format('%d', through)
          end
        end
        return out
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

    /// <summary>
    /// KEYS: log. ARGV: start (an XRANGE bound), last seq, count. The seq and topic of each entry in the range, flat
    /// ({seq, topic, seq, topic, ...}), without the payloads: what an age pass needs to know which topics hold old events.
    /// </summary>
    public const string TopicsInRange = """
        local entries = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[2] .. '-0', 'COUNT', tonumber(ARGV[3]))
        local out = {}
        for i = 1, #entries do
          local fields = entries[i][2]
          for j = 1, #fields, 2 do
            if fields[j] == 't' then
              out[#out + 1] = string.match(entries[i][1], '^(%d+)')
              out[#out + 1] = fields[j + 1]
              break
            end
          end
        end
        return out
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
