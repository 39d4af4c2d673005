using Switchboard.Jobs;
using Switchboard.Testing;
using Switchboard.Testing.Jobs;

namespace Switchboard.Storage.Redis.Tests;

public sealed class RedisJobStoreTests(RedisFixture redis) : JobStoreSpecification, IClassFixture<RedisFixture>
{
    protected override IJobStore CreateStore() => new RedisJobStore(Connect());

    private RedisConnection Connect() => new(new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = $"t{Guid.NewGuid():N}:" });

    [Fact]
    public async Task Save_WithAStaleExpectation_IsAConflict_AndChangesNothing()
    {
        await using var store = CreateStore();
        var queued = NewJob();
        await store.ApplyAsync([new JobSaved(queued) { Expected = JobPrecondition.New }]);
        var byNode1 = queued with { Status = JobStatus.Running, Version = 2, Lease = new JobLease("lease-1", T0.AddMinutes(1), "node1") };
        var byNode2 = queued with { Status = JobStatus.Running, Version = 2, Lease = new JobLease("lease-2", T0.AddMinutes(1), "node2") };

        await store.ApplyAsync([new JobSaved(byNode1) { Expected = JobPrecondition.Of(queued) }]);
        var conflict = await Assert.ThrowsAsync<JobConflictException>(() => store.ApplyAsync([new JobSaved(byNode2) { Expected = JobPrecondition.Of(queued) }]));

        Assert.Equal("job_1", conflict.JobId);
        Assert.Equal(byNode1, await store.GetAsync("job_1"));
        await Assert.ThrowsAsync<JobConflictException>(() => store.ApplyAsync([new JobSaved(NewJob()) { Expected = JobPrecondition.New }]));
    }

    [Fact]
    public async Task NewJob_WithAKeyAnotherJobHolds_IsAConflict()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([new JobSaved(NewJob("job_a", key: "k")) { Expected = JobPrecondition.New }]);
        await Assert.ThrowsAsync<JobConflictException>(() => store.ApplyAsync([new JobSaved(NewJob("job_b", key: "k")) { Expected = JobPrecondition.New }]));
        Assert.Equal("job_a", (await store.FindByIdempotencyKeyAsync("k"))!.Id);
    }
}
