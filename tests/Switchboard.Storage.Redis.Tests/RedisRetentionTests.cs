using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// Topics retention emptied are retired on Redis as on SQLite: they leave the topic list and the trim points, Redis
/// and every node keep one point per region instead, and a reader behind it is reset while readers elsewhere are not.
/// </summary>
public sealed class RedisRetentionTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private RedisConnection _admin = null!;

    public Task InitializeAsync()
    {
        _admin = new RedisConnection(Options());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _admin.DisposeAsync();

    private RedisStoreOptions Options() => new() { Configuration = redis.Server.Configuration, KeyPrefix = _prefix };

    private RedisEventLog Open(RetentionPolicy? retention) => new(new RedisConnection(Options()), retention, _time) { OwnsConnection = true };

    private static RetentionPolicy Policy(TimeSpan? maxAge, int? maxEvents, Dictionary<string, RetentionRule>? topics = null) =>
        new(new RetentionOptions { MaxAge = maxAge, MaxEventsPerTopic = maxEvents, Topics = topics ?? new(StringComparer.Ordinal) });

    private static EventDraft Draft(string topic) => new(topic, "message", "{}"u8.ToArray());

    private Task<long> HashLengthAsync(string name) => _admin.Database.HashLengthAsync(_admin.Key(name));

    private async Task<long?> RetiredPointAsync(string region) => (long?)await _admin.Database.HashGetAsync(_admin.Key("retired"), region);

    private static async Task AppendToManyTopicsAsync(IEventLog log, Func<int, string> topic, int count)
    {
        for (var start = 0; start < count; start += 500)
        {
            await log.AppendAsync(Enumerable.Range(start, Math.Min(500, count - start)).Select(i => Draft(topic(i))).ToList());
        }
    }

    private static async Task<IReadOnlyList<long>> SeqsAsync(IEventLog log, string pattern, long afterSeq) =>
        [.. (await log.ReadAsync(TopicFilter.Parse(pattern), afterSeq, 100)).Events.Select(e => e.Seq)];

    private static async Task AssertGapsAsync(RedisEventLog log)
    {
        Assert.Equal(new LogGap(1_000), (await log.ReadAsync(TopicFilter.Parse("user.5"), 3, 10)).Gap);
        Assert.Equal(new LogGap(1_000), (await log.ReadAsync(TopicFilter.Parse("user.*"), 3, 10)).Gap);
        Assert.Equal(1_000, log.EarliestAfterSeq(TopicFilter.Parse("user.5")));
        // Another region was never trimmed: its readers are not reset, from the start or from anywhere.
        var orders = await log.ReadAsync(TopicFilter.Parse("orders.*"), 0, 10);
        Assert.Null(orders.Gap);
        Assert.Equal([1_001L], orders.Events.Select(e => e.Seq));
    }

    /// <param name="configured">The pass's rules are the ones the log was opened with (the age walk over old entries),
    /// or other ones (the pass visits every listed topic).</param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TopicsRetentionEmptied_LeaveRedisAndTheNode_WhileTheirReadersStillSeeTheGap(bool configured)
    {
        var policy = Policy(TimeSpan.FromDays(1), null);
        await using var log = Open(configured ? policy : null);
        await AppendToManyTopicsAsync(log, i => $"user.{i}", 1_000);
        _time.Advance(TimeSpan.FromDays(2));
        await log.AppendAsync([Draft("orders.eu")]);
        Assert.Equal(1_001, await HashLengthAsync("topics"));

        var result = await log.TrimAsync(policy, _time.GetUtcNow());

        Assert.Equal(1_000, result.EventsDeleted);
        Assert.Equal(1, await HashLengthAsync("topics")); // orders.eu alone
        Assert.Equal(0, await HashLengthAsync("trimmed"));
        Assert.Equal(1_000, await RetiredPointAsync("user"));
        Assert.Equal(1, await HashLengthAsync("retired"));
        Assert.Equal(0, log.KnownTopics);
        await AssertGapsAsync(log);

        // Published to again, the topic is listed again and reads from its new event; a reader from before still sees the gap.
        Assert.Equal(1_002, (await log.AppendAsync([Draft("user.5")])).Events[0].Seq);
        Assert.Equal(2, await HashLengthAsync("topics"));
        Assert.Equal([1_002L], await SeqsAsync(log, "user.5", 1_000));
        Assert.NotNull(await log.ReadEventAsync(1_002));
        Assert.Equal(new LogGap(1_000), (await log.ReadAsync(TopicFilter.Parse("user.5"), 3, 10)).Gap);

        // And it is trimmed, and retired, again.
        _time.Advance(TimeSpan.FromDays(2));
        Assert.Equal(2, (await log.TrimAsync(policy, _time.GetUtcNow())).EventsDeleted);
        Assert.Equal(0, await HashLengthAsync("topics"));
        Assert.Equal(1_002, await RetiredPointAsync("user"));
        Assert.Equal(1_001, await RetiredPointAsync("orders"));
    }

    [Fact]
    public async Task ASecondNode_AndALogOpenedLater_LearnTheRetiredPoint()
    {
        var policy = Policy(TimeSpan.FromDays(1), null);
        await using var node1 = Open(policy);
        await using var node2 = Open(policy);
        await AppendToManyTopicsAsync(node1, i => $"user.{i}", 1_000);
        _time.Advance(TimeSpan.FromDays(2));
        await node1.AppendAsync([Draft("orders.eu")]);
        await Waiting.UntilAsync(() => node2.HeadSeq == 1_001, "node 2 at the head");

        await node1.TrimAsync(policy, _time.GetUtcNow());

        // Node 2 hears of the retirements, not of 1,000 topic trim points it would have to keep.
        await Waiting.UntilAsync(() => node2.EarliestAfterSeq(TopicFilter.Parse("user.*")) == 1_000 && node2.KnownTopics == 0, "node 2 to learn the retired point");
        await AssertGapsAsync(node2);

        await using var node3 = Open(policy);
        Assert.Equal(0, node3.KnownTopics);
        await AssertGapsAsync(node3);
    }

    [Fact]
    public async Task ATopicPublishedToUnderARetiredRegion_IsStillReadBySeq_AndTrimmedWhenItsTimeComes()
    {
        // user.keep is kept a day, other user topics an hour; both fall in the region "user" once retired.
        var policy = Policy(TimeSpan.FromHours(1), null, new(StringComparer.Ordinal) { ["user.keep"] = new RetentionRule { MaxAge = TimeSpan.FromDays(1) } });
        await using var log = Open(null);
        await log.AppendAsync([Draft("user.keep")]);   // 1
        _time.Advance(TimeSpan.FromMinutes(30));
        await log.AppendAsync([Draft("user.gone")]);   // 2
        _time.Advance(TimeSpan.FromHours(2));

        Assert.Equal(1, (await log.TrimAsync(policy, _time.GetUtcNow())).EventsDeleted);
        Assert.Equal(2, await RetiredPointAsync("user"));
        // The region's point covers seq 1, which user.keep still holds: asked for by seq, it is there.
        Assert.Equal("user.keep", (await log.ReadEventAsync(1))?.Topic);
        Assert.Null(await log.ReadEventAsync(2));

        // The region's point above user.keep's event must not stop the pass from removing it when it expires.
        _time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(1, (await log.TrimAsync(policy, _time.GetUtcNow())).EventsDeleted);
        Assert.Null(await log.ReadEventAsync(1));
        Assert.Equal(0, await HashLengthAsync("topics"));
        Assert.Equal(1, await RetiredPointAsync("user.keep"));
    }

    [Fact]
    public async Task AnAppendRacingTheTrimThatEmptiesItsTopic_IsNeitherLostNorUnlisted()
    {
        var policy = Policy(TimeSpan.FromHours(1), null);
        var filter = TopicFilter.Parse("race.t");
        await using var log = Open(policy);
        await log.AppendAsync([Draft("race.t")]);
        for (var i = 0; i < 50; i++)
        {
            _time.Advance(TimeSpan.FromHours(2));
            var trim = log.TrimAsync(policy, _time.GetUtcNow());
            var append = log.AppendAsync([Draft("race.t")]);
            await Task.WhenAll(trim, append);

            // Whether the append came before the trim's script (and kept the topic) or after (and started it again),
            // its event is kept, readable, and its topic listed for the next pass.
            var seq = (await append).Events[0].Seq;
            Assert.True(log.EarliestAfterSeq(filter) < seq);
            Assert.Equal([seq], await SeqsAsync(log, "race.t", log.EarliestAfterSeq(filter)));
            Assert.True(await _admin.Database.HashExistsAsync(_admin.Key("topics"), "race.t"));
        }

        _time.Advance(TimeSpan.FromHours(2));
        await log.TrimAsync(policy, _time.GetUtcNow());
        Assert.Equal(0, await HashLengthAsync("topics"));
        Assert.Equal(51, await RetiredPointAsync("race"));
    }

    [Fact]
    public async Task TopicsAnOlderVersionLeftListedWhenItEmptiedThem_AreRetiredByTheFirstPass()
    {
        await using (var old = Open(null))
        {
            await old.AppendAsync([Draft("user.1"), Draft("user.2"), Draft("orders.eu")]);
        }

        // What a store that did not retire topics left after removing user.1 and user.2: listed, with trim points,
        // their indexes and entries gone.
        var database = _admin.Database;
        await database.KeyDeleteAsync([_admin.Key("topic:user.1"), _admin.Key("topic:user.2")]);
        await database.StreamDeleteAsync(_admin.Key("log"), ["1-0", "2-0"]);
        await database.HashSetAsync(_admin.Key("trimmed"), [new("user.1", 1), new("user.2", 2)]);
        await database.HashSetAsync(_admin.Key("meta"), "maxTrimmed", 2);

        await using var log = Open(Policy(TimeSpan.FromDays(1), null));
        await log.TrimAsync(Policy(TimeSpan.FromDays(1), null), _time.GetUtcNow());

        Assert.Equal(1, await HashLengthAsync("topics"));
        Assert.Equal(0, await HashLengthAsync("trimmed"));
        Assert.Equal(2, await RetiredPointAsync("user"));
        Assert.Equal(0, log.KnownTopics);
        Assert.Equal(new LogGap(2), (await log.ReadAsync(TopicFilter.Parse("user.*"), 0, 10)).Gap);
        Assert.Equal([3L], await SeqsAsync(log, "orders.eu", 0));
    }

    [Fact]
    public async Task BeyondTheRegionLimit_RetiredTopicsShareOnePointThatCoversEveryReader()
    {
        var policy = Policy(TimeSpan.FromHours(1), null);
        await using var log = Open(policy);
        await AppendToManyTopicsAsync(log, i => $"r{i}.x", TopicRegistry.MaxRetiredRegions + 1);
        _time.Advance(TimeSpan.FromHours(2));

        await log.TrimAsync(policy, _time.GetUtcNow());

        Assert.Equal(TopicRegistry.MaxRetiredRegions + 1, await HashLengthAsync("retired"));
        Assert.Equal(TopicRegistry.MaxRetiredRegions + 1, await RetiredPointAsync(""));
        Assert.Equal(0, await HashLengthAsync("topics"));
        Assert.Equal(new LogGap(TopicRegistry.MaxRetiredRegions + 1), (await log.ReadAsync(TopicFilter.Parse("anything.at.all"), 10, 10)).Gap);
    }
}
