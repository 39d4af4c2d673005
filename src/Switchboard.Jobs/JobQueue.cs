using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Problems;

namespace Switchboard.Jobs;

/// <summary>A claimed job and the lease that entitles the worker to run it.</summary>
/// <param name="Job">The job as it runs now.</param>
/// <param name="Lease">The lease the worker sends with every call.</param>
public sealed record JobClaim(Job Job, JobLease Lease);

/// <summary>
/// Owns every unfinished job: a queue per type, leases, retries and cancellation. Each change is written to the
/// <see cref="IJobStore"/> first, then appended to the log as an event on <c>jobs.{id}</c>, then made visible in
/// memory, one change at a time per job (a per-job gate). A claim takes the job out of its type's queue under the
/// queue lock before anything else, so two claimers can never get the same job. What each change does to the job is
/// decided by <see cref="JobTransitions"/>; this class stores, announces and shows it.
/// </summary>
public sealed partial class JobQueue : BackgroundService
{
    /// <summary>The topic prefix of job events: <c>jobs.{id}</c>.</summary>
    public const string TopicPrefix = "jobs.";

    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    private readonly IJobStore _store;
    private readonly IEventLog _log;

    // Set when the store commits with the log (SQLite in the log's file, Redis in its group commit): a change and its
    // event are then one commit, so a full or unreachable store refuses both and the caller is told, never answered
    // for a change whose event is not in the log.
    private readonly IJobStoreWithEvents? _storeWithEvents;
    private readonly IOptionsMonitor<JobOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<JobQueue> _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _unfinished = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TypeQueue> _queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _keys = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _keyedSubmits = new(1, 1);
    private long _order;
    private long _followFrom;

    private readonly SwitchboardMetrics _metrics;
    private readonly JobMetrics _jobMetrics;

    /// <summary>
    /// Creates the queue over <paramref name="store"/>; its events go to <paramref name="log"/>. Its own instruments are
    /// on <paramref name="jobMetrics"/> (a meter of their own when none is given); the events it appends count as published on <paramref name="metrics"/>.
    /// </summary>
    public JobQueue(IJobStore store, IEventLog log, IOptionsMonitor<JobOptions> options, TimeProvider time, ILogger<JobQueue> logger, SwitchboardMetrics metrics,
        JobMetrics? jobMetrics = null)
    {
        _metrics = metrics;
        _jobMetrics = jobMetrics ?? new JobMetrics();
        _jobMetrics.ObserveQueue(ObserveStatuses, ObserveQueues);
        _store = store;
        _log = log;
        _storeWithEvents = store is IJobStoreWithEvents withEvents && withEvents.CommitsWith(log) ? withEvents : null;
        _options = options;
        _time = time;
        _logger = logger;
    }

    private JobOptions Options => _options.CurrentValue;

    /// <summary>The topic of a job's events.</summary>
    public static string TopicFor(string jobId) => TopicPrefix + jobId;

