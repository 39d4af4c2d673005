using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Storage.Sqlite.Tests;

/// <summary>
/// Retention on the SQLite log costs what it removes, not what the log has seen: a pass visits only topics over a
/// count limit or holding events past an age, and works in slices so publishes commit in between.
/// </summary>
public sealed class SqliteRetentionTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private string DatabasePath => Path.Combine(_directory.Path, "log.db");

    public void Dispose() => _directory.Dispose();

    private SqliteEventLog Open() => new(new SqliteEventLogOptions { Path = DatabasePath }, _time);

    private static EventDraft Draft(string topic) => new(topic, "message", "{}"u8.ToArray());

    private static RetentionPolicy Policy(TimeSpan? maxAge, int? maxEvents, Dictionary<string, RetentionRule>? topics = null) =>
        new(new RetentionOptions { MaxAge = maxAge, MaxEventsPerTopic = maxEvents, Topics = topics ?? new(StringComparer.Ordinal) });

    private static async Task AppendToManyTopicsAsync(IEventLog log, string prefix, int topics, int eventsEach)
    {
        for (var start = 0; start < topics; start += 500)
        {
            var batch = new List<EventDraft>();
            for (var i = start; i < Math.Min(topics, start + 500); i++)
            {
                for (var e = 0; e < eventsEach; e++)
                {
                    batch.Add(Draft($"{prefix}.{i}"));
                }
            }

            await log.AppendAsync(batch);
        }
    }

    private static async Task<int> CountAsync(IEventLog log, string pattern)
    {
        var filter = TopicFilter.Parse(pattern);
        return (await log.ReadAsync(filter, log.EarliestAfterSeq(filter), 100_000)).Events.Count;
    }

    [Fact]
    public async Task ATrimPass_ExaminesOnlyTopicsOverTheirLimitOrPastTheirAge()
    {
        await using var log = Open();
        await AppendToManyTopicsAsync(log, "user", topics: 3_000, eventsEach: 1);
        await log.AppendAsync(Enumerable.Range(0, 10).Select(_ => Draft("hot")).ToList());
        var policy = Policy(TimeSpan.FromHours(1), 5);

        var first = await log.TrimAsync(policy, _time.GetUtcNow());

        Assert.Equal(5, first.EventsDeleted);
        Assert.Equal(1, log.TrimTopicsExamined); // the hot topic alone, not the 3,000 others
        Assert.Equal(5, await CountAsync(log, "hot"));

        var idle = await log.TrimAsync(policy, _time.GetUtcNow());
        Assert.Equal(0, idle.EventsDeleted);
        Assert.Equal(1, log.TrimTopicsExamined);

        // Past the age, every topic has something to remove, and each is visited once.
        _time.Advance(TimeSpan.FromHours(2));
        await log.AppendAsync([Draft("fresh")]);
        var aged = await log.TrimAsync(policy, _time.GetUtcNow());
        Assert.Equal(3_005, aged.EventsDeleted);
        Assert.Equal(1 + 3_001, log.TrimTopicsExamined);
        Assert.Equal(1, await CountAsync(log, ">"));
        Assert.NotNull((await log.ReadAsync(TopicFilter.Parse("user.7"), 0, 10)).Gap);
    }

    [Fact]
    public async Task APassWithMuchToRemove_CommitsInSlices_AndRemovesAllOfIt()
    {
        await using var log = Open();
        await AppendToManyTopicsAsync(log, "user", topics: 2_000, eventsEach: 3);
        var commitsBefore = log.CommitCount;

        var result = await log.TrimAsync(Policy(null, 1), _time.GetUtcNow());

        Assert.Equal(4_000, result.EventsDeleted);
        Assert.True(log.CommitCount - commitsBefore >= 4, $"expected the pass in several commits, got {log.CommitCount - commitsBefore}");
        for (var i = 0; i < 2_000; i += 97)
        {
            Assert.Equal(1, await CountAsync(log, $"user.{i}"));
        }
    }

    [Fact]
    public async Task AgeLimits_FollowTheTopicsRule_AndTheTimeEachEventWasStamped()
    {
        await using var log = Open();
        await log.AppendAsync([Draft("orders.a"), Draft("audit.a"), Draft("orders.b")]);   // t0
        _time.Advance(TimeSpan.FromMinutes(10));
        await log.AppendAsync([Draft("orders.a"), Draft("audit.a")]);                       // t0 + 10 min
        _time.Advance(TimeSpan.FromMinutes(10));
        await log.AppendAsync([Draft("orders.a")]);                                         // t0 + 20 min
        _time.Advance(TimeSpan.FromMinutes(6));                                            // now: t0 + 26 min
        var policy = Policy(TimeSpan.FromMinutes(15), null, new(StringComparer.Ordinal) { ["audit"] = new RetentionRule { MaxAge = TimeSpan.FromMinutes(20) } });

        var result = await log.TrimAsync(policy, _time.GetUtcNow());

        // orders.*: older than 15 min goes (t0 and t0+10); audit: older than 20 min goes (t0 only).
        Assert.Equal(4, result.EventsDeleted);
        Assert.Equal([6L], (await log.ReadAsync(TopicFilter.Parse("orders.*"), 4, 10)).Events.Select(e => e.Seq));
        Assert.Equal([5L], (await log.ReadAsync(TopicFilter.Parse("audit.a"), 2, 10)).Events.Select(e => e.Seq));
        Assert.NotNull((await log.ReadAsync(TopicFilter.Parse("orders.*"), 3, 10)).Gap);
        Assert.Equal(2, log.EarliestAfterSeq(TopicFilter.Parse("audit.a")));
    }

    [Fact]
    public async Task AfterReopen_APassStillFindsWhatToRemove()
    {
        await using (var log = Open())
        {
            await AppendToManyTopicsAsync(log, "user", topics: 100, eventsEach: 1);
            await log.AppendAsync(Enumerable.Range(0, 4).Select(_ => Draft("hot")).ToList());
        }

        await using var reopened = Open();
        var counted = await reopened.TrimAsync(Policy(null, 2), _time.GetUtcNow());
        Assert.Equal(2, counted.EventsDeleted);
        Assert.Equal(1, reopened.TrimTopicsExamined);

        _time.Advance(TimeSpan.FromDays(2));
        var aged = await reopened.TrimAsync(Policy(TimeSpan.FromDays(1), 2), _time.GetUtcNow());
        Assert.Equal(102, aged.EventsDeleted);
        Assert.Equal(0, await CountAsync(reopened, ">"));

        // A topic emptied by retention and published to again is trimmed again from its new event.
        await reopened.AppendAsync([Draft("hot"), Draft("hot"), Draft("hot")]);
        Assert.Equal(1, (await reopened.TrimAsync(Policy(null, 2), _time.GetUtcNow())).EventsDeleted);
        Assert.Equal(2, await CountAsync(reopened, "hot"));
    }

    [Fact]
    public async Task TopicsRetentionEmptied_LeaveMemoryAndTheFile_WhileTheirReadersStillSeeTheGap_AcrossAReopen()
    {
        await using (var log = Open())
        {
            await AppendToManyTopicsAsync(log, "user", topics: 1_000, eventsEach: 1);
            _time.Advance(TimeSpan.FromDays(2));
            await log.AppendAsync([Draft("orders.eu")]);
            var result = await log.TrimAsync(Policy(TimeSpan.FromDays(1), null), _time.GetUtcNow());

            Assert.Equal(1_000, result.EventsDeleted);
            Assert.Equal(1, log.KnownTopics); // orders.eu alone
            Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM topics"));
            await AssertGapsAsync(log);
        }

        await using var reopened = Open();
        Assert.Equal(1, reopened.KnownTopics);
        await AssertGapsAsync(reopened);
        Assert.Equal(1_002, (await reopened.AppendAsync([Draft("user.5")])).Events[0].Seq);

        // Published to again, the topic reads from its new event, and a reader from before still sees the gap.
        Assert.Equal([1_002L], (await reopened.ReadAsync(TopicFilter.Parse("user.5"), 1_000, 10)).Events.Select(e => e.Seq));
        Assert.NotNull((await reopened.ReadAsync(TopicFilter.Parse("user.5"), 3, 10)).Gap);

        static async Task AssertGapsAsync(SqliteEventLog log)
        {
            Assert.Equal(new LogGap(1_000), (await log.ReadAsync(TopicFilter.Parse("user.5"), 3, 10)).Gap);
            Assert.Equal(new LogGap(1_000), (await log.ReadAsync(TopicFilter.Parse("user.*"), 3, 10)).Gap);
            Assert.Equal(1_000, log.EarliestAfterSeq(TopicFilter.Parse("user.5")));
            // Another region was never trimmed: its readers are not reset, from the start or from anywhere.
            var orders = await log.ReadAsync(TopicFilter.Parse("orders.*"), 0, 10);
            Assert.Null(orders.Gap);
            Assert.Equal([1_001L], orders.Events.Select(e => e.Seq));
        }
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
