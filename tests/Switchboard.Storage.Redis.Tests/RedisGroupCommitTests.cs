using System.Globalization;
using System.Text;
using StackExchange.Redis;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Retention;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// The group commit against a real redis-server of its own (its command counts are then this class's alone).
/// Batches are made deterministic with <c>CLIENT PAUSE WRITE</c>: the first call is held in Redis while the requests
/// behind it queue on the node, and they go out together when the pause ends.
/// </summary>
public sealed class RedisGroupCommitTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly string _prefix = $"g{Guid.NewGuid():N}:";
    private ConnectionMultiplexer _admin = null!;

    public async Task InitializeAsync() => _admin = await ConnectionMultiplexer.ConnectAsync(redis.Server.Configuration + ",allowAdmin=true");

    public async Task DisposeAsync()
    {
        await Unpause();
        await _admin.DisposeAsync();
    }

    [Fact]
    public async Task ConcurrentPublishers_GetContiguousSeqs_InFewerScriptCalls()
    {
        await using var log = Open();
        var callsBefore = await EvalshaCalls();
        const int Publishers = 32, Each = 50;

        // Requests of one, two and three events, so the contiguity check covers requests that span seqs.
        var results = await Task.WhenAll(Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            var mine = new List<AppendResult>();
            for (var i = 0; i < Each; i++)
            {
                var drafts = Enumerable.Range(0, 1 + ((p + i) % 3)).Select(e => Draft($"p{p}", $"{{\"i\":{i},\"e\":{e}}}")).ToList();
                mine.Add(await log.AppendAsync(drafts));
            }

            return mine;
        })));

        var all = results.SelectMany(r => r).ToList();
        Assert.All(all, r => Assert.Equal(AppendOutcome.Appended, r.Outcome));
        foreach (var result in all)
        {
            // Each request's events are one run of seqs.
            Assert.Equal(Enumerable.Range(0, result.Events.Count).Select(i => result.Events[0].Seq + i), result.Events.Select(e => e.Seq));
        }

        var seqs = all.SelectMany(r => r.Events).Select(e => e.Seq).Order().ToList();
        Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
        foreach (var perPublisher in results)
        {
            // One publisher's sequential requests keep their order.
            var firsts = perPublisher.Select(r => r.Events[0].Seq).ToList();
            Assert.Equal(firsts.Order(), firsts);
        }

        // Every event is readable in seq order with the data it was published with.
        var read = await ReadAll(log, seqs.Count);
        Assert.Equal(seqs, read.Select(e => e.Seq));
        Assert.Equal(all.SelectMany(r => r.Events).OrderBy(e => e.Seq).Select(e => Encoding.UTF8.GetString(e.Data.Span)), read.Select(e => Encoding.UTF8.GetString(e.Data.Span)));

        Assert.True(log.AppendScriptCalls < Publishers * Each, $"{log.AppendScriptCalls} script calls for {Publishers * Each} requests");
        var evalsha = await EvalshaCalls() - callsBefore;
        Assert.True(evalsha < Publishers * Each, $"Redis ran {evalsha} scripts for {Publishers * Each} requests");
    }

    [Fact]
    public async Task SameKeyTwiceInOneBatch_ReplaysTheFirst_AndADifferentBodyConflicts()
    {
        await using var log = Open();
        var key = new IdempotencyRequest("order-7", [1, 2, 3], DateTimeOffset.UtcNow.AddHours(1));
        var other = new IdempotencyRequest("order-7", [9, 9, 9], DateTimeOffset.UtcNow.AddHours(1));

        await Pause();
        var holder = log.AppendAsync([Draft("warm")]);
        await Waiting.UntilAsync(() => log.AppendScriptCalls == 1, "the first call to be out");
        var first = log.AppendAsync([Draft("orders", "1"), Draft("orders", "2")], key);
        var again = log.AppendAsync([Draft("orders", "1"), Draft("orders", "2")], key);
        var conflicting = log.AppendAsync([Draft("orders", "3")], other);
        await Waiting.UntilAsync(() => log.QueuedAppends == 3, "three requests queued behind the held call");
        await Unpause();

        await holder;
        var (a, b, c) = (await first, await again, await conflicting);
        Assert.Equal(2, log.AppendScriptCalls);
        Assert.Equal(AppendOutcome.Appended, a.Outcome);
        Assert.Equal(AppendOutcome.Replayed, b.Outcome);
        Assert.Equal(AppendOutcome.Conflict, c.Outcome);
        Assert.Equal(a.Events.Select(e => e.Seq), b.Events.Select(e => e.Seq));
        Assert.Equal(a.Events.Select(e => e.Json.ToArray()), b.Events.Select(e => e.Json.ToArray()));
        Assert.Equal(3, log.HeadSeq);
    }

    [Fact]
    public async Task ARequestRedisRefuses_FailsAlone_AndGivesItsSeqsBack()
    {
        await using var log = Open();
        // A topic index of the wrong type makes Redis refuse that request's ZADD mid-script.
        await _admin.GetDatabase().StringSetAsync(_prefix + "topic:broken", "not a sorted set");

        await Pause();
        var holder = log.AppendAsync([Draft("warm")]);
        await Waiting.UntilAsync(() => log.AppendScriptCalls == 1, "the first call to be out");
        var before = log.AppendAsync([Draft("ok", "1")]);
        var refused = log.AppendAsync([Draft("ok", "2"), Draft("broken", "3")]);
        var after = log.AppendAsync([Draft("ok", "4"), Draft("ok", "5")]);
        await Waiting.UntilAsync(() => log.QueuedAppends == 3, "three requests queued behind the held call");
        await Unpause();

        await holder;
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => refused);
        Assert.Equal(SwitchboardErrorKind.Unavailable, error.Kind);
        Assert.Contains("WRONGTYPE", error.Message, StringComparison.Ordinal);
        var (ok1, ok2) = (await before, await after);
        Assert.Equal(2, log.AppendScriptCalls);
        Assert.Equal([2L], ok1.Events.Select(e => e.Seq));
        Assert.Equal([3L, 4L], ok2.Events.Select(e => e.Seq));

        // Nothing of the refused request is left behind: no entry, no seq, and the log reads without a hole.
        var read = await ReadAll(log, 4);
        Assert.Equal([1L, 2L, 3L, 4L], read.Select(e => e.Seq));
        Assert.Equal(["{}", "1", "4", "5"], read.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
        Assert.Equal(4, log.HeadSeq);
        Assert.Equal(4L, (long)await _admin.GetDatabase().StreamLengthAsync(_prefix + "log"));
        Assert.Equal(1L, (long)await _admin.GetDatabase().SortedSetLengthAsync(_prefix + "topic:warm"));
        Assert.Equal(3L, (long)await _admin.GetDatabase().SortedSetLengthAsync(_prefix + "topic:ok"));
    }

    [Fact]
    public async Task AFailedCall_FailsOnlyItsRequests_AndTheNextBatchCommits()
    {
        await using var server = await RedisServer.StartAsync();
        await using var log = new RedisEventLog(new RedisConnection(new RedisStoreOptions
        {
            Configuration = server.Configuration,
            KeyPrefix = _prefix,
            OperationTimeout = TimeSpan.FromSeconds(2),
        })) { OwnsConnection = true };
        await log.AppendAsync([Draft("a", "1")]);

        await server.StopAsync();
        var failed = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            try
            {
                await log.AppendAsync([Draft("a", i.ToString(CultureInfo.InvariantCulture))]);
                return null;
            }
            catch (SwitchboardException ex)
            {
                return ex;
            }
        }));
        Assert.All(failed, ex => Assert.Equal(SwitchboardErrorKind.Unavailable, Assert.IsType<SwitchboardException>(ex).Kind));

        await server.StartAgainAsync();
        var recovered = await Waiting.EventuallyAsync(() => log.AppendAsync([Draft("a", "after")]), TimeSpan.FromSeconds(20));
        Assert.Equal(AppendOutcome.Appended, recovered.Outcome);
        var more = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => log.AppendAsync([Draft("a", i.ToString(CultureInfo.InvariantCulture))])));
        var seqs = more.Select(r => r.Events[0].Seq).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 16).Select(i => recovered.Events[0].Seq + 1 + i), seqs);
    }

    [Fact]
    public async Task CancelledWhileQueued_IsNotCommitted()
    {
        await using var log = Open();
        await Pause();
        var holder = log.AppendAsync([Draft("warm")]);
        await Waiting.UntilAsync(() => log.AppendScriptCalls == 1, "the first call to be out");
        using var cancel = new CancellationTokenSource();
        var dropped = log.AppendAsync([Draft("gone")], cancellationToken: cancel.Token);
        var kept = log.AppendAsync([Draft("kept")]);
        await Waiting.UntilAsync(() => log.QueuedAppends == 2, "two requests queued");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dropped);
        await Unpause();

        await holder;
        Assert.Equal([2L], (await kept).Events.Select(e => e.Seq));
        var read = await ReadAll(log, 2);
        Assert.Equal(["warm", "kept"], read.Select(e => e.Topic));
    }

    [Fact]
    public async Task CountRetention_CutsATopicBackToItsLimit_OnceItIsMoreThanA64thOver()
    {
        // 128 kept: the topic may reach 130 (two over, a 64th), and the append that makes it 131 cuts it back to 128.
        await using var log = Open(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 128 }));
        for (var i = 0; i < 130; i++)
        {
            await log.AppendAsync([Draft("hot")]);
        }

        Assert.Equal(0, log.EarliestAfterSeq(TopicFilter.Parse("hot")));
        Assert.Equal(130L, (long)await _admin.GetDatabase().SortedSetLengthAsync(_prefix + "topic:hot"));

        await log.AppendAsync([Draft("hot")]);
        Assert.Equal(3, log.EarliestAfterSeq(TopicFilter.Parse("hot")));
        Assert.Equal(128L, (long)await _admin.GetDatabase().SortedSetLengthAsync(_prefix + "topic:hot"));
        Assert.Equal(128L, (long)await _admin.GetDatabase().StreamLengthAsync(_prefix + "log"));
        Assert.Equal(3, Assert.IsType<LogGap>((await log.ReadAsync(TopicFilter.Parse("hot"), 0, 10)).Gap).RestartAfterSeq);
    }

    [Fact]
    public async Task TwoNodesPublishingAtOnce_EachFollowsTheOther_WithoutThePoll()
    {
        // The head poll is an hour, so only notifications move a node to the other's events: one that arrives while the
        // node's own call is out must still wake its follower once the reply is in.
        var options = () => new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = _prefix, HeadPollInterval = TimeSpan.FromHours(1) };
        await using var node1 = new RedisEventLog(new RedisConnection(options())) { OwnsConnection = true };
        await using var node2 = new RedisEventLog(new RedisConnection(options())) { OwnsConnection = true };

        await Task.WhenAll(Enumerable.Range(0, 16).Select(p => Task.Run(async () =>
        {
            var node = p % 2 == 0 ? node1 : node2;
            for (var i = 0; i < 40; i++)
            {
                await node.AppendAsync([Draft($"n{p % 2}")]);
            }
        })));

        await Waiting.UntilAsync(() => node1.HeadSeq == 640 && node2.HeadSeq == 640, "both nodes at seq 640");
        var fromOther = await ReadAll(node1, 640);
        Assert.Equal(320, fromOther.Count(e => e.Topic == "n1"));
    }

    private RedisEventLog Open(RetentionPolicy? retention = null) =>
        new(new RedisConnection(new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = _prefix }), retention) { OwnsConnection = true };

    private static EventDraft Draft(string topic, string json = "{}") => new(topic, "message", Encoding.UTF8.GetBytes(json));

    private static async Task<List<EventRecord>> ReadAll(RedisEventLog log, int expected)
    {
        var read = new List<EventRecord>();
        long after = 0;
        while (read.Count < expected)
        {
            var page = await log.ReadAsync(TopicFilter.Parse(">"), after, 1000);
            Assert.Null(page.Gap);
            if (page.Events.Count == 0)
            {
                break;
            }

            read.AddRange(page.Events);
            after = page.Events[^1].Seq;
        }

        return read;
    }

    private Task Pause() => _admin.GetServer(redis.Server.Configuration).ExecuteAsync("CLIENT", "PAUSE", "20000", "WRITE");

    private Task Unpause() => _admin.GetServer(redis.Server.Configuration).ExecuteAsync("CLIENT", "UNPAUSE");

    private async Task<long> EvalshaCalls()
    {
        var info = await _admin.GetServer(redis.Server.Configuration).InfoRawAsync("commandstats");
        var line = (info ?? "").Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal));
        if (line is null)
        {
            return 0;
        }

        var calls = line.Split(':', 2)[1].Split(',').First(p => p.StartsWith("calls=", StringComparison.Ordinal));
        return long.Parse(calls["calls=".Length..], CultureInfo.InvariantCulture);
    }
}