    /// <summary>Loads the unfinished jobs from the store, then starts the lease sweep (and, with a shared store, the follower).</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // With a shared store, changes made by other nodes after this point arrive as jobs.{id} events.
        _followFrom = _log.HeadSeq;
        var jobs = await _store.LoadUnfinishedAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            foreach (var job in jobs)
            {
                var entry = new Entry(job, ++_order);
                _unfinished[job.Id] = entry;
                if (job.IdempotencyKey is { } key)
                {
                    _keys[key] = job.Id;
                }

                if (job.Status == JobStatus.Queued)
                {
                    Enqueue(entry);
                }
            }
        }

        LogLoaded(_logger, jobs.Count);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Requeues jobs whose lease expired, and deletes old finished jobs now and then.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var following = _store.IsShared ? FollowOtherNodesAsync(stoppingToken) : Task.CompletedTask;
        await SweepAsync(stoppingToken).ConfigureAwait(false);
        await following.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task SweepAsync(CancellationToken stoppingToken)
    {
        var nextTrim = _time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Options.LeaseCheckInterval, _time, stoppingToken).ConfigureAwait(false);
                await ExpireLeasesAsync(stoppingToken).ConfigureAwait(false);
                if (_time.GetUtcNow() >= nextTrim)
                {
                    nextTrim = _time.GetUtcNow() + TimeSpan.FromMinutes(1);
                    var deleted = await _store.DeleteFinishedAsync(_time.GetUtcNow() - Options.FinishedJobRetention, 10_000, stoppingToken).ConfigureAwait(false);
                    if (deleted > 0)
                    {
                        LogTrimmed(_logger, deleted);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSweepFailed(_logger, ex);
            }
        }
    }

    /// <summary>Returns every running job whose lease has expired to its queue (or fails it after its last attempt).</summary>
    internal async Task ExpireLeasesAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        List<string> expired;
        lock (_lock)
        {
            expired = [.. _unfinished.Values.Where(e => e.Job.Lease is { } lease && lease.ExpiresAt <= now).Select(e => e.Job.Id)];
        }

        foreach (var id in expired)
        {
            var requeued = await UpdateAsync(id, (job, time) => JobTransitions.Apply(job, new ExpireLease(), time) is { Next: { } next } step
                ? new Decision<bool>(next, true, [Event(next, step.EventType!)])
                : new Decision<bool>(null, false), cancellationToken).ConfigureAwait(false);
            if (requeued)
            {
                LogLeaseExpired(_logger, id);
            }
        }
    }

    /// <summary>Submits a job; with an idempotency key already used, returns that job instead (<c>created</c> false).</summary>
    public async Task<(Job Job, bool Created)> SubmitAsync(string type, string input, int maxAttempts, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        if (idempotencyKey is null)
        {
            return (await CreateAsync(type, input, maxAttempts, null).ConfigureAwait(false), true);
        }

        // Keyed submits are serialized, so two racing submits with one key create one job.
        await _keyedSubmits.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Job? existing;
            lock (_lock)
            {
                existing = _keys.TryGetValue(idempotencyKey, out var id) && _unfinished.TryGetValue(id, out var entry) ? entry.Job : null;
            }

            existing ??= await _store.FindByIdempotencyKeyAsync(idempotencyKey, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                if (existing.Type != type || existing.Input != input)
                {
                    throw SwitchboardException.Mismatch("idempotency-key-reused", "Idempotency-Key reused",
                        "This Idempotency-Key was already used to submit a different job. Use a new key for a new job.");
                }

                return (existing, false);
            }

            try
            {
                return (await CreateAsync(type, input, maxAttempts, idempotencyKey).ConfigureAwait(false), true);
            }
            catch (JobConflictException)
            {
                // Another node submitted with this key at the same moment; its job is the one.
                var winner = await _store.FindByIdempotencyKeyAsync(idempotencyKey, cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException("A conflicting keyed job vanished.");
                if (winner.Type != type || winner.Input != input)
                {
                    throw SwitchboardException.Mismatch("idempotency-key-reused", "Idempotency-Key reused",
                        "This Idempotency-Key was already used to submit a different job. Use a new key for a new job.");
                }

                return (winner, false);
            }
        }
        finally
        {
            _keyedSubmits.Release();
        }
    }

    private async Task<Job> CreateAsync(string type, string input, int maxAttempts, string? idempotencyKey)
    {
        var limit = Options.MaxUnfinishedJobs;
        lock (_lock)
        {
            if (_unfinished.Count >= limit)
            {
                throw SwitchboardException.Unavailable("too-many-jobs", "Too many unfinished jobs",
                    $"The hub holds its limit of {limit} unfinished jobs; try again when workers have caught up.", TimeSpan.FromSeconds(5));
            }
        }

        var now = _time.GetUtcNow();
        var job = JobTransitions.Submit(NewJobId(now), type, input, maxAttempts, idempotencyKey, now);
        await ApplyAndAppendAsync([new JobSaved(job) { Expected = JobPrecondition.New }], [Event(job, JobTransitions.Queued)]).ConfigureAwait(false);
        lock (_lock)
        {
            var entry = new Entry(job, ++_order);
            _unfinished[job.Id] = entry;
            if (idempotencyKey is not null)
            {
                _keys[idempotencyKey] = job.Id;
            }

            Enqueue(entry);
        }

        return job;
    }

    /// <summary>
    /// A new job id: <c>job_</c>, the submit time in milliseconds as 9 base-36 digits, then 16 random characters (82
    /// bits). Ids made later sort later, so the store's job rows and its <c>jobs.{id}</c> topic index grow at their
    /// right edge, and a job's changes land on the few pages its recent neighbours use, not on a random page each.
    /// </summary>
    internal static string NewJobId(DateTimeOffset now)
    {
        const int TimeDigits = 9;
        return string.Create(4 + TimeDigits + 16, now.ToUnixTimeMilliseconds(), static (id, millis) =>
        {
            "job_".CopyTo(id);
            var time = (ulong)Math.Max(0, millis);
            for (var i = 4 + TimeDigits - 1; i >= 4; i--)
            {
                id[i] = TimeAlphabet[(int)(time % 36)];
                time /= 36;
            }

            RandomNumberGenerator.GetItems(IdAlphabet, id[(4 + TimeDigits)..]);
        });
    }

    // Digits before letters, so that the base-36 time sorts as text in the order of the times.
    private const string TimeAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

    /// <summary>The job as it stands, or null.</summary>
    public async Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_unfinished.TryGetValue(id, out var entry))
            {
                return entry.Job;
            }
        }

        return await _store.GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The job once its version differs from <paramref name="version"/>, or as it stands when <paramref name="wait"/> ends.
    /// Null when there is no such job.
    /// </summary>
    public async Task<Job?> WaitForChangeAsync(string id, long version, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            Task changed;
            Job job;
            lock (_lock)
            {
                if (!_unfinished.TryGetValue(id, out var entry))
                {
                    break;
                }

                changed = entry.Changed.Next;
                job = entry.Job;
            }

            var remaining = wait - _time.GetElapsedTime(started);
            if (job.Version != version || remaining <= TimeSpan.Zero)
            {
                return job;
            }

            try
            {
                await changed.WaitAsync(remaining, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return job;
            }
        }

        // Finished (or unknown): a finished job never changes again, so hold the poll for its full wait as promised.
        var stored = await _store.GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (stored is not null && stored.Version == version && wait - _time.GetElapsedTime(started) is { } rest && rest > TimeSpan.Zero)
        {
            await Task.Delay(rest, _time, cancellationToken).ConfigureAwait(false);
        }

        return stored;
    }

    /// <summary>Cancels a queued or running job; a finished job other than a canceled one is a Conflict (<c>job-finished</c>).</summary>
    public Task<Job> CancelAsync(string id, CancellationToken cancellationToken = default) =>
        UpdateAsync(id, (job, now) => Change(job, JobTransitions.Apply(job, new CancelJob(), now)), cancellationToken);

    /// <summary>
    /// Claims the next available job of <paramref name="type"/>, waiting up to <paramref name="wait"/> for one.
    /// Null when none came.
    /// </summary>
    public async Task<JobClaim?> ClaimAsync(string type, string? worker, TimeSpan leaseDuration, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        TypeQueue queue;
        lock (_lock)
        {
            queue = QueueFor(type);
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            LinkedListNode<TaskCompletionSource>? waiter = null;
            Entry? candidate = null;
            var untilNext = TimeSpan.MaxValue;
            var now = _time.GetUtcNow();
            var remaining = wait - _time.GetElapsedTime(started);
            lock (_lock)
            {
                candidate = TakeReady(queue, now, out untilNext);
                if (candidate is null && remaining > TimeSpan.Zero)
                {
                    // Joined under the lock that guards the queue, so a job enqueued after this check wakes this claimer.
                    waiter = queue.Waiters.Join();
                }
                else if (candidate is null && queue.Ready.Count > 0)
                {
                    // Leaving with a job still in line (due later): hand the news to the next claimer, who may wait longer.
                    queue.Waiters.WakeOne();
                }
            }

            if (candidate is not null)
            {
                if (await TryStartAsync(candidate, worker, leaseDuration).ConfigureAwait(false) is { } claim)
                {
                    return claim;
                }

                continue;
            }

            if (waiter is null)
            {
                return null;
            }

            var delay = remaining < untilNext ? remaining : untilNext;
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                await Task.WhenAny(waiter.Value.Task, Task.Delay(delay, _time, stop.Token)).ConfigureAwait(false);
                await stop.CancelAsync().ConfigureAwait(false);
            }

            lock (_lock)
            {
                if (queue.Waiters.Leave(waiter) && cancellationToken.IsCancellationRequested)
                {
                    // Woken, but going away without looking: the job that woke this claimer must wake another.
                    queue.Waiters.WakeOne();
                }
            }
        }
    }

    /// <summary>
    /// Completes a job and claims the next available job of <paramref name="type"/>: a worker's loop in one call. When a
    /// job is available at once and the store commits with the log, the completion and the claim are one commit. The
    /// completion is refused as <see cref="CompleteAsync"/> refuses it, and then nothing is claimed; once it is stored,
    /// the claim waits up to <paramref name="wait"/> as <see cref="ClaimAsync"/> does. Null when no job came.
    /// </summary>
    /// <param name="id">The finished job.</param>
    /// <param name="leaseId">Its lease.</param>
    /// <param name="result">Its result, as <see cref="CompleteAsync"/> takes it.</param>
    /// <param name="type">The queue to claim from.</param>
    /// <param name="worker">The worker's name, shown in the claimed job's events.</param>
    /// <param name="leaseDuration">The claimed job's lease.</param>
    /// <param name="wait">How long the claim may wait for a job.</param>
    /// <param name="cancellationToken">Stops the completion before it is stored, and the claim.</param>
    /// <param name="waitCancellation">Also stops the claim (a host shutting down ends held claims), never the completion.</param>
    /// <remarks>
    /// Once the completion is stored, a store fault of the claim is logged and answered as no job (null): the
    /// worker's result is safe, and its next claim meets the fault itself. Not async itself, so the result it stores
    /// is not held for a long claim's wait.
    /// </remarks>
    public Task<JobClaim?> CompleteAndClaimAsync(string id, string leaseId, string result, string type, string? worker, TimeSpan leaseDuration,
        TimeSpan wait, CancellationToken cancellationToken = default, CancellationToken waitCancellation = default)
    {
        var completing = CompleteAndTryStartAsync(id, leaseId, result, type, worker, leaseDuration, cancellationToken);
        return ClaimAfterAsync(completing, type, worker, leaseDuration, wait, cancellationToken, waitCancellation);
    }

    private async Task<JobClaim?> ClaimAfterAsync(Task<JobClaim?> completing, string type, string? worker, TimeSpan leaseDuration, TimeSpan wait,
        CancellationToken cancellationToken, CancellationToken waitCancellation)
    {
        if (await completing.ConfigureAwait(false) is { } paired)
        {
            return paired;
        }

        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, waitCancellation);
        try
        {
            return await ClaimAsync(type, worker, leaseDuration, wait, either.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogClaimAfterCompleteFailed(_logger, type, ex);
            return null;
        }
    }

    /// <summary>Stores the completion, with the next due job's claim in the same commit when it can; that claim, or null.</summary>
    private async Task<JobClaim?> CompleteAndTryStartAsync(string id, string leaseId, string result, string type, string? worker, TimeSpan leaseDuration,
        CancellationToken cancellationToken)
    {
        TypeQueue queue;
        lock (_lock)
        {
            queue = QueueFor(type);
        }

        JobClaim? claimed = null;
        await UpdateAsync(id, (job, now) => Change(job, JobTransitions.Apply(job, new CompleteJob(leaseId, result), now)), cancellationToken,
            async (entry, next, events) =>
            {
                // Only a success is paired: a late call whose lease expired stores the expiry and is refused, and a job
                // claimed along with a refusal would run under a lease nobody holds.
                if (next.Status == JobStatus.Succeeded && _storeWithEvents is not null && !_store.IsShared)
                {
                    var completion = new PendingChange(entry, next, events);
                    while (true)
                    {
                        Entry? candidate;
                        lock (_lock)
                        {
                            candidate = TakeReady(queue, _time.GetUtcNow(), out _);
                        }

                        if (candidate is null)
                        {
                            break;
                        }

                        if (await TryStartAsync(candidate, worker, leaseDuration, completion).ConfigureAwait(false) is { } claim)
                        {
                            claimed = claim;
                            return;
                        }
                    }
                }

                await CommitAsync(entry, next, events).ConfigureAwait(false);
            }).ConfigureAwait(false);
        return claimed;
    }

    /// <summary>The first job of <paramref name="queue"/> that is due, taken out of it; else null and how long until the first is due. Under the lock.</summary>
    private static Entry? TakeReady(TypeQueue queue, DateTimeOffset now, out TimeSpan untilNext)
    {
        untilNext = TimeSpan.MaxValue;
        if (queue.Ready.Min is not { } first)
        {
            return null;
        }

        if (first.Job.AvailableAt > now)
        {
            untilNext = first.Job.AvailableAt - now;
            return null;
        }

        queue.Ready.Remove(first);
        first.InQueue = false;
        return first;
    }

    /// <summary>
    /// Starts a job taken out of its queue; null when it was canceled meanwhile. With <paramref name="along"/> (another
    /// job's change, whose gate the caller holds; only with a store that commits with the log, used by this process
    /// alone), that change is stored in the same commit, and not at all when this returns null.
    /// </summary>
    private async Task<JobClaim?> TryStartAsync(Entry entry, string? worker, TimeSpan leaseDuration, PendingChange? along = null)
    {
        // Not cancellable: the job is out of the queue, and only this method puts it back or starts it.
        await entry.Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var job = entry.Job;
            if (job.Status != JobStatus.Queued)
            {
                return null;
            }

            var step = JobTransitions.Apply(job, new ClaimJob(RandomNumberGenerator.GetString(IdAlphabet, 24), worker, leaseDuration), _time.GetUtcNow());
            if (step.Next is not { } running)
            {
                return null;
            }

            try
            {
                if (along is { } other)
                {
                    await ApplyAndAppendAsync(
                        [new JobSaved(other.Next) { Expected = JobPrecondition.Of(other.Entry.Job) }, new JobSaved(running) { Expected = JobPrecondition.Of(job) }],
                        [.. other.Events, Event(running, step.EventType!)]).ConfigureAwait(false);
                    Show(other.Entry, other.Next);
                    Show(entry, running);
                }
                else
                {
                    await CommitAsync(entry, running, [Event(running, step.EventType!)]).ConfigureAwait(false);
                }
            }
            catch (JobConflictException) when (along is null)
            {
                // Another node claimed (or canceled) it first; the entry now shows what that node did.
                return null;
            }
            catch
            {
                // Nothing of the commit was stored (with along, neither change): the job goes back in line.
                lock (_lock)
                {
                    Enqueue(entry);
                }

                throw;
            }

            return new JobClaim(running, running.Lease!);
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>
    /// Extends the lease by <paramref name="leaseDuration"/>, or by the length it was claimed for when null; a Conflict
    /// when the lease was lost or the job canceled.
    /// </summary>
    public Task<JobLease> HeartbeatAsync(string id, string leaseId, TimeSpan? leaseDuration, CancellationToken cancellationToken = default) =>
        UpdateAsync(id, (job, now) =>
        {
            var step = JobTransitions.Apply(job, new RenewLease(leaseId, leaseDuration, Options.LeaseDuration), now);
            return Refuse(job, step) is { } refused ? refused.As<JobLease>() : new Decision<JobLease>(step.Next, step.Next!.Lease!);
        }, cancellationToken);

    /// <summary>Records progress and appends an output chunk; also extends the lease, as <see cref="HeartbeatAsync"/> does.</summary>
    public Task<Job> ProgressAsync(string id, string leaseId, int? percent, string? output, TimeSpan? leaseDuration, CancellationToken cancellationToken = default) =>
        UpdateAsync(id, (job, now) =>
        {
            var step = JobTransitions.Apply(job, new ReportProgress(leaseId, percent, leaseDuration, Options.LeaseDuration), now);
            if (Refuse(job, step) is { } refused)
            {
                return refused.As<Job>();
            }

            var next = step.Next!;
            // An output chunk is announced with the job's progress in it; without one, only a changed progress is news.
            IReadOnlyList<EventDraft> events = output is not null
                ? [new EventDraft(TopicFor(job.Id), "job.output", JobJson.OutputData(next, output))]
                : step.EventType is { } type ? [Event(next, type)] : [];
            return new Decision<Job>(next, next, events);
        }, cancellationToken);

    /// <summary>Completes the job with its result.</summary>
    public Task<Job> CompleteAsync(string id, string leaseId, string result, CancellationToken cancellationToken = default) =>
        UpdateAsync(id, (job, now) => Change(job, JobTransitions.Apply(job, new CompleteJob(leaseId, result), now)), cancellationToken);

    /// <summary>
    /// Fails the attempt: a retryable failure is retried after a backoff while attempts remain; otherwise the job fails.
    /// A retry is due at the end of its backoff and takes its place in line by that time, as a job submitted then would.
    /// </summary>
    public Task<Job> FailAsync(string id, string leaseId, string error, bool retryable, CancellationToken cancellationToken = default) =>
        UpdateAsync(id, (job, now) => Change(job, JobTransitions.Apply(job, new FailJob(leaseId, error, retryable, Options.BackoffFor(job.Attempts)), now)), cancellationToken);

    /// <summary>The decision of a step whose answer is the job it leaves: the next state, or the job as it stands when nothing changes.</summary>
    private static Decision<Job> Change(Job job, JobStep step)
    {
        if (Refuse(job, step) is { } refused)
        {
            return refused.As<Job>();
        }

        return step.Next is { } next ? new Decision<Job>(next, next, [Event(next, step.EventType!)]) : new Decision<Job>(null, job);
    }

    /// <summary>
    /// Null when the step was not refused. A refusal with nothing to change throws its error now; an expired lease
    /// first stores the expiry (the job goes back to the queue or fails) and then throws.
    /// </summary>
    private static Decision<Unit>? Refuse(Job job, JobStep step)
    {
        if (!step.IsRefused)
        {
            return null;
        }

        var error = Refusal(job, step.Refusal);
        return step.Next is { } next ? new Decision<Unit>(next, default, [Event(next, step.EventType!)]) { Refused = error } : throw error;
    }

    /// <summary>The typed error of a refusal: a kind and a stable code, no HTTP status.</summary>
    internal static SwitchboardException Refusal(Job job, JobRefusal refusal) => refusal switch
    {
        JobRefusal.JobCanceled => SwitchboardException.Conflict("job-canceled", "Job canceled", $"Job {job.Id} was canceled; stop working on it."),
        JobRefusal.LeaseLost => SwitchboardException.Conflict("lease-lost", "Lease lost",
            $"This lease no longer holds job {job.Id} (it is {JobJson.StatusName(job.Status)}); stop working on it."),
        JobRefusal.LeaseExpired => SwitchboardException.Conflict("lease-expired", "Lease expired",
            $"The lease on job {job.Id} expired before this call; the job went back to the queue. Stop working on it."),
        JobRefusal.JobFinished => SwitchboardException.Conflict("job-finished", "Job already finished",
            $"Job {job.Id} already {JobJson.StatusName(job.Status)}; only queued or running jobs can be canceled."),
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, "Not a refusal a caller sees."),
    };

    /// <summary>
    /// Runs one change of a job under its gate: <paramref name="decide"/> sees the current job and returns the next
    /// state (null for none), the events, and the answer; a thrown problem leaves the job unchanged. The next state is
    /// stored by <paramref name="commit"/>, <see cref="CommitAsync"/> unless given.
    /// </summary>
    private async Task<T> UpdateAsync<T>(string id, Func<Job, DateTimeOffset, Decision<T>> decide, CancellationToken cancellationToken,
        Func<Entry, Job, IReadOnlyList<EventDraft>, Task>? commit = null)
    {
        if (_store.IsShared)
        {
            // Another node may have changed the job a moment ago and its event not arrived yet: decide on what is stored.
            await ReloadAsync(id, cancellationToken).ConfigureAwait(false);
        }

        Entry? entry;
        lock (_lock)
        {
            _unfinished.TryGetValue(id, out entry);
        }

        if (entry is null)
        {
            var stored = await _store.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? throw NotFound(id);
            if (!stored.IsFinished)
            {
                throw NotFound(id); // not loaded: only possible before start
            }

            return DecideFinished(stored);
        }

        await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var job = entry.Job;
                if (job.IsFinished)
                {
                    return DecideFinished(job);
                }

                var now = _time.GetUtcNow();
                try
                {
                    var decision = decide(job, now);
                    if (decision.Next is { } next)
                    {
                        await (commit ?? CommitAsync)(entry, next, decision.Events).ConfigureAwait(false);
                    }

                    // A refusal that changed the job (an expired lease found by a late call) is thrown once the change is stored.
                    return decision.Refused is { } refused ? throw refused : decision.Answer;
                }
                catch (JobConflictException) when (attempt < 3)
                {
                    // Another node changed the job first; CommitAsync reloaded it, so decide again on what is stored.
                }
            }
        }
        finally
        {
            entry.Gate.Release();
        }

        T DecideFinished(Job finished)
        {
            var decision = decide(finished, _time.GetUtcNow());
            return decision.Next is not null ? throw new InvalidOperationException("A finished job cannot change.")
                : decision.Refused is { } refused ? throw refused : decision.Answer;
        }
    }

    /// <summary>Stores the job, appends its events, then makes it visible; the caller holds the job's gate.</summary>
    private async Task CommitAsync(Entry entry, Job next, IReadOnlyList<EventDraft> events)
    {
        try
        {
            // Not cancellable: once the store has the change, its event and the memory must follow.
            await ApplyAndAppendAsync([new JobSaved(next) { Expected = JobPrecondition.Of(entry.Job) }], events).ConfigureAwait(false);
        }
        catch (JobConflictException)
        {
            Show(entry, await _store.GetAsync(entry.Job.Id, CancellationToken.None).ConfigureAwait(false));
            throw;
        }

        Show(entry, next);
    }

    /// <summary>
    /// Stores a change and appends its events: in one commit when the store shares the log's, else the change first (the
    /// stored job is the truth) and then its events. Not cancellable: once the store has the change, its event must follow.
    /// </summary>
    private async Task ApplyAndAppendAsync(IReadOnlyList<JobChange> changes, IReadOnlyList<EventDraft> events)
    {
        if (_storeWithEvents is null || events.Count == 0)
        {
            await _store.ApplyAsync(changes, CancellationToken.None).ConfigureAwait(false);
            await AppendAsync(events).ConfigureAwait(false);
            return;
        }

        await _storeWithEvents.ApplyAndAppendAsync(changes, events, CancellationToken.None).ConfigureAwait(false);
        CountPublished(events);
    }

    /// <summary>
    /// With a shared store: reads the jobs.{id} events every node appends, and reloads each job another node may have
    /// changed, so this node's queue, waiters and lease sweep see it. Output chunks change nothing stored and are skipped.
    /// </summary>
    private async Task FollowOtherNodesAsync(CancellationToken stoppingToken)
    {
        using var tail = new Subscriptions.LogTail(_log, Topics.TopicFilter.Parse(TopicPrefix + ">"), _followFrom);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var step = await tail.NextAsync(stoppingToken).ConfigureAwait(false);
                foreach (var id in step.Events.Where(e => e.Type != "job.output").Select(e => e.Topic[TopicPrefix.Length..]).Distinct(StringComparer.Ordinal))
                {
                    await ReloadAsync(id, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSweepFailed(_logger, ex);
                await Task.Delay(Options.LeaseCheckInterval, _time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Makes memory show the stored job (the truth when nodes share the store).</summary>
    private async Task ReloadAsync(string id, CancellationToken cancellationToken)
    {
        Entry? entry;
        lock (_lock)
        {
            _unfinished.TryGetValue(id, out entry);
        }

        if (entry is null)
        {
            var stored = await _store.GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (stored is null || stored.IsFinished)
            {
                return;
            }

            lock (_lock)
            {
                if (_unfinished.ContainsKey(id))
                {
                    return;
                }

                entry = new Entry(stored, ++_order);
                _unfinished[id] = entry;
                if (stored.IdempotencyKey is { } key)
                {
                    _keys[key] = id;
                }

                if (stored.Status == JobStatus.Queued)
                {
                    Enqueue(entry);
                }
            }

            return;
        }

        await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Read under the gate: no change of this node's can land between the read and showing it.
            Show(entry, await _store.GetAsync(id, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>Makes <paramref name="next"/> the visible state of the job (null: it is gone); the caller holds the job's gate.</summary>
    private void Show(Entry entry, Job? next)
    {
        if (next is not null && next == entry.Job)
        {
            return;
        }

        lock (_lock)
        {
            if (entry.InQueue)
            {
                QueueFor(entry.Job.Type).Ready.Remove(entry);
                entry.InQueue = false;
            }

            if (next is null)
            {
                _unfinished.Remove(entry.Job.Id);
                if (entry.Job.IdempotencyKey is { } gone)
                {
                    _keys.Remove(gone);
                }

                entry.Changed.Notify();
                return;
            }

            entry.Job = next;
            if (next.IsFinished)
            {
                _unfinished.Remove(next.Id);
                if (next.IdempotencyKey is { } key)
                {
                    _keys.Remove(key);
                }
            }
            else if (next.Status == JobStatus.Queued)
            {
                Enqueue(entry);
            }
        }

        entry.Changed.Notify();
    }

    private async Task AppendAsync(IReadOnlyList<EventDraft> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        try
        {
            await _log.AppendAsync(events, null, CancellationToken.None).ConfigureAwait(false);
            CountPublished(events);
        }
        catch (Exception ex)
        {
            // Only a store that does not commit with the log gets here (the in-memory one): the stored job is the
            // truth; followers of the topic miss this event, pollers of the job do not.
            LogEventFailed(_logger, events[0].Topic, ex);
        }
    }

    private void CountPublished(IReadOnlyList<EventDraft> events)
    {
        _metrics.Published(events.Count);
        foreach (var draft in events)
        {
            _jobMetrics.Changed(draft.Type);
        }
    }

    private static readonly KeyValuePair<string, object?> QueuedTag = new("status", "queued");
    private static readonly KeyValuePair<string, object?> RunningTag = new("status", "running");

    /// <summary>Each queue (job type) with its jobs waiting to be claimed, including those waiting out a retry delay.</summary>
    public IReadOnlyList<(string Queue, int Depth)> QueueDepths()
    {
        lock (_lock)
        {
            return [.. _queues.Where(q => q.Value.Ready.Count > 0).Select(q => (q.Key, q.Value.Ready.Count))];
        }
    }

    private Measurement<long>[] ObserveStatuses()
    {
        int unfinished, queued = 0;
        lock (_lock)
        {
            unfinished = _unfinished.Count;
            foreach (var queue in _queues.Values)
            {
                queued += queue.Ready.Count;
            }
        }

        return [new(queued, QueuedTag), new(unfinished - queued, RunningTag)];
    }

    private IEnumerable<Measurement<long>> ObserveQueues() =>
        QueueDepths().Select(static q => new Measurement<long>(q.Depth, new KeyValuePair<string, object?>("queue", q.Queue)));

    /// <summary>Claimers waiting for a job of <paramref name="type"/>, for tests.</summary>
    internal int WaitingClaimers(string type)
    {
        lock (_lock)
        {
            return QueueFor(type).Waiters.Count;
        }
    }

    /// <summary>Unfinished jobs, for tests and metrics.</summary>
    public int UnfinishedCount
    {
        get
        {
            lock (_lock)
            {
                return _unfinished.Count;
            }
        }
    }

    private void Enqueue(Entry entry)
    {
        var queue = QueueFor(entry.Job.Type);
        entry.QueueKey = (entry.Job.AvailableAt, entry.Job.CreatedAt, entry.Order);
        entry.InQueue = true;
        queue.Ready.Add(entry);
        queue.Waiters.WakeOne();
    }

    private TypeQueue QueueFor(string type)
    {
        if (!_queues.TryGetValue(type, out var queue))
        {
            _queues[type] = queue = new TypeQueue();
        }

        return queue;
    }

    private static EventDraft Event(Job job, string type) => new(TopicFor(job.Id), type, JobJson.EventData(job));

    /// <summary>
    /// Throws <c>invalid-job-id</c> (400) unless <paramref name="id"/> could name a job: one segment of a topic name, as
    /// the last segment of its topic <c>jobs.{id}</c>. It reads nothing but the id, so a caller who may not read the job
    /// learns only what the protocol says of every id.
    /// </summary>
    public static void ValidateId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var error = id.Contains('.', StringComparison.Ordinal) ? "A job id is one topic segment, so it cannot contain '.'."
            : Switchboard.Topics.TopicName.Validate(TopicFor(id));
        if (error is not null)
        {
            var shown = id.Length > 64 ? id[..64] + "…" : id;
            throw SwitchboardException.Invalid("invalid-job-id", "Invalid job id", $"'{shown}' is not a job id: {error} Job ids look like job_0mx8gibrck3v9x2m7qa4d8rtw.");
        }
    }

    /// <summary>The error for a job id that names no job.</summary>
    public static SwitchboardException NotFound(string id) => SwitchboardException.NotFound("job-not-found", "Job not found", $"There is no job {id}.");

    /// <summary>
    /// What a change decided: the next state (null for none), the answer, and the events to append; or, with
    /// <see cref="Refused"/>, the error to throw once the next state (if any) is stored.
    /// </summary>
    private readonly record struct Decision<T>(Job? Next, T Answer, IReadOnlyList<EventDraft> Events)
    {
        public Decision(Job? next, T answer)
            : this(next, answer, [])
        {
        }

        public SwitchboardException? Refused { get; init; }

        /// <summary>The same refusal for a call with another answer type (a refusal has no answer).</summary>
        public Decision<TOther> As<TOther>() => new(Next, default!, Events) { Refused = Refused };
    }

    /// <summary>A decided change of a job, not stored yet; its gate is held.</summary>
    private sealed record PendingChange(Entry Entry, Job Next, IReadOnlyList<EventDraft> Events);

    /// <summary>No answer: the decision of a refusal.</summary>
    private readonly record struct Unit;

    private sealed class Entry(Job job, long order)
    {
        public Job Job { get; set; } = job;

        /// <summary>When this node first saw the job; breaks ties of equal times, and stays with the job when it is requeued.</summary>
        public long Order { get; } = order;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public BroadcastSignal Changed { get; } = new();

        public bool InQueue { get; set; }

        /// <summary>
        /// The place in line: when the job became (or becomes) claimable, then its submit time, then arrival. Submits and
        /// lost leases keep the job's first place; a retry after a backoff is placed at its due time.
        /// </summary>
        public (DateTimeOffset AvailableAt, DateTimeOffset CreatedAt, long Order) QueueKey { get; set; }
    }

    private sealed class TypeQueue
    {
        public SortedSet<Entry> Ready { get; } = new(Comparer<Entry>.Create(static (a, b) => a.QueueKey.CompareTo(b.QueueKey)));

        public ClaimWaiters Waiters { get; } = new();
    }

    /// <summary>
    /// The claimers waiting for a job of one type, oldest first. A new job wakes one of them rather than all: the others
    /// would only find the queue empty again. Used under the queue's lock.
    /// </summary>
    private sealed class ClaimWaiters
    {
        private readonly LinkedList<TaskCompletionSource> _waiting = new();

        public int Count => _waiting.Count;

        public LinkedListNode<TaskCompletionSource> Join() => _waiting.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void WakeOne()
        {
            if (_waiting.First is { } first)
            {
                _waiting.RemoveFirst();
                first.Value.TrySetResult();
            }
        }

        /// <summary>Leaves the line; true when the claimer had been woken.</summary>
        public bool Leave(LinkedListNode<TaskCompletionSource> node)
        {
            if (node.List is null)
            {
                return true;
            }

            _waiting.Remove(node);
            return false;
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Jobs loaded: {Unfinished} unfinished")]
    private static partial void LogLoaded(ILogger logger, int unfinished);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Job {JobId}: the lease expired without a heartbeat")]
    private static partial void LogLeaseExpired(ILogger logger, string jobId);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "Deleted {Count} finished jobs past their retention")]
    private static partial void LogTrimmed(ILogger logger, int count);

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "The job lease and retention sweep failed; retrying")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 505, Level = LogLevel.Warning, Message = "A claim of {Type} failed after its completion was stored; answered as no job")]
    private static partial void LogClaimAfterCompleteFailed(ILogger logger, string type, Exception exception);

    [LoggerMessage(EventId = 504, Level = LogLevel.Error, Message = "Appending the job event on {Topic} failed; the job's stored state is unaffected")]
    private static partial void LogEventFailed(ILogger logger, string topic, Exception exception);
}
