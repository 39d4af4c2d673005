using System.Text;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Retention;
using Switchboard.Testing;
using Switchboard.Testing.Log;
using Switchboard.Topics;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>The log specification against a real redis-server, plus what only a shared log must do.</summary>
public sealed class RedisEventLogTests(RedisFixture redis) : EventLogSpecification, IClassFixture<RedisFixture>
{
    private string _prefix = $"t{Guid.NewGuid():N}:";

    protected override IEventLog CreateLog()
    {
        // Each log of the specification is a new hub: a key prefix of its own.
        _prefix = $"t{Guid.NewGuid():N}:";
        return Open();
    }

    private RedisEventLog Open(RetentionPolicy? retention = null) =>
        new(new RedisConnection(new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = _prefix }), retention, Time) { OwnsConnection = true };

    [Fact]
    public async Task TwoNodes_AppendOnOne_WakesAndIsReadOnTheOther()
    {
        await using var node1 = Open();
        await using var node2 = Open();
        Assert.Equal(node1.Epoch, node2.Epoch);

        var waiter = node2.Subscriptions.Register(TopicFilter.Parse("orders"));
        await node1.AppendAsync([Draft("orders", "1")]);
        await waiter.WaitAsync().AsTask().Within();

        Assert.Equal(1, node2.HeadSeq);
        var read = await node2.ReadAsync(TopicFilter.Parse("orders"), 0, 10);
        Assert.Equal("1", Encoding.UTF8.GetString(Assert.Single(read.Events).Data.Span));
    }

    [Fact]
    public async Task TwoNodes_ConcurrentAppends_ShareOneSeqSequence()
    {
        await using var node1 = Open();
        await using var node2 = Open();
        var appends = Enumerable.Range(0, 200).Select(i => (i % 2 == 0 ? node1 : node2).AppendAsync([Draft("t", i.ToString(System.Globalization.CultureInfo.InvariantCulture))]));
        var seqs = (await Task.WhenAll(appends)).Select(r => r.Events[0].Seq).Order().ToList();

        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), seqs);
        await Waiting.UntilAsync(() => node1.HeadSeq == 200 && node2.HeadSeq == 200, "both nodes at the head");
        var all = await node1.ReadAsync(TopicFilter.Parse(">"), 0, 1000);
        Assert.Equal(200, all.Events.Count);
    }

    [Fact]
    public async Task TwoNodes_SameIdempotencyKey_AppendOnce()
    {
        await using var node1 = Open();
        await using var node2 = Open();
        var key = new IdempotencyRequest("k", [1, 2], Time.GetUtcNow().AddHours(1));
        var results = await Task.WhenAll(node1.AppendAsync([Draft("a", "1")], key), node2.AppendAsync([Draft("a", "1")], key));

        Assert.Equal(1, results.Count(r => r.Outcome == AppendOutcome.Appended));
        Assert.Equal(1, results.Count(r => r.Outcome == AppendOutcome.Replayed));
        Assert.Equal(results[0].Events[0].Seq, results[1].Events[0].Seq);
        Assert.Equal(results[0].Events[0].Json.ToArray(), results[1].Events[0].Json.ToArray());
    }

    [Fact]
    public async Task CursorFromAnotherNode_IsKnownAfterRefresh()
    {
        await using var node1 = Open();
        await using var node2 = Open();
        await node1.AppendAsync([Draft("a")]);
        // Whatever node 2 has heard so far, asking Redis gives it the head node 1 handed out.
        Assert.Equal(1, node2.RefreshHeadSeq());
    }

    [Fact]
    public async Task Reopen_KeepsEpochHeadAndTrimPoints()
    {
        string epoch;
        await using (var log = Open())
        {
            epoch = log.Epoch;
            await log.AppendAsync([Draft("a"), Draft("a"), Draft("a")]);
            await log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 1 }), Time.GetUtcNow());
        }

        await using var reopened = Open();
        Assert.Equal(epoch, reopened.Epoch);
        Assert.Equal(3, reopened.HeadSeq);
        Assert.Equal(2, reopened.EarliestAfterSeq(TopicFilter.Parse("a")));
        Assert.NotNull((await reopened.ReadAsync(TopicFilter.Parse("a"), 0, 10)).Gap);
    }

    [Fact]
    public async Task RetentionByCount_IsAppliedByTheAppendScript()
    {
        await using var log = Open(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 2 }));
        for (var i = 0; i < 5; i++)
        {
            await log.AppendAsync([Draft("hot", i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        }

        Assert.Equal(3, log.EarliestAfterSeq(TopicFilter.Parse("hot")));
        var read = await log.ReadAsync(TopicFilter.Parse("hot"), 3, 10);
        Assert.Equal([4L, 5L], read.Events.Select(e => e.Seq));
        Assert.Null(await log.ReadEventAsync(1));
    }

    [Fact]
    public async Task AgeRetention_WithTheConfiguredCounts_WalksTheOldEntries_NotEveryTopic()
    {
        var policy = new RetentionPolicy(new RetentionOptions
        {
            MaxAge = TimeSpan.FromHours(1),
            MaxEventsPerTopic = 1_000,
            Topics = new(StringComparer.Ordinal) { ["audit"] = new RetentionRule { MaxAge = TimeSpan.FromHours(3) } },
        });
        await using var log = Open(policy);
        await log.AppendAsync([Draft("old.a"), Draft("old.a"), Draft("old.b"), Draft("audit.x")]);          // seqs 1-4
        Time.Advance(TimeSpan.FromHours(2));
        await log.AppendAsync(Enumerable.Range(0, 2_000).Select(i => Draft($"user.{i}")).ToList());        // seqs 5-2004, recent
        await log.AppendAsync([Draft("old.a")]);                                                              // 2005

        var result = await log.TrimAsync(policy, Time.GetUtcNow());

        Assert.Equal(3, result.EventsDeleted);
        Assert.Equal(2, log.AgeTrimTopicsExamined); // old.a and old.b; not audit.x (kept 3 h), not the 2,000 recent topics
        // old.b, emptied, was retired into the region "old", whose point (3) now covers old.a as well.
        Assert.Equal(new LogGap(3), (await log.ReadAsync(TopicFilter.Parse("old.a"), 0, 10)).Gap);
        Assert.Equal([2005L], (await log.ReadAsync(TopicFilter.Parse("old.a"), 3, 10)).Events.Select(e => e.Seq));
        Assert.Equal([4L], (await log.ReadAsync(TopicFilter.Parse("audit.x"), 0, 10)).Events.Select(e => e.Seq));
        Assert.Null(await log.ReadEventAsync(3));

        // Past the audit rule too, and a pass with nothing left to remove examines nothing more.
        Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(2_002, (await log.TrimAsync(policy, Time.GetUtcNow())).EventsDeleted);
        var examined = log.AgeTrimTopicsExamined;
        Assert.Equal(0, (await log.TrimAsync(policy, Time.GetUtcNow())).EventsDeleted);
        Assert.Equal(examined, log.AgeTrimTopicsExamined);
    }

    [Fact]
    public async Task TrimOnOneNode_GapsReadersOnTheOther()
    {
        await using var node1 = Open();
        await using var node2 = Open();
        await node1.AppendAsync([Draft("m"), Draft("m"), Draft("m")]);
        await Waiting.UntilAsync(() => node2.HeadSeq == 3, "node 2 at the head");

        await node1.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 1 }), Time.GetUtcNow());

        await Waiting.UntilAsync(() => node2.EarliestAfterSeq(TopicFilter.Parse("m")) == 2, "node 2 to learn the trim point");
        Assert.Equal(2, Assert.IsType<LogGap>((await node2.ReadAsync(TopicFilter.Parse("m"), 0, 10)).Gap).RestartAfterSeq);
    }

    [Fact]
    public async Task Restart_WithAof_KeepsTheLog_AndTheNodeFollowsAgain()
    {
        await using var server = await RedisServer.StartAsync();
        var options = new RedisStoreOptions { Configuration = server.Configuration, KeyPrefix = _prefix };
        await using var log = new RedisEventLog(new RedisConnection(options), null, Time) { OwnsConnection = true };
        var epoch = log.Epoch;
        await log.AppendAsync([Draft("a", "1"), Draft("a", "2")]);

        await server.StopAsync();
        var failed = await Assert.ThrowsAsync<SwitchboardException>(() => log.AppendAsync([Draft("a", "lost")]));
        Assert.Equal((SwitchboardErrorKind.Unavailable, "store-unavailable"), (failed.Kind, failed.Code));

        await server.StartAgainAsync();
        var appended = await Waiting.EventuallyAsync(() => log.AppendAsync([Draft("a", "3")]));
        Assert.Equal(epoch, log.Epoch);
        Assert.Equal(3, appended.Events[0].Seq);
        var all = await log.ReadAsync(TopicFilter.Parse("a"), 0, 10);
        Assert.Equal(["1", "2", "3"], all.Events.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
    }

    [Fact]
    public async Task WipedRedis_IsANewEpoch_AndOldPositionsAreAGap()
    {
        await using var server = await RedisServer.StartAsync();
        var options = new RedisStoreOptions { Configuration = server.Configuration, KeyPrefix = _prefix };
        await using var log = new RedisEventLog(new RedisConnection(options), null, Time) { OwnsConnection = true };
        var epoch = log.Epoch;
        await log.AppendAsync([Draft("a"), Draft("a")]);

        await server.StopAsync();
        server.Wipe();
        await server.StartAgainAsync();

        await Waiting.UntilAsync(() => log.Epoch != epoch, "the node to notice the new epoch");
        // Seqs continue after what this node handed out, so no cursor it gave can name a new event.
        Assert.Equal(2, log.HeadSeq);
        var next = await log.AppendAsync([Draft("a", "new")]);
        Assert.Equal(3, next.Events[0].Seq);
        Assert.Equal(log.Epoch, next.Events[0].Epoch);
        Assert.NotNull((await log.ReadAsync(TopicFilter.Parse("a"), 1, 10)).Gap);
    }
}
