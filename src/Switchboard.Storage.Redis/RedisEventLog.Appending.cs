using System.Threading.Channels;
using StackExchange.Redis;
using Switchboard.Cursors;
using Switchboard.Events;
using Switchboard.Log;

namespace Switchboard.Storage.Redis;

/// <summary>
/// Group commit: publish requests queue on the node, and one loop sends whatever is waiting as one script call, with
/// at most one call in flight. While a call is out the next batch gathers, so under load many requests share one
/// round trip and one notification, and alone a request goes out at once.
/// </summary>
public sealed partial class RedisEventLog
{
    private Channel<PendingAppend> _appends = null!;
    private Task _committer = null!;
    private long _scriptCalls;
    private int _committing;

    /// <summary>Script calls the group commit has made: fewer than requests when requests shared calls.</summary>
    internal long AppendScriptCalls => Interlocked.Read(ref _scriptCalls);

    /// <summary>Requests queued for the next script call.</summary>
    internal int QueuedAppends => _appends.Reader.Count;

    private void StartCommitter()
    {
        // Bounded: when Redis is slower than the publishers, they wait here rather than queueing without limit.
        _appends = Channel.CreateBounded<PendingAppend>(new BoundedChannelOptions(_options.AppendBatchMaxRequests * 4)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _committer = Task.Run(CommitLoopAsync);
    }

    /// <inheritdoc />
    public Task<AppendResult> AppendAsync(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency = null, CancellationToken cancellationToken = default) =>
        events.Count == 0 ? Task.FromResult(new AppendResult(AppendOutcome.Appended, [])) : EnqueueAsync(new PendingAppend(events, idempotency, null, cancellationToken));

    /// <summary>
    /// Appends <paramref name="events"/> together with a store's change (a job's or a config version's) in the same
    /// group commit: the change is checked before the events take seqs and written with them, so both commit or
    /// neither does. A failed check throws what <see cref="RedisStateWrite.Refused"/> makes; a refusal by Redis
    /// (store-full, store-unavailable) throws as for a publish, and nothing of the change is stored.
    /// </summary>
    internal Task<AppendResult> AppendWithStateAsync(IReadOnlyList<EventDraft> events, RedisStateWrite state, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(events.Count);
        return EnqueueAsync(new PendingAppend(events, null, state, cancellationToken));
    }

    private async Task<AppendResult> EnqueueAsync(PendingAppend pending)
    {
        var cancellationToken = pending.Cancellation;
        try
        {
            await _appends.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(RedisEventLog));
        }

        // Once queued the request is committed or refused by the loop; cancelling stops the wait, and a request not yet
        // sent is dropped from its batch.
        return await pending.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CommitLoopAsync()
    {
        var reader = _appends.Reader;
        var batch = new List<PendingAppend>(_options.AppendBatchMaxRequests);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            long bytes = 0;
            while (batch.Count < _options.AppendBatchMaxRequests && reader.TryPeek(out var next))
            {
                if (batch.Count > 0 && bytes + next.Bytes > _options.AppendBatchMaxBytes)
                {
                    break;
                }

                reader.TryRead(out _);
                if (next.Cancellation.IsCancellationRequested)
                {
                    next.Completion.TrySetCanceled(next.Cancellation);
                    continue;
                }

                batch.Add(next);
                bytes += next.Bytes;
            }

            if (batch.Count > 0)
            {
                await CommitAsync(batch).ConfigureAwait(false);
            }
        }
    }

    private async Task CommitAsync(List<PendingAppend> batch)
    {
        Interlocked.Exchange(ref _committing, 1);
        try
        {
            await CommitCoreAsync(batch).ConfigureAwait(false);
        }
        finally
        {
            // Notifications that came meanwhile did not wake the follower; if one was for another node, wake it now.
            Interlocked.Exchange(ref _committing, 0);
            if (Volatile.Read(ref _target) > HeadSeq)
            {
                _poke.Release();
            }
        }
    }

    private async Task CommitCoreAsync(List<PendingAppend> batch)
    {
        try
        {
            var state = Volatile.Read(ref _state);
            var time = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var (keys, args) = BuildBatch(batch, state.Epoch, time);
            Interlocked.Increment(ref _scriptCalls);
            RedisResult[] reply;
            try
            {
                reply = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(RedisScripts.AppendBatch, keys, args).ConfigureAwait(false))!;
            }
            catch (RedisException ex)
            {
                // Every request of this call is told at once and may retry (with its Idempotency-Key) on any node. A
                // refusal for memory outside the requests (the epoch's first write) is a full store all the same.
                if (_failureWarnings.ShouldLog(out var suppressed))
                {
                    LogAppendFailed(_logger, suppressed, ex);
                }

                var failure = RedisStoreFaults.Fault(ex);
                _faults.Failed(failure);
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetException(failure);
                }

                return;
            }

