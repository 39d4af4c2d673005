using System.Text;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Subscriptions;
using Switchboard.Topics;
using Xunit;

namespace Switchboard.Testing.Log;

/// <summary>
/// The behaviour every <see cref="IEventLog"/> must have. Each store subclasses this once; a store that passes
/// can replace another without any transport noticing.
/// </summary>
public abstract class EventLogSpecification : IAsyncLifetime
{
    private readonly List<IEventLog> _logs = [];

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Creates an empty log that reads time from <see cref="Time"/>.</summary>
    protected abstract IEventLog CreateLog();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var log in _logs)
        {
            await log.DisposeAsync();
        }
    }

    protected IEventLog NewLog()
    {
        var log = CreateLog();
        _logs.Add(log);
        return log;
    }

    protected static EventDraft Draft(string topic, string json = "{}", string type = "message") => new(topic, type, Encoding.UTF8.GetBytes(json));

    private static async Task<IReadOnlyList<EventRecord>> ReadAll(IEventLog log, string pattern, long afterSeq = 0, int limit = 10_000) =>
        (await log.ReadAsync(TopicFilter.Parse(pattern), afterSeq, limit)).Events;

    [Fact]
    public async Task ReadEvent_FindsOneEventBySeq_EvenWhenAnotherTopicWasTrimmed()
    {
        await using var log = NewLog();
        await log.AppendAsync([Draft("orders", "1"), Draft("noisy", "2"), Draft("noisy", "3"), Draft("noisy", "4")]);

        await log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 1 }), Time.GetUtcNow());

        var order = await log.ReadEventAsync(1);
        Assert.NotNull(order);
        Assert.Equal(("orders", "1"), (order.Topic, Encoding.UTF8.GetString(order.Data.Span)));
        Assert.Null(await log.ReadEventAsync(2)); // trimmed
        Assert.Equal(4, (await log.ReadEventAsync(4))!.Seq);
        Assert.Null(await log.ReadEventAsync(5));
        Assert.Null(await log.ReadEventAsync(0));
    }

    [Fact]
    public async Task Append_AssignsIncreasingSeqAcrossTopics()
    {
        var log = NewLog();
        var a = await log.AppendAsync([Draft("a")]);
        var b = await log.AppendAsync([Draft("b")]);
        var c = await log.AppendAsync([Draft("a")]);

        Assert.Equal(AppendOutcome.Appended, a.Outcome);
        Assert.True(a.Events[0].Seq < b.Events[0].Seq && b.Events[0].Seq < c.Events[0].Seq);
        Assert.Equal(c.Events[0].Seq, log.HeadSeq);
    }

    [Fact]
    public async Task Append_Batch_GetsConsecutiveSeqsAndOneTime()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("x")]);
        var batch = await log.AppendAsync([Draft("a", "1"), Draft("b", "2"), Draft("c", "3")]);

        Assert.Equal([2L, 3L, 4L], batch.Events.Select(e => e.Seq));
        Assert.Single(batch.Events.Select(e => e.Time).Distinct());
        Assert.Equal(["a", "b", "c"], (await ReadAll(log, ">", 1)).Select(e => e.Topic));
    }

    [Fact]
    public async Task Append_StoresTopicTypeTimeAndDataExactly()
    {
        var log = NewLog();
        Time.Advance(TimeSpan.FromMilliseconds(1234));
        await log.AppendAsync([Draft("orders.eu", """{"id":42,"name":"caf\u00e9 ☕","list":[1,2.5,null]}""", "order.created")]);

        var stored = Assert.Single(await ReadAll(log, "orders.eu"));
        Assert.Equal("orders.eu", stored.Topic);
        Assert.Equal("order.created", stored.Type);
        Assert.Equal(Time.GetUtcNow(), stored.Time);
        Assert.Equal("""{"id":42,"name":"caf\u00e9 ☕","list":[1,2.5,null]}""", Encoding.UTF8.GetString(stored.Data.Span));
        Assert.Equal(log.Epoch, stored.Epoch);
    }

    [Theory]
    [InlineData("orders", new[] { "orders" })]
    [InlineData("orders.*", new[] { "orders.eu", "orders.us" })]
    [InlineData("orders.>", new[] { "orders.eu", "orders.us", "orders.eu.paris" })]
    [InlineData("*.eu", new[] { "orders.eu", "users.eu" })]
    [InlineData(">", new[] { "orders", "orders.eu", "orders.us", "orders.eu.paris", "users.eu" })]
    public async Task Read_ReturnsOnlyMatchingTopicsInSeqOrder(string pattern, string[] expected)
    {
        var log = NewLog();
        foreach (var topic in new[] { "orders", "orders.eu", "orders.us", "orders.eu.paris", "users.eu" })
        {
            await log.AppendAsync([Draft(topic)]);
        }

        var events = await ReadAll(log, pattern);
        Assert.Equal(expected, events.Select(e => e.Topic));
        Assert.Equal(events.Select(e => e.Seq).Order(), events.Select(e => e.Seq));
    }

    [Fact]
    public async Task Read_WithSeveralPatterns_MergesInSeqOrderWithoutDuplicates()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("a.1"), Draft("b.1"), Draft("c.1"), Draft("a.2")]);

        var result = await log.ReadAsync(new TopicFilter([TopicPattern.Parse("a.*"), TopicPattern.Parse("b.1"), TopicPattern.Parse("a.>")]), 0, 100);
        Assert.Equal(["a.1", "b.1", "a.2"], result.Events.Select(e => e.Topic));
    }

    [Fact]
    public async Task Read_InPages_ResumesWithNoGapAndNoDuplicate()
    {
        var log = NewLog();
        for (var i = 0; i < 25; i++)
        {
            await log.AppendAsync([Draft(i % 2 == 0 ? "even" : "odd", i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        }

        var seen = new List<string>();
        long after = 0;
        var filter = TopicFilter.Parse("even");
        for (var pages = 0; pages < 20; pages++)
        {
            var page = await log.ReadAsync(filter, after, 4);
            Assert.True(page.NextAfterSeq >= after);
            seen.AddRange(page.Events.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
            after = page.NextAfterSeq;
            if (page.Events.Count == 0)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(0, 13).Select(i => (i * 2).ToString(System.Globalization.CultureInfo.InvariantCulture)), seen);
        Assert.Equal(log.HeadSeq, after);
    }

    [Fact]
    public async Task Read_PastNonMatchingEvents_AdvancesToTheHead()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("wanted")]);
        await log.AppendAsync([Draft("other"), Draft("other"), Draft("other")]);

        var result = await log.ReadAsync(TopicFilter.Parse("wanted"), 1, 10);
        Assert.Empty(result.Events);
        Assert.Equal(4, result.NextAfterSeq);
        Assert.Null(result.Gap);
    }

    [Fact]
    public async Task Read_AtTheHead_ReturnsNothing()
    {
        var log = NewLog();
        var empty = await log.ReadAsync(TopicFilter.Parse(">"), 0, 10);
        Assert.Empty(empty.Events);
        Assert.Equal(0, empty.NextAfterSeq);

        await log.AppendAsync([Draft("a")]);
        var atHead = await log.ReadAsync(TopicFilter.Parse(">"), log.HeadSeq, 10);
        Assert.Empty(atHead.Events);
        Assert.Equal(log.HeadSeq, atHead.NextAfterSeq);
    }

    [Fact]
    public async Task Subscriptions_AppendWakesOnlyTheMatchingWaiters()
    {
        var log = NewLog();
        var orders = log.Subscriptions.Register(TopicFilter.Parse("orders"));
        var everything = log.Subscriptions.Register(TopicFilter.Parse(">"));
        var other = log.Subscriptions.Register(TopicFilter.Parse("other.*"));
        try
        {
            await log.AppendAsync([Draft("orders")]);
            await Waiting.UntilAsync(() => orders.Wakes == 1 && everything.Wakes == 1, "the matching waiters are woken");
            await orders.WaitAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(0, other.Wakes); // a commit on "orders" never touches a reader of other topics
            Assert.False(orders.WaitAsync().IsCompleted); // the wake was taken: the next wait waits for the next append
        }
        finally
        {
            log.Subscriptions.Unregister(orders);
            log.Subscriptions.Unregister(everything);
            log.Subscriptions.Unregister(other);
        }
    }

    [Fact]
    public async Task Idempotency_SameKeyAndRequest_ReturnsOriginalWithoutAppending()
    {
        var log = NewLog();
        var key = new IdempotencyRequest("key-1", [1, 2, 3], Time.GetUtcNow().AddHours(24));
        var first = await log.AppendAsync([Draft("a", "{\"n\":1}")], key);
        var retry = await log.AppendAsync([Draft("a", "{\"n\":1}")], key);

        Assert.Equal(AppendOutcome.Appended, first.Outcome);
        Assert.Equal(AppendOutcome.Replayed, retry.Outcome);
        Assert.Equal(first.Events.Select(e => e.Seq), retry.Events.Select(e => e.Seq));
        Assert.Equal(first.Events[0].Json.ToArray(), retry.Events[0].Json.ToArray());
        Assert.Equal(first.Events[0].Seq, log.HeadSeq);
        Assert.Single(await ReadAll(log, ">"));
    }

    [Fact]
    public async Task Idempotency_SameKeyDifferentRequest_IsAConflictAndAppendsNothing()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("a")], new IdempotencyRequest("key-1", [1], Time.GetUtcNow().AddHours(1)));
        var conflict = await log.AppendAsync([Draft("a")], new IdempotencyRequest("key-1", [2], Time.GetUtcNow().AddHours(1)));

        Assert.Equal(AppendOutcome.Conflict, conflict.Outcome);
        Assert.Empty(conflict.Events);
        Assert.Equal(1, log.HeadSeq);
    }

    [Fact]
    public async Task Idempotency_ExpiredKey_IsForgottenByTrim()
    {
        var log = NewLog();
        var key = new IdempotencyRequest("key-1", [1], Time.GetUtcNow().AddHours(1));
        await log.AppendAsync([Draft("a")], key);

        Time.Advance(TimeSpan.FromHours(2));
        var trimmed = await log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = null }), Time.GetUtcNow());
        var again = await log.AppendAsync([Draft("a")], key with { ExpiresAt = Time.GetUtcNow().AddHours(1) });

        Assert.Equal(1, trimmed.IdempotencyKeysDeleted);
        Assert.Equal(AppendOutcome.Appended, again.Outcome);
        Assert.Equal(2, log.HeadSeq);
    }

    [Fact]
    public async Task Idempotency_BatchReplay_ReturnsEveryOriginalEvent()
    {
        var log = NewLog();
        var key = new IdempotencyRequest("batch-1", [9], Time.GetUtcNow().AddHours(1));
        var first = await log.AppendAsync([Draft("a", "1"), Draft("b", "2")], key);
        var retry = await log.AppendAsync([Draft("a", "1"), Draft("b", "2")], key);

        Assert.Equal(AppendOutcome.Replayed, retry.Outcome);
        Assert.Equal(first.Events.Select(e => (e.Seq, e.Topic)), retry.Events.Select(e => (e.Seq, e.Topic)));
    }

    [Fact]
    public void Epoch_IsANonEmptyAlphanumericString()
    {
        var log = NewLog();
        Assert.False(string.IsNullOrEmpty(log.Epoch));
        Assert.All(log.Epoch, c => Assert.True(char.IsAsciiLetterOrDigit(c)));
    }

    [Fact]
    public async Task Retention_ByCount_KeepsNewestAndReportsTheGap()
    {
        var log = NewLog();
        for (var i = 1; i <= 5; i++)
        {
            await log.AppendAsync([Draft("metrics", i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        }

        var result = await log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 2 }), Time.GetUtcNow());
        var filter = TopicFilter.Parse("metrics");

        Assert.Equal(3, result.EventsDeleted);
        Assert.Equal(3, log.EarliestAfterSeq(filter));
        Assert.Equal([4L, 5L], (await log.ReadAsync(filter, 3, 10)).Events.Select(e => e.Seq));

        var stale = await log.ReadAsync(filter, 1, 10);
        Assert.Empty(stale.Events);
        Assert.Equal(3, Assert.IsType<LogGap>(stale.Gap).RestartAfterSeq);
    }

    [Fact]
    public async Task Retention_ByAge_RemovesOldEventsOnly()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("t", "1")]);
        Time.Advance(TimeSpan.FromHours(2));
        await log.AppendAsync([Draft("t", "2")]);
        Time.Advance(TimeSpan.FromMinutes(30));

        await log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = TimeSpan.FromHours(1), MaxEventsPerTopic = null }), Time.GetUtcNow());

        var earliest = log.EarliestAfterSeq(TopicFilter.Parse("t"));
        Assert.Equal(1, earliest);
        Assert.Equal([2L], (await log.ReadAsync(TopicFilter.Parse("t"), earliest, 10)).Events.Select(e => e.Seq));
        Assert.NotNull((await log.ReadAsync(TopicFilter.Parse("t"), 0, 10)).Gap);
    }

    [Fact]
    public async Task Retention_PrefixOverride_AppliesOnlyBelowThatPrefix()
    {
        var log = NewLog();
        for (var i = 0; i < 3; i++)
        {
            await log.AppendAsync([Draft("ticks.btc"), Draft("ticksy"), Draft("orders")]);
        }

        var options = new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 100 };
        options.Topics["ticks"] = new RetentionRule { MaxEventsPerTopic = 1 };
        await log.TrimAsync(new RetentionPolicy(options), Time.GetUtcNow());

        Assert.Single(await ReadAll(log, "ticks.btc", log.EarliestAfterSeq(TopicFilter.Parse("ticks.btc"))));
        Assert.Equal(3, (await ReadAll(log, "ticksy")).Count);
        Assert.Equal(3, (await ReadAll(log, "orders")).Count);
    }

    [Fact]
    public async Task Retention_OnOneTopic_DoesNotGapReadersOfAnother()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("keep", "1")]);
        for (var i = 0; i < 5; i++)
        {
            await log.AppendAsync([Draft("noisy")]);
        }

        var options = new RetentionOptions { MaxAge = null, MaxEventsPerTopic = null };
        options.Topics["noisy"] = new RetentionRule { MaxEventsPerTopic = 1 };
        await log.TrimAsync(new RetentionPolicy(options), Time.GetUtcNow());

        var keep = await log.ReadAsync(TopicFilter.Parse("keep"), 0, 10);
        Assert.Null(keep.Gap);
        Assert.Single(keep.Events);
        Assert.NotNull((await log.ReadAsync(TopicFilter.Parse(">"), 0, 10)).Gap);
    }

    [Fact]
    public async Task Retention_OfEveryEvent_KeepsTheHeadSoSeqsNeverRepeat()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("a"), Draft("a")]);
        Time.Advance(TimeSpan.FromDays(30));
        await log.TrimAsync(new RetentionPolicy(new RetentionOptions()), Time.GetUtcNow());

        Assert.Equal(2, log.HeadSeq);
        var next = await log.AppendAsync([Draft("a")]);
        Assert.Equal(3, next.Events[0].Seq);
    }

    [Fact]
    public async Task ConcurrentAppends_GetUniqueContiguousSeqsInEachPublishersOrder()
    {
        var log = NewLog();
        const int publishers = 16;
        const int perPublisher = 100;
        var tasks = Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
        {
            var seqs = new List<long>();
            for (var i = 0; i < perPublisher; i++)
            {
                var result = await log.AppendAsync([Draft($"p.{p}", i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
                seqs.Add(result.Events[0].Seq);
            }

            return seqs;
        })).ToArray();
        var all = (await Task.WhenAll(tasks)).ToArray();

        Assert.All(all, seqs => Assert.Equal(seqs.Order(), seqs));
        Assert.Equal(Enumerable.Range(1, publishers * perPublisher).Select(i => (long)i), all.SelectMany(s => s).Order());
        var events = await ReadAll(log, "p.>");
        Assert.Equal(publishers * perPublisher, events.Count);
        for (var p = 0; p < publishers; p++)
        {
            var mine = events.Where(e => e.Topic == $"p.{p}").Select(e => int.Parse(Encoding.UTF8.GetString(e.Data.Span), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(Enumerable.Range(0, perPublisher), mine);
        }
    }

    [Theory]
    [InlineData("room.1", 2, new[] { 4L, 6L })]
    [InlineData("room.1", 10, new[] { 1L, 2L, 4L, 6L })]
    [InlineData("room.*", 3, new[] { 4L, 5L, 6L })]
    [InlineData("room.1", 0, new long[0])]
    public async Task AfterSeqForLast_ReadsTheNewestMatchingEvents(string pattern, int count, long[] expected)
    {
        var log = NewLog();
        foreach (var topic in new[] { "room.1", "room.1", "room.2", "room.1", "room.2", "room.1" })
        {
            await log.AppendAsync([Draft(topic)]);
        }

        var filter = TopicFilter.Parse(pattern);
        var after = await log.AfterSeqForLastAsync(filter, count);
        Assert.Equal(expected, (await log.ReadAsync(filter, after, 100)).Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task AfterSeqForLast_NeverStartsBeforeRetainedHistory()
    {
        var log = NewLog();
        await log.AppendAsync([Draft("room"), Draft("room"), Draft("room")]);
        await log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxAge = null, MaxEventsPerTopic = 1 }), Time.GetUtcNow());

        var filter = TopicFilter.Parse("room");
        var after = await log.AfterSeqForLastAsync(filter, 10);
        var result = await log.ReadAsync(filter, after, 100);
        Assert.Null(result.Gap);
        Assert.Equal([3L], result.Events.Select(e => e.Seq));
    }
}
