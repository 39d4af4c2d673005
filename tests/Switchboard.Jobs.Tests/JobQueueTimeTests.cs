using Switchboard.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.Jobs.Tests;

/// <summary>
/// The queue's leases and retries on a <see cref="FakeTimeProvider"/>: the transitions of <see cref="JobTransitions"/>
/// as the queue stores, announces and shows them. The queue is never started; the sweep is called by hand.
/// </summary>
public sealed class JobQueueTimeTests : IDisposable
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly JobOptions _options = new();
    private readonly SwitchboardMetrics _metrics = new();
    private readonly InMemoryEventLog _log;
    private readonly InMemoryJobStore _store = new();
    private readonly JobQueue _queue;

    public JobQueueTimeTests()
    {
        _log = new InMemoryEventLog(_time);
        _queue = new JobQueue(_store, _log, new FixedOptions<JobOptions>(_options), _time, NullLogger<JobQueue>.Instance, _metrics);
    }

    public void Dispose()
    {
        _queue.Dispose();
        _metrics.Dispose();
    }

    [Fact]
    public async Task TheSweep_RequeuesAnExpiredLease_AndTheJobIsClaimableAgain()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 3, null);
        var first = await _queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero);
        Assert.NotNull(first);

        _time.Advance(Lease - TimeSpan.FromMilliseconds(1));
        await _queue.ExpireLeasesAsync();
        Assert.Equal(JobStatus.Running, (await _queue.GetAsync(job.Id))!.Status);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await _queue.ExpireLeasesAsync();
        var requeued = await _queue.GetAsync(job.Id);
        Assert.Equal((JobStatus.Queued, 1), (requeued!.Status, requeued.Attempts));

        var second = await _queue.ClaimAsync("resize", "w2", Lease, TimeSpan.Zero);
        Assert.Equal((job.Id, 2), (second!.Job.Id, second.Job.Attempts));
        Assert.Equal(["job.queued", "job.running", "job.queued", "job.running"], await EventTypesAsync(job.Id));
    }

    [Fact]
    public async Task AHeartbeatAfterTheLeasesEnd_IsConflict_LeaseExpired_AndStoresTheRequeue()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 3, null);
        var claim = await _queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero);
        _time.Advance(Lease);

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.HeartbeatAsync(job.Id, claim!.Lease.Id, Lease));

        Assert.Equal((SwitchboardErrorKind.Conflict, "lease-expired"), (error.Kind, error.Code));
        // The late call moved the job on at once; it did not wait for the sweep.
        Assert.Equal(JobStatus.Queued, (await _store.GetAsync(job.Id))!.Status);
        Assert.Equal(["job.queued", "job.running", "job.queued"], await EventTypesAsync(job.Id));
    }

    [Fact]
    public async Task ALostLeaseOnTheLastAttempt_FailsTheJob()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 1, null);
        await _queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero);
        _time.Advance(Lease);

        await _queue.ExpireLeasesAsync();

        var failed = await _queue.GetAsync(job.Id);
        Assert.Equal(JobStatus.Failed, failed!.Status);
        Assert.Contains("lease-expired", failed.Error, StringComparison.Ordinal);
        Assert.Equal(0, _queue.UnfinishedCount);
    }

    [Fact]
    public async Task ARetryableFailure_IsClaimable_OnlyAfterItsBackoff()
    {
        _options.RetryBackoff = TimeSpan.FromSeconds(4);
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 3, null);
        var claim = await _queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero);

        var queued = await _queue.FailAsync(job.Id, claim!.Lease.Id, "{}", retryable: true);
        Assert.Equal((JobStatus.Queued, _time.GetUtcNow() + TimeSpan.FromSeconds(4)), (queued.Status, queued.AvailableAt));

        Assert.Null(await _queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero));
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(job.Id, (await _queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero))!.Job.Id);
    }

    [Fact]
    public async Task CancelTwice_IsTheSameJob_WithOneEvent()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 3, null);

        var first = await _queue.CancelAsync(job.Id);
        var second = await _queue.CancelAsync(job.Id);

        Assert.Equal(first, second);
        Assert.Equal(["job.queued", "job.canceled"], await EventTypesAsync(job.Id));
    }

    [Fact]
    public async Task ProgressWithOutput_AnnouncesTheChunk_ProgressAlone_AnnouncesTheChange()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 3, null);
        var claim = await _queue.ClaimAsync("resize", "w1", Lease, TimeSpan.Zero);

        await _queue.ProgressAsync(job.Id, claim!.Lease.Id, 10, "step 1", Lease);
        await _queue.ProgressAsync(job.Id, claim.Lease.Id, 20, null, Lease);
        await _queue.ProgressAsync(job.Id, claim.Lease.Id, 20, null, Lease); // no change: nothing announced

        Assert.Equal(["job.queued", "job.running", "job.output", "job.progress"], await EventTypesAsync(job.Id));
    }

    private async Task<string[]> EventTypesAsync(string jobId) =>
        [.. (await _log.ReadAsync(TopicFilter.Parse(JobQueue.TopicFor(jobId)), 0, 100)).Events.Select(e => e.Type)];
}
