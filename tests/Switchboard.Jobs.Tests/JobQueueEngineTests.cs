using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Jobs;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Problems;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Jobs.Tests;

/// <summary>
/// The job engine without a server: who a new job wakes, and what a job change costs the SQLite writer. Time is a
/// <see cref="FakeTimeProvider"/> that never moves, so every claim wait lasts until a job wakes it.
/// </summary>
public sealed class JobQueueEngineTests : IAsyncDisposable
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LongWait = TimeSpan.FromMinutes(5);
    private readonly FakeTimeProvider _time = new();
    private readonly SwitchboardMetrics _metrics = new();
    private readonly TempDirectory _directory = new();
    private readonly List<IAsyncDisposable> _disposables = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }

        _metrics.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task ANewJob_WakesOneWaitingClaimer_OfItsTypeOnly()
    {
        var queue = InMemoryQueue();
        var claimers = Enumerable.Range(0, 5).Select(_ => queue.ClaimAsync("resize", null, Lease, LongWait)).ToList();
        var other = queue.ClaimAsync("email", null, Lease, LongWait);
        await Waiting.UntilAsync(() => queue.WaitingClaimers("resize") == 5 && queue.WaitingClaimers("email") == 1, "six claimers waiting");

        var (job, _) = await queue.SubmitAsync("resize", "{}", 3, null);

        var first = await Task.WhenAny(claimers).WaitAsync(Waiting.DefaultTimeout);
        Assert.Equal(job.Id, (await first)!.Job.Id);
        // The job woke one claimer: the other four are still in line, untouched, and the other type's claimer too.
        Assert.Equal(4, queue.WaitingClaimers("resize"));
        Assert.Equal(1, queue.WaitingClaimers("email"));
        Assert.Equal(1, claimers.Count(c => c.IsCompleted));
        Assert.False(other.IsCompleted);
    }

    [Fact]
    public async Task ThreeJobs_WakeThreeClaimers_EachWithItsOwnJob()
    {
        var queue = InMemoryQueue();
        var claimers = Enumerable.Range(0, 5).Select(_ => queue.ClaimAsync("resize", null, Lease, LongWait)).ToList();
        await Waiting.UntilAsync(() => queue.WaitingClaimers("resize") == 5, "five claimers waiting");

        var jobs = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            jobs.Add((await queue.SubmitAsync("resize", "{}", 3, null)).Job.Id);
        }

        await Waiting.UntilAsync(() => claimers.Count(c => c.IsCompleted) == 3, "three claims");
        var claimed = claimers.Where(c => c.IsCompleted).Select(c => c.Result!.Job.Id).Order().ToList();
        Assert.Equal(jobs.Order(), claimed);
        Assert.Equal(2, queue.WaitingClaimers("resize"));
    }

    [Fact]
    public async Task AClaimerThatGivesUp_LeavesTheLine_AndTheJobGoesToTheNext()
    {
        var queue = InMemoryQueue();
        using var cancel = new CancellationTokenSource();
        var leaving = queue.ClaimAsync("resize", null, Lease, LongWait, cancel.Token);
        await Waiting.UntilAsync(() => queue.WaitingClaimers("resize") == 1, "the first claimer waiting");
        var staying = queue.ClaimAsync("resize", null, Lease, LongWait);
        await Waiting.UntilAsync(() => queue.WaitingClaimers("resize") == 2, "two claimers waiting");

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving).Within();
        Assert.Equal(1, queue.WaitingClaimers("resize"));

        var (job, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        Assert.Equal(job.Id, (await staying.WaitAsync(Waiting.DefaultTimeout))!.Job.Id);
    }

    [Fact]
    public async Task OnSqlite_EachJobChange_IsOneCommit_WithItsEvent()
    {
        var log = Track(new SqliteEventLog(new SqliteEventLogOptions { Path = Path.Combine(_directory.Path, "hub.db") }, _time));
        var store = Track(new SqliteJobStore(log, Path.Combine(_directory.Path, "hub.db")));
        var queue = Queue(store, log);

        var commits = log.CommitCount;
        var (job, _) = await queue.SubmitAsync("resize", "{\"w\":1}", 3, null);
        Assert.Equal(commits + 1, log.CommitCount);

        var claim = await queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero);
        Assert.NotNull(claim);
        Assert.Equal(commits + 2, log.CommitCount);

        await queue.ProgressAsync(job.Id, claim.Lease.Id, 50, null, Lease);
        Assert.Equal(commits + 3, log.CommitCount);

        await queue.CompleteAsync(job.Id, claim.Lease.Id, "{\"ok\":true}");
        Assert.Equal(commits + 4, log.CommitCount);

        // Each commit stored the row and appended its event: the store and the log agree on every step.
        var events = await log.ReadAsync(TopicFilter.Parse(JobQueue.TopicFor(job.Id)), 0, 10);
        Assert.Equal(["job.queued", "job.running", "job.progress", "job.succeeded"], events.Events.Select(e => e.Type));
        var stored = await store.GetAsync(job.Id);
        Assert.Equal(JobStatus.Succeeded, stored!.Status);
    }

    [Fact]
    public async Task OnSqlite_AChangeThatFailsToStore_AppendsNoEvent()
    {
        var log = Track(new SqliteEventLog(new SqliteEventLogOptions { Path = Path.Combine(_directory.Path, "hub.db") }, _time));
        var head = log.HeadSeq;

        await Assert.ThrowsAsync<InvalidOperationException>(() => log.ExecuteWriteAndAppendAsync(
            _ => throw new InvalidOperationException("the row cannot be written"),
            [new Switchboard.Events.EventDraft("jobs.x", "job.queued", "{}"u8.ToArray())]));
        var after = await log.AppendAsync([new Switchboard.Events.EventDraft("other", "message", "{}"u8.ToArray())]);

        // Nothing of the failed change exists, and the seq it would have taken goes to the next append.
        Assert.Equal(head + 1, after.Events[0].Seq);
        Assert.Empty((await log.ReadAsync(TopicFilter.Parse("jobs.x"), 0, 10)).Events);
    }

    [Fact]
    public async Task OnSqlite_CompleteAndClaim_IsOneCommit_ForTheFinishedJobAndTheNext()
    {
        var (log, store) = Sqlite();
        var queue = Queue(store, log);
        var (first, _) = await queue.SubmitAsync("resize", "{\"n\":1}", 3, null);
        var (second, _) = await queue.SubmitAsync("resize", "{\"n\":2}", 3, null);
        var claim = (await queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero))!;
        Assert.Equal(first.Id, claim.Job.Id);

        var commits = log.CommitCount;
        var next = await queue.CompleteAndClaimAsync(first.Id, claim.Lease.Id, "{\"ok\":true}", "resize", "w1", Lease, TimeSpan.Zero);

        Assert.Equal(second.Id, next!.Job.Id);
        Assert.Equal(JobStatus.Running, next.Job.Status);
        Assert.Equal(commits + 1, log.CommitCount);
        // Both changes are stored, with their events, in that order.
        Assert.Equal(JobStatus.Succeeded, (await store.GetAsync(first.Id))!.Status);
        Assert.Equal(next.Lease.Id, (await store.GetAsync(second.Id))!.Lease!.Id);
        var events = await log.ReadAsync(TopicFilter.Parse(JobQueue.TopicPrefix + ">"), 0, 10);
        Assert.Equal(["job.queued", "job.queued", "job.running", "job.succeeded", "job.running"], events.Events.Select(e => e.Type));
        Assert.Equal(JobQueue.TopicFor(first.Id), events.Events[3].Topic);
        Assert.Equal(JobQueue.TopicFor(second.Id), events.Events[4].Topic);
        Assert.Equal("{\"ok\":true}", (await queue.GetAsync(first.Id))!.Result);
    }

    [Fact]
    public async Task CompleteAndClaim_WithNothingQueued_StoresTheCompletion_ThenWaitsLikeAClaim()
    {
        var queue = InMemoryQueue();
        var (first, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var claim = (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!;

        var next = queue.CompleteAndClaimAsync(first.Id, claim.Lease.Id, "1", "resize", null, Lease, LongWait);
        await Waiting.UntilAsync(() => queue.WaitingClaimers("resize") == 1, "the claim waiting after the completion");
        Assert.Equal(JobStatus.Succeeded, (await queue.GetAsync(first.Id))!.Status);
        Assert.False(next.IsCompleted);

        var (second, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        Assert.Equal(second.Id, (await next.WaitAsync(Waiting.DefaultTimeout))!.Job.Id);
    }

    [Fact]
    public async Task CompleteAndClaim_WhenTheCompletionIsRefused_ClaimsNothing()
    {
        var (log, store) = Sqlite();
        var queue = Queue(store, log);
        var (first, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var (second, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var claim = (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!;

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => queue.CompleteAndClaimAsync(first.Id, "not-the-lease", "1", "resize", null, Lease, LongWait));

        Assert.Equal("lease-lost", error.Code);
        Assert.Equal(JobStatus.Running, (await queue.GetAsync(first.Id))!.Status);
        Assert.Equal(JobStatus.Queued, (await queue.GetAsync(second.Id))!.Status);
        Assert.Equal(second.Id, (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!.Job.Id);
        _ = claim;
    }

    [Fact]
    public async Task CompleteAndClaim_ALateCompletionWhoseLeaseExpired_StoresTheExpiry_AndClaimsNothing()
    {
        var (log, store) = Sqlite();
        var queue = Queue(store, log);
        var (first, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var (second, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var claim = (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!;
        _time.Advance(Lease + TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => queue.CompleteAndClaimAsync(first.Id, claim.Lease.Id, "1", "resize", null, Lease, LongWait));

        // The expiry put the first job back in line, ahead of the second, and nothing was claimed along with the refusal.
        Assert.Equal("lease-expired", error.Code);
        Assert.Equal(JobStatus.Queued, (await queue.GetAsync(first.Id))!.Status);
        Assert.Equal(JobStatus.Queued, (await queue.GetAsync(second.Id))!.Status);
        Assert.Equal(first.Id, (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!.Job.Id);
    }

    [Fact]
    public async Task OnSqlite_CompleteAndClaim_ThatFailsToStore_ChangesNeitherJob()
    {
        var (log, sqlite) = Sqlite();
        var store = new FailingStore(sqlite);
        var queue = Queue(store, log);
        var (first, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var (second, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var claim = (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!;
        var head = log.HeadSeq;

        store.FailNext = true;
        await Assert.ThrowsAsync<IOException>(() => queue.CompleteAndClaimAsync(first.Id, claim.Lease.Id, "1", "resize", null, Lease, LongWait));

        // Both or neither: the first job still runs under its lease, the second is back in line, and no event was appended.
        Assert.Equal(head, log.HeadSeq);
        Assert.Equal(JobStatus.Running, (await sqlite.GetAsync(first.Id))!.Status);
        Assert.Equal(JobStatus.Queued, (await sqlite.GetAsync(second.Id))!.Status);
        var retried = await queue.CompleteAndClaimAsync(first.Id, claim.Lease.Id, "1", "resize", null, Lease, TimeSpan.Zero);
        Assert.Equal(second.Id, retried!.Job.Id);
        Assert.Equal(JobStatus.Succeeded, (await sqlite.GetAsync(first.Id))!.Status);
    }

    [Fact]
    public async Task CompleteAndClaim_WhenTheWaitIsStopped_StillStoresTheCompletion()
    {
        var queue = InMemoryQueue();
        var (first, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var claim = (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!;
        using var stopping = new CancellationTokenSource();
        await stopping.CancelAsync();

        // A host shutting down ends the claim's wait, not the completion that comes first.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            queue.CompleteAndClaimAsync(first.Id, claim.Lease.Id, "1", "resize", null, Lease, LongWait, CancellationToken.None, stopping.Token));

        Assert.Equal(JobStatus.Succeeded, (await queue.GetAsync(first.Id))!.Status);
    }

    [Fact]
    public async Task OnSqlite_CompleteAndClaim_AStoreFaultAfterTheCompletionIsStored_IsNoJob_AndTheJobStaysInLine()
    {
        var (log, sqlite) = Sqlite();
        var store = new FailingStore(sqlite);
        var queue = Queue(store, log);
        var (first, _) = await queue.SubmitAsync("resize", "{}", 3, null);
        var claim = (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!;

        // Nothing is waiting, so the completion is stored alone and the claim waits; the job that then arrives is
        // submitted fine, but its claim's commit fails.
        var next = queue.CompleteAndClaimAsync(first.Id, claim.Lease.Id, "1", "resize", null, Lease, LongWait);
        await Waiting.UntilAsync(() => queue.WaitingClaimers("resize") == 1, "the claim waiting after the completion");
        store.FailAfterCalls = 1;
        var (second, _) = await queue.SubmitAsync("resize", "{}", 3, null);

        Assert.Null(await next.WaitAsync(Waiting.DefaultTimeout));
        Assert.Equal(JobStatus.Succeeded, (await sqlite.GetAsync(first.Id))!.Status);
        Assert.Equal(JobStatus.Queued, (await sqlite.GetAsync(second.Id))!.Status);
        Assert.Equal(second.Id, (await queue.ClaimAsync("resize", null, Lease, TimeSpan.Zero))!.Job.Id);
    }

    [Fact]
    public void JobIds_SortByTheirSubmitTime_AndStayUnguessable()
    {
        var start = new DateTimeOffset(2026, 12, 4, 8, 0, 0, TimeSpan.Zero);
        var times = new[] { start, start.AddMilliseconds(1), start.AddMilliseconds(35), start.AddSeconds(36), start.AddDays(400), start.AddYears(900) };
        var ids = times.Select(JobQueue.NewJobId).ToList();

        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        Assert.All(ids, id => Assert.Matches("^job_[0-9a-z]{25}$", id));
        // The same millisecond gives ids that differ in their random part.
        var same = Enumerable.Range(0, 1000).Select(_ => JobQueue.NewJobId(start)).ToList();
        Assert.Equal(1000, same.Distinct(StringComparer.Ordinal).Count());
        Assert.All(same, id => Assert.Equal(ids[0][..13], id[..13]));
    }

    private (SqliteEventLog Log, SqliteJobStore Store) Sqlite()
    {
        var path = Path.Combine(_directory.Path, "hub.db");
        var log = Track(new SqliteEventLog(new SqliteEventLogOptions { Path = path }, _time));
        return (log, Track(new SqliteJobStore(log, path)));
    }

    /// <summary>The SQLite job store, whose next combined commit can be made to fail as a full disk would.</summary>
    private sealed class FailingStore(SqliteJobStore inner) : IJobStore, IJobStoreWithEvents
    {
        public bool FailNext { get; set; }

        /// <summary>When set, this many more combined commits succeed, and the one after them fails.</summary>
        public int? FailAfterCalls { get; set; }

        public Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default) => inner.LoadUnfinishedAsync(cancellationToken);

        public Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default) => inner.GetAsync(id, cancellationToken);

        public Task<Job?> FindByIdempotencyKeyAsync(string key, CancellationToken cancellationToken = default) => inner.FindByIdempotencyKeyAsync(key, cancellationToken);

        public Task ApplyAsync(IReadOnlyList<JobChange> changes, CancellationToken cancellationToken = default) => inner.ApplyAsync(changes, cancellationToken);

        public Task<int> DeleteFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default) => inner.DeleteFinishedAsync(before, limit, cancellationToken);

        public bool CommitsWith(IEventLog log) => inner.CommitsWith(log);

        public Task<AppendResult> ApplyAndAppendAsync(IReadOnlyList<JobChange> changes, IReadOnlyList<Switchboard.Events.EventDraft> events, CancellationToken cancellationToken = default)
        {
            if (FailAfterCalls is { } after)
            {
                FailAfterCalls = after == 0 ? null : after - 1;
                FailNext |= after == 0;
            }

            if (FailNext)
            {
                FailNext = false;
                return Task.FromException<AppendResult>(new IOException("disk full"));
            }

            return inner.ApplyAndAppendAsync(changes, events, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private JobQueue InMemoryQueue() => Queue(new InMemoryJobStore(), new InMemoryEventLog(_time));

    private JobQueue Queue(IJobStore store, IEventLog log)
    {
        var queue = new JobQueue(store, log, new FixedOptions<JobOptions>(new JobOptions()), _time, NullLogger<JobQueue>.Instance, _metrics);
        _disposables.Add(new Disposer(queue.Dispose));
        return queue;
    }

    private T Track<T>(T disposable)
        where T : IAsyncDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    private sealed class Disposer(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }
}
