using Microsoft.Extensions.Time.Testing;

namespace Switchboard.Jobs.Tests;

/// <summary>
/// The job state machine alone: a job, a command and the time in, the next state (and its event) or a refusal out.
/// Time is a <see cref="FakeTimeProvider"/> moved by hand, so lease ends and backoffs are exact.
/// </summary>
public sealed class JobTransitionsTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private DateTimeOffset Now => _time.GetUtcNow();

    [Fact]
    public void Submit_IsQueued_ClaimableNow_AtVersionOne()
    {
        var job = Submitted(maxAttempts: 3);

        Assert.Equal((JobStatus.Queued, 0, 1L, Now, Now, Now), (job.Status, job.Attempts, job.Version, job.CreatedAt, job.UpdatedAt, job.AvailableAt));
        Assert.Null(job.Lease);
    }

    [Fact]
    public void Claim_Queued_RunsUnderTheLease_CountsTheAttempt()
    {
        var step = JobTransitions.Apply(Submitted(), new ClaimJob("lease-1", "w1", Lease), Now);

        var running = Assert.IsType<Job>(step.Next);
        Assert.Equal((JobStatus.Running, 1, 2L, "job.running", JobRefusal.None), (running.Status, running.Attempts, running.Version, step.EventType, step.Refusal));
        Assert.Equal(new JobLease("lease-1", Now + Lease, "w1", Lease), running.Lease);
    }

    [Theory]
    [InlineData(JobStatus.Running)]
    [InlineData(JobStatus.Succeeded)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Canceled)]
    public void Claim_AnythingButQueued_IsRefused_NotQueued(JobStatus status)
    {
        var step = JobTransitions.Apply(Submitted() with { Status = status }, new ClaimJob("lease-2", null, Lease), Now);

        Assert.Equal((null, JobRefusal.NotQueued), (step.Next, step.Refusal));
    }

    [Fact]
    public void Heartbeat_MovesOnlyTheLease_NoVersion_NoEvent()
    {
        var running = Running();
        _time.Advance(TimeSpan.FromSeconds(10));

        var step = JobTransitions.Apply(running, new RenewLease("lease-1", TimeSpan.FromSeconds(60), Lease), Now);

        Assert.Equal(running with { Lease = running.Lease! with { ExpiresAt = Now + TimeSpan.FromSeconds(60), Duration = TimeSpan.FromSeconds(60) } }, step.Next);
        Assert.Null(step.EventType);
    }

    [Fact]
    public void Renewal_WithoutALength_ExtendsByTheLastOneAskedFor_NotTheDefault()
    {
        var claimed = JobTransitions.Apply(Submitted(), new ClaimJob("lease-1", "w1", TimeSpan.FromMinutes(10)), Now).Next!;
        _time.Advance(TimeSpan.FromMinutes(1));

        var beat = JobTransitions.Apply(claimed, new RenewLease("lease-1", null, Lease), Now).Next!;
        Assert.Equal(Now + TimeSpan.FromMinutes(10), beat.Lease!.ExpiresAt);
        var progress = JobTransitions.Apply(beat, new ReportProgress("lease-1", 5, null, Lease), Now).Next!;
        Assert.Equal(Now + TimeSpan.FromMinutes(10), progress.Lease!.ExpiresAt);

        // A length named on a renewal is the one the next bare renewal repeats.
        var shorter = JobTransitions.Apply(progress, new RenewLease("lease-1", TimeSpan.FromSeconds(90), Lease), Now).Next!;
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(Now + TimeSpan.FromSeconds(90), JobTransitions.Apply(shorter, new RenewLease("lease-1", null, Lease), Now).Next!.Lease!.ExpiresAt);

        // A lease stored without its length (by an older version) renews by the default.
        var old = claimed with { Lease = claimed.Lease! with { Duration = null } };
        Assert.Equal(Now + Lease, JobTransitions.Apply(old, new RenewLease("lease-1", null, Lease), Now).Next!.Lease!.ExpiresAt);
    }

    [Fact]
    public void Progress_Changed_IsAVisibleChange_TheSameAgainIsNot()
    {
        var running = Running();
        _time.Advance(TimeSpan.FromSeconds(1));

        var first = JobTransitions.Apply(running, new ReportProgress("lease-1", 40, Lease, Lease), Now);
        var again = JobTransitions.Apply(first.Next!, new ReportProgress("lease-1", 40, Lease, Lease), Now);
        var outputOnly = JobTransitions.Apply(first.Next!, new ReportProgress("lease-1", null, Lease, Lease), Now);

        Assert.Equal((40, running.Version + 1, Now, "job.progress"), (first.Next!.Progress, first.Next.Version, first.Next.UpdatedAt, first.EventType));
        Assert.Equal((first.Next.Version, (string?)null), (again.Next!.Version, again.EventType));
        Assert.Equal((first.Next.Version, (string?)null), (outputOnly.Next!.Version, outputOnly.EventType));
    }

    [Fact]
    public void Complete_Succeeds_ProgressEndsAt100_OnlyIfItWasReported()
    {
        var silent = JobTransitions.Apply(Running(), new CompleteJob("lease-1", "{\"ok\":true}"), Now);
        var reporting = JobTransitions.Apply(Running() with { Progress = 30 }, new CompleteJob("lease-1", "1"), Now);

        Assert.Equal((JobStatus.Succeeded, "{\"ok\":true}", (int?)null, (JobLease?)null, "job.succeeded"),
            (silent.Next!.Status, silent.Next.Result, silent.Next.Progress, silent.Next.Lease, silent.EventType));
        Assert.Equal(100, reporting.Next!.Progress);
    }

    [Fact]
    public void Fail_Retryable_WithAttemptsLeft_IsQueuedAgain_DueAfterTheBackoff()
    {
        var running = Running(maxAttempts: 2);
        _time.Advance(TimeSpan.FromSeconds(3));

        var step = JobTransitions.Apply(running, new FailJob("lease-1", "{\"code\":\"x\"}", Retryable: true, TimeSpan.FromSeconds(8)), Now);

        Assert.Equal((JobStatus.Queued, Now + TimeSpan.FromSeconds(8), "{\"code\":\"x\"}", "job.queued"),
            (step.Next!.Status, step.Next.AvailableAt, step.Next.Error, step.EventType));
        Assert.Null(step.Next.Lease);
    }

    [Theory]
    [InlineData(false, 3)] // permanent
    [InlineData(true, 1)] // the last attempt
    public void Fail_PermanentOrLastAttempt_FailsForGood(bool retryable, int maxAttempts)
    {
        var step = JobTransitions.Apply(Running(maxAttempts), new FailJob("lease-1", "{}", retryable, TimeSpan.FromSeconds(1)), Now);

        Assert.Equal((JobStatus.Failed, "job.failed"), (step.Next!.Status, step.EventType));
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Running)]
    public void Cancel_Unfinished_IsCanceled_AndDropsTheLease(JobStatus status)
    {
        var job = status == JobStatus.Queued ? Submitted() : Running();

        var step = JobTransitions.Apply(job, new CancelJob(), Now);

        Assert.Equal((JobStatus.Canceled, (JobLease?)null, "job.canceled"), (step.Next!.Status, step.Next.Lease, step.EventType));
    }

    [Fact]
    public void Cancel_Canceled_ChangesNothing_AndIsNotRefused()
    {
        var canceled = JobTransitions.Apply(Submitted(), new CancelJob(), Now).Next!;

        Assert.Equal(JobStep.Unchanged, JobTransitions.Apply(canceled, new CancelJob(), Now));
    }

    [Theory]
    [InlineData(JobStatus.Succeeded)]
    [InlineData(JobStatus.Failed)]
    public void Cancel_SucceededOrFailed_IsRefused_JobFinished(JobStatus status)
    {
        Assert.Equal(JobStep.Refused(JobRefusal.JobFinished), JobTransitions.Apply(Submitted() with { Status = status }, new CancelJob(), Now));
    }

    [Fact]
    public void WorkerCall_OnACanceledJob_IsRefused_JobCanceled()
    {
        var canceled = JobTransitions.Apply(Running(), new CancelJob(), Now).Next!;

        foreach (var command in WorkerCommands("lease-1"))
        {
            Assert.Equal(JobStep.Refused(JobRefusal.JobCanceled), JobTransitions.Apply(canceled, command, Now));
        }
    }

    [Fact]
    public void WorkerCall_WithAnotherLease_OrOnAQueuedJob_IsRefused_LeaseLost()
    {
        foreach (var command in WorkerCommands("not-the-lease"))
        {
            Assert.Equal(JobStep.Refused(JobRefusal.LeaseLost), JobTransitions.Apply(Running(), command, Now));
        }

        foreach (var command in WorkerCommands("lease-1"))
        {
            Assert.Equal(JobStep.Refused(JobRefusal.LeaseLost), JobTransitions.Apply(Submitted(), command, Now));
        }
    }

    [Fact]
    public void WorkerCall_AtTheLeasesEnd_IsRefused_LeaseExpired_AndTheJobIsRequeued()
    {
        var running = Running(maxAttempts: 3);
        _time.Advance(Lease); // the lease ends at exactly this instant: it no longer holds

        foreach (var command in WorkerCommands("lease-1"))
        {
            var step = JobTransitions.Apply(running, command, Now);

            Assert.Equal((JobRefusal.LeaseExpired, JobStatus.Queued, "job.queued"), (step.Refusal, step.Next!.Status, step.EventType));
            // Back to the place in line it was claimed from: AvailableAt is kept.
            Assert.Equal(running.AvailableAt, step.Next.AvailableAt);
            Assert.Contains("lease-expired", step.Next.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void WorkerCall_JustBeforeTheLeasesEnd_IsAccepted()
    {
        var running = Running();
        _time.Advance(Lease - TimeSpan.FromTicks(1));

        Assert.Equal(JobRefusal.None, JobTransitions.Apply(running, new RenewLease("lease-1", Lease, Lease), Now).Refusal);
    }

    [Fact]
    public void ExpireLease_BeforeTheEnd_ChangesNothing()
    {
        var running = Running();
        _time.Advance(Lease - TimeSpan.FromMilliseconds(1));

        Assert.Equal(JobStep.Unchanged, JobTransitions.Apply(running, new ExpireLease(), Now));
    }

    [Fact]
    public void ExpireLease_WithAttemptsLeft_Requeues_InItsOldPlace()
    {
        var running = Running(maxAttempts: 2);
        _time.Advance(TimeSpan.FromMinutes(1));

        var step = JobTransitions.Apply(running, new ExpireLease(), Now);

        Assert.Equal((JobStatus.Queued, running.AvailableAt, Now, running.Version + 1, "job.queued"),
            (step.Next!.Status, step.Next.AvailableAt, step.Next.UpdatedAt, step.Next.Version, step.EventType));
        Assert.Null(step.Next.Lease);
    }

    [Fact]
    public void ExpireLease_OnTheLastAttempt_FailsTheJob()
    {
        var running = Running(maxAttempts: 1);
        _time.Advance(TimeSpan.FromMinutes(1));

        var step = JobTransitions.Apply(running, new ExpireLease(), Now);

        Assert.Equal((JobStatus.Failed, "job.failed"), (step.Next!.Status, step.EventType));
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Succeeded)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Canceled)]
    public void ExpireLease_OnAJobNotRunning_ChangesNothing(JobStatus status)
    {
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(JobStep.Unchanged, JobTransitions.Apply(Submitted() with { Status = status }, new ExpireLease(), Now));
    }

    [Fact]
    public void FinishedJobs_HaveNoTransitions_InTheTable()
    {
        Assert.DoesNotContain(JobTransitions.Table, rule => rule.From is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled);
    }

    [Fact]
    public void EveryCommand_FromEveryStatus_LandsWhereTheTableSays_OrChangesNothing()
    {
        // Apply checks each step against the table and throws if they differ; this walks every pair to prove none does.
        var statuses = Enum.GetValues<JobStatus>();
        foreach (var status in statuses)
        {
            var job = status == JobStatus.Running ? Running() : Submitted() with { Status = status };
            foreach (var command in AllCommands())
            {
                foreach (var at in new[] { Now, Now + Lease })
                {
                    var step = JobTransitions.Apply(job, command, at);
                    if (step.Next is { } next && next.Status != status)
                    {
                        var rule = step.Refusal == JobRefusal.LeaseExpired ? typeof(ExpireLease) : command.GetType();
                        Assert.True(JobTransitions.Allows(rule, status, next.Status), $"{command} from {status} to {next.Status}");
                    }

                    if (job.IsFinished)
                    {
                        Assert.Null(step.Next);
                    }
                }
            }
        }
    }

    [Fact]
    public void EveryRuleOfTheTable_IsTakenBySomeCommand()
    {
        var taken = new HashSet<(Type, JobStatus, JobStatus)>();
        foreach (var status in Enum.GetValues<JobStatus>())
        {
            foreach (var maxAttempts in new[] { 1, 3 })
            {
                var job = status == JobStatus.Running ? Running(maxAttempts) : Submitted(maxAttempts) with { Status = status };
                foreach (var command in AllCommands())
                {
                    foreach (var at in new[] { Now, Now + Lease })
                    {
                        if (JobTransitions.Apply(job, command, at) is { Next: { } next } step)
                        {
                            taken.Add((step.Refusal == JobRefusal.LeaseExpired ? typeof(ExpireLease) : command.GetType(), status, next.Status));
                        }
                    }
                }
            }
        }

        foreach (var rule in JobTransitions.Table)
        {
            foreach (var to in rule.To)
            {
                Assert.Contains((rule.Command, rule.From, to), taken);
            }
        }
    }

    private Job Submitted(int maxAttempts = 3) => JobTransitions.Submit("job_test", "resize", "{}", maxAttempts, null, Now);

    private Job Running(int maxAttempts = 3) => JobTransitions.Apply(Submitted(maxAttempts), new ClaimJob("lease-1", "w1", Lease), Now).Next!;

    private static JobCommand[] WorkerCommands(string leaseId) =>
    [
        new RenewLease(leaseId, Lease, Lease),
        new ReportProgress(leaseId, 10, Lease, Lease),
        new CompleteJob(leaseId, "null"),
        new FailJob(leaseId, "{}", Retryable: true, TimeSpan.FromSeconds(1)),
    ];

    private static JobCommand[] AllCommands() =>
    [
        new ClaimJob("lease-2", null, Lease),
        .. WorkerCommands("lease-1"),
        new FailJob("lease-1", "{}", Retryable: false, TimeSpan.Zero),
        new CancelJob(),
        new ExpireLease(),
    ];
}
