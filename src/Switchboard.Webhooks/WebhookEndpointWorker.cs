using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Webhooks;

/// <summary>What every endpoint worker shares.</summary>
internal sealed record WebhookRuntime(
    IEventLog Log,
    WebhookSender Sender,
    WebhookJournal Journal,
    SemaphoreSlim GlobalSlots,
    Func<WebhookOptions> Options,
    TimeProvider Time,
    ILogger Logger,
    Action<WebhookEndpointWorker, string> Disable,
    SwitchboardMetrics Metrics,
    WebhookMetrics WebhookMetrics);

/// <summary>What a stopped worker hands to its successor (or the store).</summary>
internal sealed record WebhookWorkerState(WebhookProgress Progress, IReadOnlyList<WebhookDelivery> PendingDeliveries);

/// <summary>A live view of a running endpoint.</summary>
/// <remarks>
/// The attempt counts (since this worker started) give the dashboard its success rate, and the newest failed attempt's
/// error is kept in memory for it too, so the dashboard never queries the attempt log.
/// </remarks>
internal sealed record WebhookLiveStatus(WebhookProgress Progress, int Pending, int InFlight, CircuitState Circuit, int ConsecutiveFailures, DateTimeOffset? CircuitOpenUntil,
    long AttemptsSucceeded = 0, long AttemptsFailed = 0, string? LastError = null);

/// <summary>
/// Delivers one active endpoint: reads the log after the endpoint's cursor with its filter, POSTs each event,
/// and schedules retries. One loop takes work in order (due retries first, then new events) while holding an
/// in-flight slot; sends run concurrently up to <c>maxInFlight</c> (one in ordered mode), under the endpoint's
/// rate limit, the hub-wide concurrency cap, and the circuit breaker. The stored cursor only passes an event
/// once its first attempt has succeeded or its retry is stored, so a crash redelivers rather than loses.
/// Configuration changes replace the worker: it stops, hands its state over, and a new one starts.
/// </summary>
internal sealed partial class WebhookEndpointWorker
{
    private const int ReadBatch = 256;
    private static readonly TimeSpan MaxWait = TimeSpan.FromDays(1);

    private readonly WebhookRuntime _runtime;
    private readonly TopicFilter _filter;
    private readonly HashSet<string>? _types;
    private readonly Lock _lock = new();
    private readonly Queue<EventRecord> _buffer = new();
    private readonly SortedSet<long> _firstAttemptsInFlight = [];
    private readonly SortedDictionary<long, WebhookDelivery> _retries = []; // by seq: ordered mode takes the lowest
    private readonly PriorityQueue<long, DateTimeOffset> _retryQueue = new();
    private readonly CircuitBreaker _circuit;
    private readonly SemaphoreSlim _slots;
    private readonly int _slotCount;
    private readonly SemaphoreSlim _recordGate = new(1, 1);
    private readonly TokenBucketRateLimiter? _rateLimiter;
    private readonly CancellationTokenSource _stopTaking = new();
    private readonly CancellationTokenSource _stopSending = new();
    private TaskCompletionSource _wake = NewSignal();
    private Task _loop = Task.CompletedTask;
    private LogTail? _tail;
    private long _readAfter;
    private int _sending;
    private long _delivered;
    private long _failed;
    private long _attemptsSucceeded;
    private long _attemptsFailed;
    private long _succeededAttemptsTotal;
    private long _failedAttemptsTotal;
    private string? _lastError;
    private DateTimeOffset? _failingSince;
    private WebhookProgress _recordedProgress;
    private volatile bool _disabled;

