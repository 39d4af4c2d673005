using Switchboard.Jobs;
using Switchboard.Testing;
using Switchboard.Testing.Jobs;

namespace Switchboard.Storage.Sqlite.Tests;

public sealed class SqliteJobStoreTests : JobStoreSpecification, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override IJobStore CreateStore() => new SqliteJobStore(Path.Combine(_directory.Path, $"{Guid.NewGuid():N}.db"));

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Reopen_KeepsJobs_NextToTheLog()
    {
        var path = Path.Combine(_directory.Path, "shared.db");
        await using (var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path }))
        await using (var store = new SqliteJobStore(log, path))
        {
            await log.AppendAsync([new Events.EventDraft("jobs.job_1", "job.queued", "{}"u8.ToArray())]);
            await store.ApplyAsync([new JobSaved(NewJob(key: "k"))]);
        }

        await using var reopened = new SqliteJobStore(path);
        Assert.Equal("job_1", Assert.Single(await reopened.LoadUnfinishedAsync()).Id);
        Assert.NotNull(await reopened.FindByIdempotencyKeyAsync("k"));
    }

    [Fact]
    public async Task AFileFromAVersionWithoutLeaseLengths_OpensAndKeepsThemFromThenOn()
    {
        var path = Path.Combine(_directory.Path, "older.db");
        var running = NewJob() with { Status = JobStatus.Running, Lease = new JobLease("l1", T0.AddSeconds(30), "w", TimeSpan.FromMinutes(5)) };
        await using (var store = new SqliteJobStore(path))
        {
            await store.ApplyAsync([new JobSaved(running)]);
        }

        // The table as an older version created it.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "ALTER TABLE jobs DROP COLUMN lease_ms;";
            await command.ExecuteNonQueryAsync();
        }

        await using (var reopened = new SqliteJobStore(path))
        {
            Assert.Null((await reopened.GetAsync(running.Id))!.Lease!.Duration);
            await reopened.ApplyAsync([new JobSaved(running)]);
        }

        await using var again = new SqliteJobStore(path);
        Assert.Equal(running, await again.GetAsync(running.Id));
    }
}

/// <summary>The same specification with the store writing through the event log's writer thread, as the server runs it.</summary>
public sealed class SqliteSharedWriterJobStoreTests : JobStoreSpecification, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override IJobStore CreateStore()
    {
        var path = Path.Combine(_directory.Path, $"{Guid.NewGuid():N}.db");
        var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path });
        return new StoreWithLog(new SqliteJobStore(log, path), log);
    }

    public void Dispose() => _directory.Dispose();

    private sealed class StoreWithLog(SqliteJobStore store, SqliteEventLog log) : IJobStore
    {
        public Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default) => store.LoadUnfinishedAsync(cancellationToken);

        public Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default) => store.GetAsync(id, cancellationToken);

        public Task<Job?> FindByIdempotencyKeyAsync(string key, CancellationToken cancellationToken = default) => store.FindByIdempotencyKeyAsync(key, cancellationToken);

        public Task ApplyAsync(IReadOnlyList<JobChange> changes, CancellationToken cancellationToken = default) => store.ApplyAsync(changes, cancellationToken);

        public Task<int> DeleteFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default) => store.DeleteFinishedAsync(before, limit, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await store.DisposeAsync();
            await log.DisposeAsync();
        }
    }
}
