using Switchboard.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Jobs;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Problems;

namespace Switchboard.Jobs.Tests;

/// <summary>
/// The job engine's refusals, straight from <see cref="JobQueue"/> without a server: each is a kind and a stable code,
/// and no HTTP status. The queue is never started, so no sweep runs and nothing waits on time.
/// </summary>
public sealed class JobQueueErrorTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly JobOptions _options = new();
    private readonly SwitchboardMetrics _metrics = new();
    private readonly JobQueue _queue;

    public JobQueueErrorTests()
    {
        _queue = new JobQueue(new InMemoryJobStore(), new InMemoryEventLog(_time), new FixedOptions<JobOptions>(_options), _time, NullLogger<JobQueue>.Instance, _metrics);
    }

    public void Dispose()
    {
        _queue.Dispose();
        _metrics.Dispose();
    }

    [Fact]
    public async Task Cancel_UnknownJob_IsNotFound_JobNotFound()
    {
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.CancelAsync("job_nope"));

        Assert.Equal((SwitchboardErrorKind.NotFound, "job-not-found"), (error.Kind, error.Code));
        Assert.Contains("job_nope", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeat_UnknownJob_IsNotFound_JobNotFound()
    {
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.HeartbeatAsync("job_nope", "lease", TimeSpan.FromSeconds(30)));

        Assert.Equal((SwitchboardErrorKind.NotFound, "job-not-found"), (error.Kind, error.Code));
    }

    [Fact]
    public async Task Get_UnknownJob_IsNull_AndTheEndpointsError_IsNotFound()
    {
        // GET answers with JobQueue.NotFound when the queue has no such job: the same error as cancel.
        Assert.Null(await _queue.GetAsync("job_nope"));
        var error = JobQueue.NotFound("job_nope");
        Assert.Equal((SwitchboardErrorKind.NotFound, "job-not-found", "Job not found"), (error.Kind, error.Code, error.Title));
    }

    [Fact]
    public async Task Cancel_SucceededJob_IsConflict_JobFinished()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 1, null);
        var claim = await _queue.ClaimAsync("resize", "w1", TimeSpan.FromSeconds(30), TimeSpan.Zero);
        Assert.NotNull(claim);
        await _queue.CompleteAsync(job.Id, claim.Lease.Id, "null");

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.CancelAsync(job.Id));

        Assert.Equal((SwitchboardErrorKind.Conflict, "job-finished"), (error.Kind, error.Code));
    }

    [Fact]
    public async Task Heartbeat_WithAnotherLease_IsConflict_LeaseLost()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 1, null);
        Assert.NotNull(await _queue.ClaimAsync("resize", "w1", TimeSpan.FromSeconds(30), TimeSpan.Zero));

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.HeartbeatAsync(job.Id, "not-the-lease", TimeSpan.FromSeconds(30)));

        Assert.Equal((SwitchboardErrorKind.Conflict, "lease-lost"), (error.Kind, error.Code));
    }

    [Fact]
    public async Task Heartbeat_AfterCancel_IsConflict_JobCanceled()
    {
        var (job, _) = await _queue.SubmitAsync("resize", "{}", 1, null);
        var claim = await _queue.ClaimAsync("resize", "w1", TimeSpan.FromSeconds(30), TimeSpan.Zero);
        Assert.NotNull(claim);
        await _queue.CancelAsync(job.Id);

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.HeartbeatAsync(job.Id, claim.Lease.Id, TimeSpan.FromSeconds(30)));

        Assert.Equal((SwitchboardErrorKind.Conflict, "job-canceled"), (error.Kind, error.Code));
    }

    [Fact]
    public async Task Submit_KeyReusedForAnotherJob_IsMismatch_IdempotencyKeyReused()
    {
        await _queue.SubmitAsync("resize", """{"w":1}""", 1, "key-1");

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.SubmitAsync("resize", """{"w":2}""", 1, "key-1"));

        Assert.Equal((SwitchboardErrorKind.Mismatch, "idempotency-key-reused"), (error.Kind, error.Code));
    }

    [Fact]
    public async Task Submit_OverTheUnfinishedLimit_IsUnavailable_TooManyJobs_WithRetryAfter()
    {
        _options.MaxUnfinishedJobs = 1;
        await _queue.SubmitAsync("resize", "{}", 1, null);

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => _queue.SubmitAsync("resize", "{}", 1, null));

        Assert.Equal((SwitchboardErrorKind.Unavailable, "too-many-jobs"), (error.Kind, error.Code));
        Assert.Equal(TimeSpan.FromSeconds(5), error.RetryAfter);
    }
}