    public WebhookEndpointWorker(WebhookEndpoint endpoint, IEnumerable<WebhookDelivery> pending, WebhookRuntime runtime)
    {
        Endpoint = endpoint;
        _runtime = runtime;
        _filter = TopicFilter.Parse([.. endpoint.Topics]);
        _types = endpoint.Types.Count > 0 ? new HashSet<string>(endpoint.Types, StringComparer.Ordinal) : null;
        var options = runtime.Options();
        _circuit = new CircuitBreaker(options.CircuitFailureThreshold, options.CircuitBreakDuration);
        _slotCount = endpoint.Mode == WebhookMode.Ordered ? 1 : endpoint.MaxInFlight;
        _slots = new SemaphoreSlim(_slotCount, _slotCount);
        if (endpoint.RateLimitPerSecond is { } perSecond)
        {
            // A one-second bucket refilled evenly: at most perSecond starts in any second after the first burst.
            var tokensPerTick = Math.Max(1, perSecond / 100);
            _rateLimiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond,
                TokensPerPeriod = tokensPerTick,
                ReplenishmentPeriod = TimeSpan.FromSeconds((double)tokensPerTick / perSecond),
                QueueLimit = 1,
                AutoReplenishment = true,
            });
        }

        var progress = endpoint.Progress;
        _readAfter = progress.AfterSeq;
        _delivered = progress.Delivered;
        _failed = progress.Failed;
        _failingSince = progress.FailingSince;
        _succeededAttemptsTotal = progress.SucceededAttempts;
        _failedAttemptsTotal = progress.FailedAttempts;
        _recordedProgress = progress;
        foreach (var delivery in pending)
        {
            AddRetry(delivery);
        }
    }

    public WebhookEndpoint Endpoint { get; }

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>
    /// Stops taking work, lets sends in flight finish for up to <paramref name="grace"/> (so a pause or a change does
    /// not turn them into duplicates), cancels the rest (they are sent again later), and returns the state to carry on from.
    /// </summary>
    public async Task<WebhookWorkerState> StopAsync(TimeSpan grace)
    {
        await _stopTaking.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stopSending.CancelAfter(grace);
        for (var i = 0; i < _slotCount; i++)
        {
            await _slots.WaitAsync().ConfigureAwait(false); // every send gives its slot back when it ends
        }

        _rateLimiter?.Dispose();
        lock (_lock)
        {
            return new WebhookWorkerState(CurrentProgress(), [.. _retries.Values.OrderBy(d => d.Seq)]);
        }
    }

    public WebhookLiveStatus Status()
    {
        lock (_lock)
        {
            return new WebhookLiveStatus(CurrentProgress(), _retries.Count, Volatile.Read(ref _sending),
                _circuit.State, _circuit.ConsecutiveFailures, _circuit.OpenUntil, _attemptsSucceeded, _attemptsFailed, _lastError);
        }
    }

    private WebhookProgress CurrentProgress()
    {
        var committed = _readAfter;
        if (_buffer.TryPeek(out var next))
        {
            committed = Math.Min(committed, next.Seq - 1);
        }

        if (_firstAttemptsInFlight.Count > 0)
        {
            committed = Math.Min(committed, _firstAttemptsInFlight.Min - 1);
        }

        return new WebhookProgress(committed, _delivered, _failed, _failingSince, _succeededAttemptsTotal, _failedAttemptsTotal);
    }

    private async Task RunAsync()
    {
        var cancellationToken = _stopTaking.Token;
        var backoff = TimeSpan.FromSeconds(1);
        using var tail = new LogTail(_runtime.Log, _filter, _readAfter, new TailOptions { BatchSize = ReadBatch });
        _ = tail.Waiter; // registered before the first read, so no append falls between that read and a wait
        _tail = tail;
        while (!_disabled && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RunUntilErrorAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // A failing log read (disk, file handles) must not silently end deliveries: log, wait, carry on.
                LogWorkerFailed(_runtime.Logger, Endpoint.Id, backoff, ex);
                try
                {
                    await Task.Delay(backoff, _runtime.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromMinutes(1).Ticks));
            }
        }
    }

    private async Task RunUntilErrorAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!_disabled)
            {
                var wake = Volatile.Read(ref _wake).Task;
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                Step step;
                try
                {
                    step = await TakeAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    _slots.Release();
                    throw;
                }

                if (step.Item is { } item)
                {
                    await DispatchAsync(item, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                _slots.Release();
                if (step.Again)
                {
                    continue;
                }

                await WaitAsync(wake, step.WaitForAppend ? _tail!.Waiter : null, step.WakeAt, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Takes the next piece of work, reading the log when nothing is buffered.</summary>
    private async ValueTask<Step> TakeAsync(CancellationToken cancellationToken)
    {
        long readFrom;
        DateTimeOffset? nextRetry;
        lock (_lock)
        {
            if (TakeUnderLock(out var item, out nextRetry, out var blocked) is { } taken)
            {
                return taken;
            }

            if (blocked)
            {
                return new Step(null, nextRetry, WaitForAppend: false, Again: false);
            }

            readFrom = _readAfter;
        }

        // The tail arms its waiter before it reads: an append after this point wakes the wait that may follow.
        var tail = _tail!;
        tail.Seek(readFrom);
        var result = await tail.ReadAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (result.Gap is { } gap)
            {
                // Retention removed events this endpoint never got; nothing can bring them back.
                LogSkippedGap(_runtime.Logger, Endpoint.Id, readFrom, gap.RestartAfterSeq);
                _readAfter = gap.RestartAfterSeq;
                return new Step(null, null, WaitForAppend: false, Again: true);
            }

            foreach (var record in result.Events)
            {
                // An event already owed as a retry (a crash between storing the retry and the cursor, or a
                // recover after a replay) goes out once, as that retry.
                if ((_types is null || _types.Contains(record.Type)) && !_retries.ContainsKey(record.Seq))
                {
                    _buffer.Enqueue(record);
                }
            }

            _readAfter = tail.AfterSeq;
            if (TakeUnderLock(out _, out _, out _) is { } taken)
            {
                return taken;
            }

            return result.Events.Count > 0
                ? new Step(null, null, WaitForAppend: false, Again: true)
                : new Step(null, nextRetry, WaitForAppend: true, Again: false);
        }
    }

    /// <summary>A due retry first, then the next buffered event; <paramref name="blocked"/> when nothing new may go now.</summary>
    private Step? TakeUnderLock(out WorkItem? item, out DateTimeOffset? nextRetry, out bool blocked)
    {
        item = null;
        nextRetry = null;
        blocked = false;
        var now = _runtime.Time.GetUtcNow();
        if (!_circuit.CanDispatch(now, out var circuitRetry))
        {
            blocked = true;
            nextRetry = circuitRetry;
            return null;
        }

        if (Endpoint.Mode == WebhookMode.Ordered && _retries.Count > 0)
        {
            // Strict order: only the oldest owed event may go, when it is due; nothing behind it moves meanwhile.
            var (oldestSeq, oldest) = _retries.First();
            if (oldest.NextAttemptAt > now)
            {
                blocked = true;
                nextRetry = oldest.NextAttemptAt;
                return null;
            }

            _retries.Remove(oldestSeq);
            _circuit.OnDispatch();
            item = new WorkItem(oldestSeq, null, oldest);
            return Taken(item);
        }

        while (_retryQueue.TryPeek(out var seq, out var due))
        {
            if (!_retries.TryGetValue(seq, out var delivery) || delivery.NextAttemptAt != due)
            {
                _retryQueue.Dequeue(); // superseded by a later schedule for the same event
                continue;
            }

            if (due <= now)
            {
                _retryQueue.Dequeue();
                _retries.Remove(seq);
                _circuit.OnDispatch();
                item = new WorkItem(seq, null, delivery);
                return Taken(item);
            }

            nextRetry = due;
            break;
        }

        if (_retries.Count >= _runtime.Options().MaxPendingRetriesPerEndpoint)
        {
            blocked = true; // bounded: a receiver that fails often stops taking new events until retries drain
            return null;
        }

        if (_buffer.TryDequeue(out var record))
        {
            _firstAttemptsInFlight.Add(record.Seq);
            _circuit.OnDispatch();
            item = new WorkItem(record.Seq, record, null);
            return Taken(item);
        }

        return null;
    }

    // Counted in flight in the lock that took it from the retries or the buffer, so a status never misses it in between.
    private Step Taken(WorkItem item)
    {
        Interlocked.Increment(ref _sending);
        return new Step(item, null, false, false);
    }

    private async Task DispatchAsync(WorkItem item, CancellationToken cancellationToken)
    {
        try
        {
            while (_rateLimiter is not null)
            {
                using var lease = await _rateLimiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
                if (lease.IsAcquired)
                {
                    break;
                }
            }

            await _runtime.GlobalSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Untake(item);
            Settle(item);
            _slots.Release();
            throw;
        }

        _ = SendAsync(item, _stopSending.Token);
    }

    /// <summary>Puts back work that was taken but never sent, so the successor worker has it.</summary>
    private void Untake(WorkItem item)
    {
        lock (_lock)
        {
            if (item.Retry is { } retry)
            {
                AddRetry(retry);
            }
        }
    }

    private async Task SendAsync(WorkItem item, CancellationToken cancellationToken)
    {
        try
        {
            var record = item.Event ?? await LoadAsync(item.Seq, cancellationToken).ConfigureAwait(false);
            var started = _runtime.Time.GetUtcNow();
            var result = record is null
                ? new WebhookSendResult(null, "the event is no longer in the log (removed by retention)", null, TimeSpan.Zero, null)
                : await _runtime.Sender.SendAsync(Endpoint, WebhookIdOf(record), record.WebhookBody, cancellationToken).ConfigureAwait(false);
            if (record is not null)
            {
                var metrics = _runtime.Metrics;
                _runtime.WebhookMetrics.Attempted(result.StatusCode);
                metrics.BytesWritten(DeliveryTransport.Webhook, record.WebhookBody.Length);
                if (result.Succeeded)
                {
                    metrics.Delivered(DeliveryTransport.Webhook, record, _runtime.Time.GetUtcNow(), started - SwitchboardMetrics.LiveGrace); // a backlog or a late retry is catch-up
                }
            }

            await CompleteAsync(item, started, result, eventGone: record is null).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Untake(item); // a first attempt stays in flight, which keeps the cursor before it
        }
        catch (Exception ex)
        {
            // Anything unexpected is a failed attempt like any other: logged, retried on the schedule, seen by the circuit.
            LogSendFailed(_runtime.Logger, Endpoint.Id, item.Seq, ex);
            try
            {
                await CompleteAsync(item, _runtime.Time.GetUtcNow(), new WebhookSendResult(null, $"internal error: {ex.GetType().Name}", null, TimeSpan.Zero, null), eventGone: false).ConfigureAwait(false);
            }
            catch (Exception recordFailure)
            {
                LogSendFailed(_runtime.Logger, Endpoint.Id, item.Seq, recordFailure);
                Untake(item);
            }
        }
        finally
        {
            Settle(item);
            _runtime.GlobalSlots.Release();
            _slots.Release();
            Wake();
        }
    }

    private void Settle(WorkItem item)
    {
        if (!item.Settled)
        {
            item.Settled = true;
            Interlocked.Decrement(ref _sending);
        }
    }

    private async Task<EventRecord?> LoadAsync(long seq, CancellationToken cancellationToken)
    {
        // By seq, not through the filter: a gap in another matching topic must not hide this event.
        return await _runtime.Log.ReadEventAsync(seq, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The <c>webhook-id</c>: the same for every attempt of one event, so receivers can drop duplicates.</summary>
    public static string WebhookIdOf(EventRecord record) => $"msg_{record.Epoch}_{record.Seq}";

    private async Task CompleteAsync(WorkItem item, DateTimeOffset started, WebhookSendResult result, bool eventGone)
    {
        string? disableReason = null;
        await _recordGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var changes = new List<WebhookChange>(3);
            lock (_lock)
            {
                var now = _runtime.Time.GetUtcNow();
                var attempt = (item.Retry?.Attempts ?? 0) + 1;
                Settle(item);
                if (item.Retry is null)
                {
                    _firstAttemptsInFlight.Remove(item.Seq);
                }

                changes.Add(new WebhookAttemptAdded(new WebhookAttempt(0, Endpoint.Id, item.Seq, attempt, started, result.Succeeded,
                    result.StatusCode, result.Latency.TotalMilliseconds, result.Error, result.ResponseBody)));
                if (result.Succeeded)
                {
                    _attemptsSucceeded++;
                    _succeededAttemptsTotal++;
                    _circuit.OnSuccess();
                    _failingSince = null;
                    _delivered++;
                    if (item.Retry is not null)
                    {
                        changes.Add(new WebhookDeliveryRemoved(Endpoint.Id, item.Seq));
                    }
                }
                else
                {
                    _attemptsFailed++;
                    _failedAttemptsTotal++;
                    _lastError = result.Error;
                    disableReason = OnFailure(item, attempt, now, result, eventGone, changes);
                }

                var progress = CurrentProgress();
                if (progress != _recordedProgress)
                {
                    _recordedProgress = progress;
                    changes.Add(new WebhookProgressSaved(Endpoint.Id, progress));
                }
            }

            foreach (var change in changes)
            {
                await _runtime.Journal.RecordAsync(change).ConfigureAwait(false);
            }
        }
        finally
        {
            _recordGate.Release();
        }

        if (disableReason is not null && !_disabled)
        {
            _disabled = true;
            _runtime.Disable(this, disableReason);
        }
    }

    private string? OnFailure(WorkItem item, int attempt, DateTimeOffset now, WebhookSendResult result, bool eventGone, List<WebhookChange> changes)
    {
        var options = _runtime.Options();
        if (eventGone)
        {
            // Not the receiver's fault: no circuit, no failing streak; the event is simply given up.
            _failed++;
            changes.Add(new WebhookDeliverySaved(new WebhookDelivery(Endpoint.Id, item.Seq, attempt, WebhookDeliveryStatus.Failed, now, now, result.Error)));
            return null;
        }

        if (_circuit.OnFailure(now))
        {
            LogCircuitOpened(_runtime.Logger, Endpoint.Id, _circuit.ConsecutiveFailures, options.CircuitBreakDuration);
        }

        _failingSince ??= now;
        string? disableReason = null;
        if (result.Gone)
        {
            disableReason = "the receiver answered 410 Gone";
        }
        else if (now - _failingSince >= options.DisableAfter)
        {
            disableReason = $"failing without a success since {_failingSince:u}";
        }

        if (item.Retry is null && item.Seq > _readAfter)
        {
            return disableReason; // replayed past while in flight: it will be read and sent again anyway
        }

        var schedule = options.EffectiveRetrySchedule;
        if (attempt > schedule.Count && disableReason is null)
        {
            _failed++;
            changes.Add(new WebhookDeliverySaved(new WebhookDelivery(Endpoint.Id, item.Seq, attempt, WebhookDeliveryStatus.Failed, now, now, result.Error)));
            return disableReason;
        }

        // A disabled endpoint keeps the event pending, so enabling it sends the event again.
        var delay = result.RetryAfter ?? Jitter(schedule[Math.Min(attempt, schedule.Count) - 1], options.RetryJitter);
        var retry = new WebhookDelivery(Endpoint.Id, item.Seq, attempt, WebhookDeliveryStatus.Pending, now + delay, now, result.Error);
        AddRetry(retry);
        changes.Add(new WebhookDeliverySaved(retry));
        return disableReason;
    }

    /// <summary>Owes a retry; parallel mode also queues it by due time (ordered mode always takes the lowest seq).</summary>
    private void AddRetry(WebhookDelivery delivery)
    {
        _retries[delivery.Seq] = delivery;
        if (Endpoint.Mode == WebhookMode.Parallel)
        {
            _retryQueue.Enqueue(delivery.Seq, delivery.NextAttemptAt);
        }
    }

    internal static TimeSpan Jitter(TimeSpan delay, double jitter) =>
        delay * (1 + ((Random.Shared.NextDouble() * 2) - 1) * jitter);

    private void Wake() => Interlocked.Exchange(ref _wake, NewSignal()).TrySetResult();

    private async Task WaitAsync(Task wake, LogWaiter? appended, DateTimeOffset? wakeAt, CancellationToken cancellationToken)
    {
        using var waitEnds = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new List<Task>(4) { wake, Task.Delay(Timeout.InfiniteTimeSpan, waitEnds.Token) };
        Task? appendedTask = null;
        if (appended is not null)
        {
            tasks.Add(appendedTask = appended.WaitAsync().AsTask());
        }

        if (wakeAt is { } at)
        {
            var delay = at - _runtime.Time.GetUtcNow();
            delay = delay > MaxWait ? MaxWait : delay; // Task.Delay refuses more than ~49 days; waking early is harmless
            tasks.Add(delay > TimeSpan.Zero ? Task.Delay(delay, _runtime.Time, waitEnds.Token) : Task.CompletedTask);
        }

        await Task.WhenAny(tasks).ConfigureAwait(false);
        if (appendedTask is not null)
        {
            // Another wake came first: end the waiter's pending wait, and let it finish before the waiter is used again
            // (a waiter is reused, so its previous wait must be consumed first). The next read arms it afresh.
            appended!.Set();
            await appendedTask.ConfigureAwait(false);
        }

        await waitEnds.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record WorkItem(long Seq, EventRecord? Event, WebhookDelivery? Retry)
    {
        /// <summary>
        /// Its outcome is counted (delivered, failed or owed a retry), so it no longer counts as in flight. Set in the
        /// same lock as the outcome, so a status never shows one event both in flight and failed.
        /// </summary>
        public bool Settled { get; set; }
    }

    private readonly record struct Step(WorkItem? Item, DateTimeOffset? WakeAt, bool WaitForAppend, bool Again);

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "Webhook {EndpointId}: circuit opened after {Failures} consecutive failures; probing again in {BreakDuration}")]
    private static partial void LogCircuitOpened(ILogger logger, string endpointId, int failures, TimeSpan breakDuration);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Webhook {EndpointId}: events after seq {From} up to {To} were removed by retention before delivery")]
    private static partial void LogSkippedGap(ILogger logger, string endpointId, long from, long to);

    [LoggerMessage(EventId = 412, Level = LogLevel.Error, Message = "Webhook {EndpointId}: delivery of seq {Seq} failed unexpectedly")]
    private static partial void LogSendFailed(ILogger logger, string endpointId, long seq, Exception exception);

    [LoggerMessage(EventId = 413, Level = LogLevel.Error, Message = "Webhook {EndpointId}: the delivery loop failed; resuming in {Backoff}")]
    private static partial void LogWorkerFailed(ILogger logger, string endpointId, TimeSpan backoff, Exception exception);
}
