using Switchboard.Events;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Core.Tests.Subscriptions;

public sealed class SubscriptionIndexTests
{
    private readonly SubscriptionIndex _index = new();

    [Theory]
    [InlineData("orders", "orders", true)]
    [InlineData("orders", "orders.eu", false)]
    [InlineData("orders.*", "orders.eu", true)]
    [InlineData("orders.*", "orders", false)]
    [InlineData("orders.*", "orders.eu.paris", false)]
    [InlineData("orders.>", "orders.eu", true)]
    [InlineData("orders.>", "orders.eu.paris", true)]
    [InlineData("orders.>", "orders", false)]
    [InlineData("*.eu", "orders.eu", true)]
    [InlineData("*.eu", "orders.us", false)]
    [InlineData("*.*.paris", "orders.eu.paris", true)]
    [InlineData("*.>", "a.b.c", true)]
    [InlineData(">", "a", true)]
    [InlineData(">", "a.b.c", true)]
    [InlineData("a.*.c.>", "a.b.c.d.e", true)]
    [InlineData("a.*.c.>", "a.b.c", false)]
    public void Match_OnePattern_AgreesWithThePattern(string pattern, string topic, bool expected)
    {
        var waiter = _index.Register(TopicFilter.Parse(pattern));

        Assert.Equal(expected, _index.Match(topic).Contains(waiter));
        Assert.Equal(expected, TopicPattern.Parse(pattern).Matches(topic)); // the index and the pattern agree
    }

    [Fact]
    public void Match_OverlappingPatterns_ReturnEachWaiterOnce()
    {
        var many = _index.Register(TopicFilter.Parse("orders.eu", "orders.*", "orders.>", ">"));
        var other = _index.Register(TopicFilter.Parse("orders.*"));

        var matched = _index.Match("orders.eu");

        Assert.Equal(2, matched.Count);
        Assert.Contains(many, matched);
        Assert.Contains(other, matched);
    }

    [Fact]
    public void Register_SamePatternTwice_BothWakeAndEachLeavesAlone()
    {
        var first = _index.Register(TopicFilter.Parse("chat.*"));
        var second = _index.Register(TopicFilter.Parse("chat.*"));
        Assert.Equal(2, _index.Match("chat.lobby").Count);

        _index.Unregister(first);

        Assert.Equal([second], _index.Match("chat.lobby"));
        _index.Unregister(first); // a second removal does nothing
        Assert.Equal(1, _index.Count);
    }

    [Fact]
    public void Notify_WakesOnlyMatchingWaiters()
    {
        var a = _index.Register(TopicFilter.Parse("user.a"));
        var b = _index.Register(TopicFilter.Parse("user.b"));
        var all = _index.Register(TopicFilter.Parse("user.*"));

        _index.Notify([Record(1, "user.a"), Record(2, "user.a")]);

        Assert.Equal(1, a.Wakes);
        Assert.Equal(0, b.Wakes);
        Assert.Equal(1, all.Wakes);
        Assert.Equal(2, _index.Wakeups);
    }

    [Fact]
    public void Cache_StaysCorrectAcrossRegistrationsAndRemovals()
    {
        var first = _index.Register(TopicFilter.Parse("a.*"));
        Assert.Equal([first], _index.Match("a.b")); // cached now
        Assert.True(_index.CachedTopics > 0);

        var second = _index.Register(TopicFilter.Parse("a.>"));
        Assert.Equal(2, _index.Match("a.b").Count);

        _index.Unregister(first);
        Assert.Equal([second], _index.Match("a.b"));

        _index.Unregister(second);
        Assert.Empty(_index.Match("a.b"));
    }

    [Fact]
    public async Task UnsubscribeAndSubscribe_DuringPublishes_AreSafe()
    {
        const int Rounds = 20_000;
        var stable = _index.Register(TopicFilter.Parse("t.>"));
        var churned = 0;
        var publishing = true;
        var guard = System.Diagnostics.Stopwatch.StartNew();
        // Own threads, so both sides run at once even on a thread pool that has not grown yet.
        var publisher = Task.Factory.StartNew(() =>
        {
            long seq = 0;
            while ((seq < Rounds || Volatile.Read(ref churned) < Rounds) && guard.Elapsed < TimeSpan.FromSeconds(30))
            {
                _index.Notify([Record(++seq, $"t.{seq % 50}")]);
            }

            Volatile.Write(ref publishing, false);
            return seq;
        }, TaskCreationOptions.LongRunning);
        var churn = Enumerable.Range(0, 2).Select(worker => Task.Factory.StartNew(() =>
        {
            var random = new Random(worker);
            while (Volatile.Read(ref publishing))
            {
                var waiter = _index.Register(TopicFilter.Parse(random.Next(3) switch { 0 => $"t.{random.Next(50)}", 1 => "t.*", _ => "*.>" }));
                _index.Unregister(waiter);
                Interlocked.Increment(ref churned);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();

        var published = await publisher;
        await Task.WhenAll(churn);

        Assert.True(published >= Rounds && churned >= Rounds, $"both sides ran: {published} publishes, {churned} registrations");
        Assert.Equal(1, _index.Count);
        Assert.Equal(published, stable.Wakes); // every publish matched the waiter that stayed
    }

    [Fact]
    public void Match_RandomPatternsAndTopics_AgreesWithBruteForce()
    {
        var random = new Random(20261202);
        string[] words = ["a", "b", "c", "d"];
        string Topic() => string.Join('.', Enumerable.Range(0, random.Next(1, 5)).Select(_ => words[random.Next(words.Length)]));
        string Pattern()
        {
            var length = random.Next(1, 5);
            var segments = Enumerable.Range(0, length).Select(_ => random.Next(4) == 0 ? "*" : words[random.Next(words.Length)]).ToList();
            if (random.Next(4) == 0)
            {
                segments[^1] = ">";
            }

            return string.Join('.', segments);
        }

        var live = new List<LogWaiter>();
        for (var round = 0; round < 3000; round++)
        {
            if (live.Count > 0 && random.Next(3) == 0)
            {
                var gone = live[random.Next(live.Count)];
                live.Remove(gone);
                _index.Unregister(gone);
            }
            else
            {
                live.Add(_index.Register(TopicFilter.Parse([.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => Pattern())])));
            }

            var topic = Topic();
            var expected = live.Where(w => w.Filter.Matches(topic)).ToHashSet();
            var actual = _index.Match(topic);
            Assert.True(expected.SetEquals(actual), $"round {round}: topic {topic}: expected {expected.Count} waiters, the index found {actual.Count}");
        }
    }

    private static EventRecord Record(long seq, string topic) => new("e", seq, topic, "m", DateTimeOffset.UnixEpoch, "1"u8.ToArray());
}