            var epoch = (string)reply[0]!;
            if (epoch != state.Epoch)
            {
                // Redis lost its history since this node last looked: adopt the new epoch before handing out its seqs.
                await RefreshAsync().ConfigureAwait(false);
            }

            Complete(batch, reply, epoch, DateTimeOffset.FromUnixTimeMilliseconds((long)reply[1]));
        }
        catch (Exception ex)
        {
            if (_failureWarnings.ShouldLog(out var suppressed))
            {
                LogAppendFailed(_logger, suppressed, ex);
            }

            var failure = ex is RedisException redis ? Unavailable(redis) : ex;
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(failure);
            }
        }
    }

    private (RedisKey[] Keys, RedisValue[] Args) BuildBatch(List<PendingAppend> batch, string epoch, long time)
    {
        int keyCount = 5, argCount = 6;
        foreach (var pending in batch)
        {
            keyCount += pending.Events.Count + (pending.Idempotency is null ? 0 : 1);
            argCount += 5 + (pending.Events.Count * 4) + 2 + (pending.State?.Arguments.Length ?? 0);
        }

        var keys = new RedisKey[keyCount];
        var args = new RedisValue[argCount];
        keys[0] = _meta;
        keys[1] = _log;
        keys[2] = _topicsKey;
        keys[3] = _trimmed;
        keys[4] = _keyExpiry;
        args[0] = Cursor.NewEpoch();
        args[1] = epoch;
        args[2] = HeadSeq;
        args[3] = time;
        args[4] = _channel.ToString();
        args[5] = batch.Count;
        int k = 5, a = 6;
        foreach (var pending in batch)
        {
            var idempotency = pending.Idempotency;
            if (idempotency is not null)
            {
                keys[k++] = _redis.Key("idempotency:" + idempotency.Key);
            }

            args[a++] = idempotency is null ? "0" : "1";
            args[a++] = idempotency?.RequestHash ?? [];
            args[a++] = idempotency?.ExpiresAt.ToUnixTimeMilliseconds() ?? 0;
            args[a++] = idempotency is null ? RedisValue.EmptyString : EncodeDrafts(pending.Events);
            args[a++] = pending.Events.Count;
            foreach (var draft in pending.Events)
            {
                keys[k++] = TopicIndex(draft.Topic);
                args[a++] = draft.Topic;
                args[a++] = draft.Type;
                args[a++] = draft.Data;
                args[a++] = _retention?.RuleFor(draft.Topic).MaxEventsPerTopic ?? 0;
            }

            var state = pending.State;
            args[a++] = state?.Kind ?? RedisValue.EmptyString;
            args[a++] = state?.Arguments.Length ?? 0;
            if (state is not null)
            {
                state.Arguments.CopyTo(args, a);
                a += state.Arguments.Length;
            }
        }

        return (keys, args);
    }

    /// <summary>
    /// Answers each request of a committed batch, then adds the batch's new events to the ring and moves the head once,
    /// so the node's readers are woken once per batch rather than once per request.
    /// </summary>
    private void Complete(List<PendingAppend> batch, RedisResult[] reply, string epoch, DateTimeOffset time)
    {
        // The script reports the topics its count retention trimmed; learn them now rather than from the notification.
        var trimState = Volatile.Read(ref _state);
        var trims = (RedisResult[])reply[2]!;
        for (var i = 0; i + 1 < trims.Length && trimState.Epoch == epoch; i += 2)
        {
            var through = (long)trims[i + 1];
            trimState.Topics.Trimmed((string)trims[i]!, through);
            NoteMaxTrimmed(trimState, through);
        }

        var appended = new List<EventRecord>();
        var answers = new AppendResult[batch.Count];
        for (var r = 0; r < batch.Count; r++)
        {
            var pending = batch[r];
            var result = (RedisResult[])reply[3 + r]!;
            switch ((string)result[0]!)
            {
                case "conflict":
                    answers[r] = new AppendResult(AppendOutcome.Conflict, []);
                    break;
                case "refused":
                    // The state write's check failed before anything of the request was written.
                    pending.Completion.TrySetException(pending.State!.Refused((string)result[1]!));
                    break;
                case "replayed":
                    answers[r] = new AppendResult(AppendOutcome.Replayed,
                        DecodeDrafts(epoch, (long)result[1], DateTimeOffset.FromUnixTimeMilliseconds((long)result[2]), (byte[])result[3]!));
                    break;
                case "appended":
                    var first = (long)result[1];
                    var records = new EventRecord[pending.Events.Count];
                    for (var i = 0; i < records.Length; i++)
                    {
                        var draft = pending.Events[i];
                        records[i] = new EventRecord(epoch, first + i, draft.Topic, draft.Type, time, draft.DataArray());
                    }

                    appended.AddRange(records);
                    answers[r] = new AppendResult(AppendOutcome.Appended, records);
                    break;
                default:
                    var message = (string?)result[1] ?? "";
                    if (_refusalWarnings.ShouldLog(out var suppressed))
                    {
                        LogAppendRefused(_logger, message, suppressed);
                    }

                    var refused = Refused(message);
                    _faults.Failed(refused);
                    pending.Completion.TrySetException(refused);
                    break;
            }
        }

        if (appended.Count > 0)
        {
            _faults.Succeeded();
        }

        var current = Volatile.Read(ref _state);
        if (appended.Count > 0 && current.Epoch == epoch)
        {
            // Appended requests of one batch took consecutive seqs (a failed one gave its seqs back), so the batch is one run.
            var first = appended[0].Seq;
            var last = appended[^1].Seq;
            lock (_gate)
            {
                foreach (var record in appended)
                {
                    current.Ring.Add(record);
                }

                // When nothing from other nodes is missing before these, the follower need not fetch them again.
                if (_fetched == first - 1)
                {
                    _fetched = last;
                }
            }

            Advance(last);
        }

        for (var r = 0; r < batch.Count; r++)
        {
            if (answers[r] is { } answer)
            {
                batch[r].Completion.TrySetResult(answer);
            }
        }
    }

    /// <summary>Redis refused one request of a batch; the others committed. Out of memory is a full store, anything else a fault.</summary>
    private static Problems.SwitchboardException Refused(string message) => message.Contains("OOM command not allowed", StringComparison.Ordinal)
        ? Problems.StoreProblems.Full(new StoreFullException($"Redis is at its maxmemory limit and refused the append: {message}"))
        : Problems.StoreProblems.Unavailable($"The hub's Redis store refused the append ({message}). Retry shortly; a publish with the same Idempotency-Key is safe to repeat.");

    private async Task StopCommitterAsync()
    {
        _appends.Writer.TryComplete();
        await _committer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>A publish request waiting for its batch.</summary>
    private sealed class PendingAppend(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency, RedisStateWrite? state, CancellationToken cancellation)
    {
        public IReadOnlyList<EventDraft> Events { get; } = events;

        public IdempotencyRequest? Idempotency { get; } = idempotency;

        public RedisStateWrite? State { get; } = state;

        public CancellationToken Cancellation { get; } = cancellation;

        // Continuations run off the commit loop, so one slow publisher never holds up the next batch.
        public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>What the request adds to the script call, roughly: its events, twice with a key (the replay copy).</summary>
        public long Bytes { get; } = EstimateBytes(events, idempotency is not null) + (state?.Bytes ?? 0);

        private static long EstimateBytes(IReadOnlyList<EventDraft> events, bool keyed)
        {
            long bytes = 64;
            foreach (var draft in events)
            {
                bytes += draft.Data.Length + draft.Topic.Length + draft.Type.Length + 32;
            }

            return keyed ? bytes * 2 : bytes;
        }
    }
}

/// <summary>
/// A store's change that commits with an append (see <c>RedisScripts.AppendBatch</c>): the kind of write the script
/// applies (<c>job</c>, <c>config</c>), its arguments, and the error for a failed check, made from what the check named.
/// </summary>
internal sealed class RedisStateWrite(string kind, RedisValue[] arguments, Func<string, Exception> refused)
{
    public string Kind { get; } = kind;

    public RedisValue[] Arguments { get; } = arguments;

    public Func<string, Exception> Refused { get; } = refused;

    /// <summary>About what the arguments add to the script call, for the batch's byte bound.</summary>
    public long Bytes { get; } = arguments.Sum(static a => a.Length()) + (arguments.Length * 8);
}
