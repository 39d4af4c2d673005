using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Topics;

namespace Switchboard.Core.Tests.Log;

public sealed class RecentEventsRingTests
{
    [Fact]
    public void TryRead_ExactTopics_WalksOnlyThoseTopicsInSeqOrder()
    {
        var ring = new RecentEventsRing(64, 0);
        string[] topics = ["a", "b", "c", "a", "c", "b", "a"];
        for (var i = 0; i < topics.Length; i++)
        {
            ring.Add(Record(i + 1, topics[i]));
        }

        Assert.True(ring.TryRead(TopicFilter.Parse("a"), 0, 7, 100, out var a));
        Assert.Equal([1L, 4L, 7L], a.Events.Select(e => e.Seq));
        Assert.Equal(7, a.NextAfterSeq);

        Assert.True(ring.TryRead(TopicFilter.Parse("b", "c"), 2, 7, 100, out var bc));
        Assert.Equal([3L, 5L, 6L], bc.Events.Select(e => e.Seq));

        Assert.True(ring.TryRead(TopicFilter.Parse("a"), 1, 5, 100, out var upToHead)); // never past the head it was given
        Assert.Equal([4L], upToHead.Events.Select(e => e.Seq));
        Assert.Equal(5, upToHead.NextAfterSeq);

        Assert.True(ring.TryRead(TopicFilter.Parse("nobody"), 0, 7, 100, out var none));
        Assert.Empty(none.Events);
        Assert.Equal(7, none.NextAfterSeq);
    }

    [Fact]
    public void TryRead_ExactTopics_LimitStopsAtTheLastReturned()
    {
        var ring = new RecentEventsRing(64, 0);
        for (var i = 1; i <= 10; i++)
        {
            ring.Add(Record(i, i % 2 == 0 ? "even" : "odd"));
        }

        Assert.True(ring.TryRead(TopicFilter.Parse("even"), 0, 10, 2, out var first));
        Assert.Equal([2L, 4L], first.Events.Select(e => e.Seq));
        Assert.Equal(4, first.NextAfterSeq);
    }

    [Fact]
    public void TryRead_BehindTheRing_SaysReadTheStore()
    {
        var ring = new RecentEventsRing(16, 0);
        for (var i = 1; i <= 40; i++)
        {
            ring.Add(Record(i, "a"));
        }

        Assert.False(ring.TryRead(TopicFilter.Parse("a"), 5, 40, 100, out _));
        Assert.False(ring.TryRead(TopicFilter.Parse("a.>", "a"), 5, 40, 100, out _));
        Assert.True(ring.TryRead(TopicFilter.Parse("a"), 30, 40, 100, out var recent));
        Assert.Equal(Enumerable.Range(31, 10).Select(i => (long)i), recent.Events.Select(e => e.Seq));
    }

    [Fact]
    public void TryRead_RandomTopics_AgreesWithAScan()
    {
        var random = new Random(7);
        var ring = new RecentEventsRing(256, 0);
        var all = new List<EventRecord>();
        for (var seq = 1; seq <= 2000; seq++)
        {
            var record = Record(seq, $"t{random.Next(20)}");
            ring.Add(record);
            all.Add(record);
            if (seq % 50 != 0)
            {
                continue;
            }

            var filter = TopicFilter.Parse([.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => $"t{random.Next(20)}")]);
            var after = Math.Max(0, seq - random.Next(1, 200));
            Assert.True(ring.TryRead(filter, after, seq, 1000, out var read));
            Assert.Equal(all.Where(r => r.Seq > after && filter.Matches(r.Topic)).Select(r => r.Seq), read.Events.Select(e => e.Seq));
        }
    }

    [Fact]
    public void Add_Twice_OrLateIntoAHole_KeepsEveryTopicsChainInOrder()
    {
        // A shared store's node adds its own appends at once and other nodes' events when it fetches them, so the
        // same event can come twice, and an earlier one after later ones.
        var ring = new RecentEventsRing(64, 0);
        ring.Add(Record(1, "a"));
        ring.Add(Record(4, "a"));
        ring.Add(Record(4, "a"));

        // 2 and 3 are missing: a per-topic read past the hole would skip them, so the ring says read the store.
        Assert.False(ring.TryRead(TopicFilter.Parse("a"), 0, 4, 100, out _));

        ring.Add(Record(2, "a"));
        ring.Add(Record(3, "b"));
        ring.Add(Record(2, "a"));

        Assert.True(ring.TryRead(TopicFilter.Parse("a"), 0, 4, 100, out var a));
        Assert.Equal([1L, 2L, 4L], a.Events.Select(e => e.Seq));
        Assert.True(ring.TryRead(TopicFilter.Parse("b"), 0, 4, 100, out var b));
        Assert.Equal([3L], b.Events.Select(e => e.Seq));
    }

    [Fact]
    public void LargeEvents_LeaveTheRingByBytes_AndTheirReadersReadTheStore()
    {
        var big = new byte[64 * 1024];
        var cost = RecentEventsRing.CostOf(Record(1, "even", big)); // the larger of the two topics' costs
        var ring = new RecentEventsRing(1024, 0, maxBytes: 3 * cost);
        for (var i = 1; i <= 10; i++)
        {
            ring.Add(Record(i, i % 2 == 0 ? "even" : "odd", big));
            Assert.True(ring.HeldBytes <= 3 * cost, $"after {i}: {ring.HeldBytes} held, budget {3 * cost}");
        }

        // Only the newest three stay, far fewer than the 1,024 slots.
        Assert.Null(ring.Find(7));
        Assert.NotNull(ring.Find(8));
        Assert.NotNull(ring.Find(10));
        Assert.False(ring.TryRead(TopicFilter.Parse("even"), 4, 10, 100, out _));
        Assert.False(ring.TryRead(TopicFilter.Parse(">"), 6, 10, 100, out _));
        Assert.True(ring.TryRead(TopicFilter.Parse("even"), 7, 10, 100, out var recent));
        Assert.Equal([8L, 10L], recent.Events.Select(e => e.Seq));
        Assert.True(ring.TryRead(TopicFilter.Parse(">"), 7, 10, 100, out var all));
        Assert.Equal([8L, 9L, 10L], all.Events.Select(e => e.Seq));
    }

    [Fact]
    public void AnEventLargerThanTheBudget_StillStays_AsTheNewest()
    {
        var ring = new RecentEventsRing(64, 0, maxBytes: 1);
        ring.Add(Record(1, "a"));
        ring.Add(Record(2, "a"));
        Assert.Null(ring.Find(1));
        Assert.True(ring.TryRead(TopicFilter.Parse("a"), 1, 2, 100, out var newest));
        Assert.Equal([2L], newest.Events.Select(e => e.Seq));
        Assert.Equal(RecentEventsRing.CostOf(Record(2, "a")), ring.HeldBytes);
    }

    private static EventRecord Record(long seq, string topic) => new("e", seq, topic, "m", DateTimeOffset.UnixEpoch, "1"u8.ToArray());

    private static EventRecord Record(long seq, string topic, byte[] data) => new("e", seq, topic, "m", DateTimeOffset.UnixEpoch, data);
}
