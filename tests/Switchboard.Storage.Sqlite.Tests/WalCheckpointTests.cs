using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;

namespace Switchboard.Storage.Sqlite.Tests;

/// <summary>
/// The WAL is copied back into the database by a background thread after <c>CheckpointDelay</c>, never by the
/// commit that crosses SQLite's default 1,000-page threshold: that commit would hold every waiting publish and
/// reader for two disk syncs.
/// </summary>
public sealed class WalCheckpointTests : IDisposable
{
    // Each event takes more than one 4 KiB page, so the batches below write well over SQLite's default 1,000 pages.
    private static readonly string Payload = '"' + new string('x', 5000) + '"';
    private const int Events = 1200;

    private readonly TempDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-03T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Commits_LeaveTheWalToTheCheckpointer_UntilTheDelayPasses()
    {
        var path = Path.Combine(_directory.Path, "log.db");
        await using var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path, CheckpointDelay = TimeSpan.FromSeconds(1) }, _time);
        var before = new FileInfo(path).Length;

        await AppendManyAsync(log);

        // No commit copied pages into the database file: with SQLite's own auto-checkpoint it would have grown by megabytes.
        Assert.Equal(0, log.Checkpoints);
        Assert.True(new FileInfo(path).Length - before < 1024 * 1024, $"the database file grew by {new FileInfo(path).Length - before} bytes before any checkpoint");
        Assert.True(new FileInfo(path + "-wal").Length > Events * 4096L, "the commits are in the WAL");

        _time.Advance(TimeSpan.FromSeconds(1));
        await Waiting.UntilAsync(() => log.Checkpoints >= 1, "the background checkpoint");

        Assert.True(new FileInfo(path).Length - before > Events * 4096L, "the checkpoint copied the WAL into the database file");
        Assert.Equal(0, BusyFramesLeft(path));
    }

    [Fact]
    public async Task Checkpoint_IsArmedOnlyByCommits()
    {
        var path = Path.Combine(_directory.Path, "idle.db");
        await using var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path, CheckpointDelay = TimeSpan.FromSeconds(1) }, _time);

        _time.Advance(TimeSpan.FromSeconds(5));
        await log.AppendAsync([new EventDraft("orders", "created", Encoding.UTF8.GetBytes("{}"))]);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(0, log.Checkpoints);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await Waiting.UntilAsync(() => log.Checkpoints == 1, "one checkpoint a delay after the commit");

        // A quiet log arms nothing more.
        _time.Advance(TimeSpan.FromMinutes(1));
        await log.AppendAsync([new EventDraft("orders", "created", Encoding.UTF8.GetBytes("{}"))]);
        _time.Advance(TimeSpan.FromSeconds(1));
        await Waiting.UntilAsync(() => log.Checkpoints == 2, "a second checkpoint after the second commit");
        Assert.Equal(2, log.Checkpoints);
    }

    [Fact]
    public async Task EventsCommittedBeforeAnyCheckpoint_SurviveAReopen()
    {
        var path = Path.Combine(_directory.Path, "reopen.db");
        await using (var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path }, _time))
        {
            await AppendManyAsync(log);
            Assert.Equal(0, log.Checkpoints);
        }

        await using var reopened = new SqliteEventLog(new SqliteEventLogOptions { Path = path }, _time);
        var read = await reopened.ReadAsync(Switchboard.Topics.TopicFilter.Parse("orders"), 0, Events + 10);
        Assert.Equal(Events, read.Events.Count);
    }

    private static async Task AppendManyAsync(SqliteEventLog log)
    {
        for (var batch = 0; batch < Events / 100; batch++)
        {
            var drafts = Enumerable.Range(0, 100).Select(_ => new EventDraft("orders", "created", Encoding.UTF8.GetBytes(Payload))).ToArray();
            await log.AppendAsync(drafts);
        }
    }

    /// <summary>WAL frames a full checkpoint could not copy: 0 when the background one already copied them all.</summary>
    private static long BusyFramesLeft(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        using var reader = command.ExecuteReader();
        reader.Read();
        return reader.GetInt64(1) - reader.GetInt64(2);
    }
}
