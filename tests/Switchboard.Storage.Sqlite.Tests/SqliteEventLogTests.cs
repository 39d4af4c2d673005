using System.Text;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;
using Switchboard.Testing.Log;
using Switchboard.Topics;

namespace Switchboard.Storage.Sqlite.Tests;

public class SqliteEventLogTests : EventLogSpecification, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected virtual int TailCacheSize => 65_536;

    protected string DatabasePath => Path.Combine(_directory.Path, "log.db");

    protected override IEventLog CreateLog() => Open(Path.Combine(_directory.Path, $"{Guid.NewGuid():N}.db"));

    protected SqliteEventLog Open(string path) => new(new SqliteEventLogOptions { Path = path, TailCacheSize = TailCacheSize }, Time);

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Reopen_KeepsEventsEpochAndHead()
    {
        string epoch;
        await using (var log = Open(DatabasePath))
        {
            epoch = log.Epoch;
            await log.AppendAsync([Draft("a", "1"), Draft("b", "2")]);
        }

        await using var reopened = Open(DatabasePath);
        Assert.Equal(epoch, reopened.Epoch);
        Assert.Equal(2, reopened.HeadSeq);
        var events = (await reopened.ReadAsync(TopicFilter.Parse(">"), 0, 10)).Events;
        Assert.Equal(["1", "2"], events.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
        Assert.Equal(3, (await reopened.AppendAsync([Draft("a")])).Events[0].Seq);
    }

    [Fact]
    public async Task Reopen_AfterRetentionRemovedEverything_NeverReusesSeqsAndStillReportsGaps()
    {
        await using (var log = Open(DatabasePath))
        {
            await log.AppendAsync([Draft("a"), Draft("a"), Draft("a")]);
            await log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 1 }), Time.GetUtcNow());
            Time.Advance(TimeSpan.FromDays(8));
            await log.TrimAsync(new RetentionPolicy(new RetentionOptions()), Time.GetUtcNow());
        }

        await using var reopened = Open(DatabasePath);
        Assert.Equal(3, reopened.HeadSeq);
        Assert.NotNull((await reopened.ReadAsync(TopicFilter.Parse("a"), 1, 10)).Gap);
        Assert.Equal(3, reopened.EarliestAfterSeq(TopicFilter.Parse("a")));
        Assert.Equal(4, (await reopened.AppendAsync([Draft("a")])).Events[0].Seq);
    }

    [Fact]
    public async Task Reopen_KeepsIdempotencyKeys()
    {
        var key = new IdempotencyRequest("k", [7], Time.GetUtcNow().AddHours(1));
        await using (var log = Open(DatabasePath))
        {
            await log.AppendAsync([Draft("a")], key);
        }

        await using var reopened = Open(DatabasePath);
        var retry = await reopened.AppendAsync([Draft("a")], key);
        Assert.Equal(AppendOutcome.Replayed, retry.Outcome);
        Assert.Equal(1, reopened.HeadSeq);
    }

    [Fact]
    public async Task ConcurrentAppends_ShareTransactions()
    {
        await using var log = Open(DatabasePath);
        var commitsBefore = log.CommitCount;
        await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => log.AppendAsync([Draft("t")]))));

        Assert.Equal(400, log.HeadSeq);
        // With one writer draining the queue, waiting appends ride in the same commit.
        Assert.True(log.CommitCount - commitsBefore < 400, $"{log.CommitCount - commitsBefore} commits for 400 appends");
    }

    [Fact]
    public async Task AppendAsync_Acked_IsCommittedForAnotherConnection_WithAtMostOneWriterWakeupPerCommit()
    {
        await using var log = Open(DatabasePath);
        await using var reader = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
        await reader.OpenAsync();
        var commitsBefore = log.CommitCount;
        var wakeupsBefore = log.WriterWakeups;

        for (var i = 1; i <= 100; i++)
        {
            var seq = (await log.AppendAsync([Draft("t", i.ToString(System.Globalization.CultureInfo.InvariantCulture))])).Events[0].Seq;

            // The ack comes after the commit: another connection already sees the row.
            await using var command = reader.CreateCommand();
            command.CommandText = "SELECT data FROM events WHERE seq = $seq";
            command.Parameters.AddWithValue("$seq", seq);
            Assert.Equal(Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), (byte[]?)await command.ExecuteScalarAsync());
        }

        var commits = log.CommitCount - commitsBefore;
        Assert.Equal(100, commits);
        Assert.InRange(log.WriterWakeups - wakeupsBefore, 0, commits);
    }

    [Fact]
    public async Task AppendAsync_KeepsTheDraftsArray_WithoutCopying()
    {
        await using var log = Open(DatabasePath);
        var data = Encoding.UTF8.GetBytes("{\"a\":1}");

        var record = (await log.AppendAsync([new Switchboard.Events.EventDraft("t", "message", data)])).Events[0];

        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(record.Data, out var segment));
        Assert.Same(data, segment.Array);
    }

    [Fact]
    public async Task Open_UsesWalMode()
    {
        await using var log = Open(DatabasePath);
        await log.AppendAsync([Draft("a")]);
        Assert.True(File.Exists(DatabasePath + "-wal"));
    }
}

/// <summary>
/// The whole specification again with a tail cache of 16 events, so reads go to the file instead of memory.
/// </summary>
public sealed class SqliteEventLogReadingFromDiskTests : SqliteEventLogTests
{
    protected override int TailCacheSize => 16;
}
