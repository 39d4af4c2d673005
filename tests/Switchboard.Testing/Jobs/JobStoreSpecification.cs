using Switchboard.Jobs;
using Xunit;

namespace Switchboard.Testing.Jobs;

/// <summary>What every <see cref="IJobStore"/> must do; each store's tests subclass this.</summary>
public abstract class JobStoreSpecification
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 28, 0, 0, 0, TimeSpan.Zero);

    protected abstract IJobStore CreateStore();

    protected static Job NewJob(string id = "job_1", JobStatus status = JobStatus.Queued, string? key = null, DateTimeOffset? updatedAt = null) => new()
    {
        Id = id,
        Type = "share-post",
        Status = status,
        Input = """{"post":"hello"}""",
        IdempotencyKey = key,
        CreatedAt = T0,
        UpdatedAt = updatedAt ?? T0,
        AvailableAt = T0,
    };

    [Fact]
    public async Task SavedJob_ReadsBackWithEveryField()
    {
        await using var store = CreateStore();
        var job = NewJob(key: "k1") with
        {
            Status = JobStatus.Running,
            Progress = 40,
            Attempts = 2,
            MaxAttempts = 5,
            Error = """{"code":"job-failed"}""",
            Result = """{"url":"https://x"}""",
            Version = 7,
            AvailableAt = T0.AddSeconds(3),
            UpdatedAt = T0.AddSeconds(4),
            Lease = new JobLease("lease-1", T0.AddSeconds(30), "worker-a", TimeSpan.FromSeconds(45)),
            LastLeaseId = "lease-0",
        };

        await store.ApplyAsync([new JobSaved(job)]);

        Assert.Equal(job, await store.GetAsync("job_1"));
        Assert.Equal(job, await store.FindByIdempotencyKeyAsync("k1"));
        Assert.Null(await store.GetAsync("job_2"));
        Assert.Null(await store.FindByIdempotencyKeyAsync("k2"));
    }

    [Fact]
    public async Task SavingAgain_ReplacesTheJob_AndClearsWhatIsGone()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([new JobSaved(NewJob() with { Status = JobStatus.Running, Lease = new JobLease("l", T0, null) })]);

        var done = NewJob() with { Status = JobStatus.Succeeded, Result = "42", Version = 3 };
        await store.ApplyAsync([new JobSaved(done)]);

        Assert.Equal(done, await store.GetAsync("job_1"));
    }

    [Fact]
    public async Task LoadUnfinished_ReturnsQueuedAndRunningOnly_OldestFirst()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([
            new JobSaved(NewJob("job_b") with { CreatedAt = T0.AddSeconds(2) }),
            new JobSaved(NewJob("job_a", JobStatus.Running) with { CreatedAt = T0.AddSeconds(1) }),
            new JobSaved(NewJob("job_c", JobStatus.Succeeded)),
            new JobSaved(NewJob("job_d", JobStatus.Failed)),
            new JobSaved(NewJob("job_e", JobStatus.Canceled)),
        ]);

        var unfinished = await store.LoadUnfinishedAsync();

        Assert.Equal(["job_a", "job_b"], unfinished.Select(j => j.Id));
    }

    [Fact]
    public async Task DeleteFinished_RemovesOnlyOldFinishedJobs_UpToTheLimit()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([
            new JobSaved(NewJob("job_old1", JobStatus.Succeeded, key: "k-old", updatedAt: T0)),
            new JobSaved(NewJob("job_old2", JobStatus.Failed, updatedAt: T0.AddSeconds(1))),
            new JobSaved(NewJob("job_old3", JobStatus.Canceled, updatedAt: T0.AddSeconds(2))),
            new JobSaved(NewJob("job_new", JobStatus.Succeeded, updatedAt: T0.AddHours(1))),
            new JobSaved(NewJob("job_queued", JobStatus.Queued, updatedAt: T0)),
        ]);

        Assert.Equal(2, await store.DeleteFinishedAsync(T0.AddMinutes(1), limit: 2));
        Assert.Equal(1, await store.DeleteFinishedAsync(T0.AddMinutes(1), limit: 10));

        Assert.Null(await store.GetAsync("job_old1"));
        Assert.Null(await store.FindByIdempotencyKeyAsync("k-old"));
        Assert.Null(await store.GetAsync("job_old3"));
        Assert.NotNull(await store.GetAsync("job_new"));
        Assert.NotNull(await store.GetAsync("job_queued"));
    }

    [Fact]
    public async Task Deleted_IsGone_WithItsKey()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([new JobSaved(NewJob(key: "k")), new JobDeleted("job_1")]);

        Assert.Null(await store.GetAsync("job_1"));
        Assert.Null(await store.FindByIdempotencyKeyAsync("k"));
        Assert.Empty(await store.LoadUnfinishedAsync());
    }
}
