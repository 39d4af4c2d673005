using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// A node that misses a trim or retirement notice (its subscription dropped) still learns the trim point, even one
/// below the highest trim point it already heard of, and resets its readers exactly as SQLite does for the same history.
/// Node B's subscription is taken away by revoking its Redis user's channels, which makes Redis close it.
/// </summary>
public sealed class RedisLostTrimNoticeTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private readonly string _user = $"nodeb{Guid.NewGuid():N}";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TempDirectory _directory = new();
    private RedisConnection _admin = null!;

    public async Task InitializeAsync()
    {
        _admin = new RedisConnection(new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = _prefix });
        await _admin.Database.ExecuteAsync("ACL", "SETUSER", _user, "on", ">pw", "~*", "&*", "+@all");
    }

    public async Task DisposeAsync()
    {
        await _admin.Database.ExecuteAsync("ACL", "DELUSER", _user);
        await _admin.DisposeAsync();
        _directory.Dispose();
    }

    /// <summary>What is lost while node B does not listen: cold.t retired at 1, or cold.t trimmed through 1 by count.</summary>
    public enum Lost
    {
        Retirement,
        Trim,
    }

    private static EventDraft Draft(string topic) => new(topic, "message", "{}"u8.ToArray());

    private static readonly TopicFilter Cold = TopicFilter.Parse("cold.t");

    // hot.* keeps an hour, everything else a day.
    private static readonly RetentionPolicy HotShort = new(new RetentionOptions
    {
        MaxAge = TimeSpan.FromDays(1),
        MaxEventsPerTopic = null,
        Topics = new(StringComparer.Ordinal) { ["hot"] = new RetentionRule { MaxAge = TimeSpan.FromHours(1) } },
    });

    // As above, and cold.* keeps its newest event only.
    private static readonly RetentionPolicy ColdCounted = new(new RetentionOptions
    {
        MaxAge = TimeSpan.FromDays(1),
        MaxEventsPerTopic = null,
        Topics = new(StringComparer.Ordinal)
        {
            ["hot"] = new RetentionRule { MaxAge = TimeSpan.FromHours(1) },
            ["cold"] = new RetentionRule { MaxEventsPerTopic = 1 },
        },
    });

    /// <summary>The history both stores go through: cold.t first, then hot.x, which retention retires at a higher seq.</summary>
    private async Task PublishAndRetireHotAsync(IEventLog log, Lost lost)
    {
        await log.AppendAsync([.. Enumerable.Range(0, lost == Lost.Trim ? 2 : 1).Select(_ => Draft("cold.t"))]);
        await log.AppendAsync([.. Enumerable.Range(0, 20).Select(_ => Draft("hot.x"))]);
        _time.Advance(TimeSpan.FromHours(2));
        await log.TrimAsync(HotShort, _time.GetUtcNow());
    }

    /// <summary>Then cold.t loses its oldest event, below the point hot.x was retired at.</summary>
    private async Task TrimColdAsync(IEventLog log, Lost lost)
    {
        if (lost == Lost.Retirement)
        {
            _time.Advance(TimeSpan.FromDays(2));
            await log.TrimAsync(HotShort, _time.GetUtcNow());
        }
        else
        {
            await log.TrimAsync(ColdCounted, _time.GetUtcNow());
        }
    }

    /// <summary>The gap SQLite reports to a cold.t reader from the start after the same history.</summary>
    private async Task<LogReadResult> SqliteReadAsync(Lost lost)
    {
        _time.AdjustTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var sqlite = new SqliteEventLog(new SqliteEventLogOptions { Path = Path.Combine(_directory.Path, $"{lost}.db") }, _time);
        await PublishAndRetireHotAsync(sqlite, lost);
        await TrimColdAsync(sqlite, lost);
        return await sqlite.ReadAsync(Cold, 0, 10);
    }

    private RedisEventLog OpenNodeA() =>
        new(new RedisConnection(new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = _prefix }), null, _time) { OwnsConnection = true };

    private RedisEventLog OpenNodeB(TimeSpan headPollInterval) => new(new RedisConnection(new RedisStoreOptions
    {
        Configuration = redis.Server.Configuration + $",user={_user},password=pw",
        KeyPrefix = _prefix,
        TailCacheSize = 16, // cold.t's events are behind the tail: a reader of them reads Redis
        HeadPollInterval = headPollInterval,
    }), null, _time) { OwnsConnection = true };

    /// <summary>Runs the history on Redis with node B listening until cold.t's turn, whose notice it misses.</summary>
    private async Task MissColdNoticeAsync(RedisEventLog nodeA, RedisEventLog nodeB, Lost lost)
    {
        _time.AdjustTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var hotPoint = lost == Lost.Trim ? 22 : 21;
        await PublishAndRetireHotAsync(nodeA, lost);
        await Waiting.UntilAsync(() => nodeB.HeadSeq == hotPoint && nodeB.EarliestAfterSeq(TopicFilter.Parse("hot.x")) == hotPoint, "node B to hear hot.x retired");

        await _admin.Database.ExecuteAsync("ACL", "SETUSER", _user, "resetchannels");
        await TrimColdAsync(nodeA, lost);
        Assert.Equal(new LogGap(1), (await nodeA.ReadAsync(Cold, 0, 10)).Gap);
    }

    [Theory]
    [InlineData(Lost.Retirement)]
    [InlineData(Lost.Trim)]
    public async Task AReadFromRedis_AfterALostNotice_ReportsTheGapSqliteReports(Lost lost)
    {
        var expected = await SqliteReadAsync(lost);
        Assert.Equal(new LogGap(1), expected.Gap);
        await using var nodeA = OpenNodeA();
        // No head poll within the test: the read itself must find out.
        await using var nodeB = OpenNodeB(TimeSpan.FromMinutes(10));
        await MissColdNoticeAsync(nodeA, nodeB, lost);

        var read = await nodeB.ReadAsync(Cold, 0, 10);

        Assert.Equal(expected.Gap, read.Gap);
        Assert.Empty(read.Events);
        Assert.Equal(expected.NextAfterSeq, read.NextAfterSeq);
        Assert.Equal(1, nodeB.EarliestAfterSeq(Cold));
    }

    [Theory]
    [InlineData(Lost.Retirement)]
    [InlineData(Lost.Trim)]
    public async Task TheHeadPoll_AfterALostNotice_LearnsTheTrimPointBelowTheHighest(Lost lost)
    {
        var expected = await SqliteReadAsync(lost);
        await using var nodeA = OpenNodeA();
        await using var nodeB = OpenNodeB(TimeSpan.FromMilliseconds(50));
        await MissColdNoticeAsync(nodeA, nodeB, lost);

        // Nothing is read: only the head poll can tell node B (what 'earliest' and a reset's restart are).
        await Waiting.UntilAsync(() => nodeB.EarliestAfterSeq(Cold) == 1, "node B to learn cold.t's point from its head poll");

        Assert.Equal(expected.Gap, (await nodeB.ReadAsync(Cold, 0, 10)).Gap);
    }

    [Fact]
    public async Task UnderSteadyTraffic_TheHeadPollStillRuns_AndFindsALostNotice()
    {
        await using var nodeA = OpenNodeA();
        // On the real clock, which times its head polls.
        await using var nodeB = new RedisEventLog(new RedisConnection(new RedisStoreOptions
        {
            Configuration = redis.Server.Configuration,
            KeyPrefix = _prefix,
            HeadPollInterval = TimeSpan.FromMilliseconds(200),
        })) { OwnsConnection = true };
        await PublishAndRetireHotAsync(nodeA, Lost.Retirement);
        await Waiting.UntilAsync(() => nodeB.EarliestAfterSeq(TopicFilter.Parse("hot.x")) == 21, "node B to hear hot.x retired");

        // cold.t retired at 1 as the retire script records it, but its notice lost.
        await _admin.Database.ScriptEvaluateAsync(
            "redis.call('HSET', KEYS[1], 'cold', '1'); redis.call('HDEL', KEYS[2], 'cold.t'); redis.call('HINCRBY', KEYS[3], 'trims', 1)",
            [_admin.Key("retired"), _admin.Key("topics"), _admin.Key("meta")]);

        // Node A publishes all along, so node B is woken by a notice far more often than its poll interval.
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (nodeB.EarliestAfterSeq(Cold) != 1 && started.Elapsed < TimeSpan.FromSeconds(10))
        {
            await nodeA.AppendAsync([Draft("hot.y")]);
        }

        Assert.Equal(1, nodeB.EarliestAfterSeq(Cold));
    }
}
