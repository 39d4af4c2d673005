using Switchboard.Log;
using Switchboard.Topics;

namespace Switchboard.Core.Tests.Log;

/// <summary>
/// Retired topics: the registry forgets topics retention emptied, and keeps per region the point a reader must be
/// past, so that it never misses a gap and resets only readers that may match there.
/// </summary>
public sealed class TopicRegistryTests
{
    private static TopicRegistry WithRetired(params (string Topic, long Through, string? RulePrefix)[] retired)
    {
        var registry = new TopicRegistry();
        foreach (var (topic, through, rulePrefix) in retired)
        {
            registry.Appended(topic, through);
            registry.Trimmed(topic, through);
            registry.Retire(topic, registry.RetiredRegion(topic, rulePrefix));
        }

        return registry;
    }

    [Fact]
    public void ARetiredTopic_IsForgotten_ButItsReadersStillSeeTheGap()
    {
        var registry = WithRetired(("user.7", 40, null));

        Assert.Equal(0, registry.Count);
        Assert.Equal(new LogGap(40), registry.FindGap(TopicFilter.Parse("user.7"), 10));
        Assert.Equal(new LogGap(40), registry.FindGap(TopicFilter.Parse("user.*"), 10));
        Assert.Equal(new LogGap(40), registry.FindGap(TopicFilter.Parse(">"), 10));
        Assert.Null(registry.FindGap(TopicFilter.Parse("user.7"), 40));
    }

    [Fact]
    public void ReadersOfAnotherRegion_AreNotReset()
    {
        var registry = WithRetired(("user.7", 40, null), ("switchboard.playground.s1", 90, "switchboard.playground"));

        Assert.Null(registry.FindGap(TopicFilter.Parse("orders.eu"), 10));
        Assert.Null(registry.FindGap(TopicFilter.Parse("orders.>", "chat.*"), 10));
        Assert.Null(registry.FindGap(TopicFilter.Parse("switchboard.monitoring"), 50));
        Assert.Equal(new LogGap(90), registry.FindGap(TopicFilter.Parse("switchboard.*.s1"), 50));
        Assert.Equal(new LogGap(90), registry.FindGap(TopicFilter.Parse("switchboard.>"), 50));
        Assert.Equal(new LogGap(40), registry.FindGap(TopicFilter.Parse("*.7"), 10));
        Assert.Equal(0, registry.EarliestAfter("orders.eu"));
        Assert.Equal(40, registry.EarliestAfter("user.8")); // a user topic may have been retired: conservative
    }

    [Fact]
    public void ATopicPublishedToAgainAfterRetiring_KeepsItsOldGap()
    {
        var registry = WithRetired(("user.7", 40, null));
        registry.Appended("user.7", 41);

        Assert.Equal(new LogGap(40), registry.FindGap(TopicFilter.Parse("user.7"), 10));
        Assert.Null(registry.FindGap(TopicFilter.Parse("user.7"), 40));
        Assert.Equal(40, registry.TrimmedThrough("user.7"));
    }

    [Fact]
    public void BeyondTheRegionLimit_RetiredTopicsShareOnePointThatCoversEveryReader()
    {
        var registry = new TopicRegistry();
        for (var i = 0; i < TopicRegistry.MaxRetiredRegions; i++)
        {
            registry.LoadRetired($"r{i}", 5);
        }

        Assert.Equal("", registry.RetiredRegion("brand-new.topic", null));
        Assert.Equal("r3", registry.RetiredRegion("r3.x", null)); // a known region keeps its place
        registry.LoadRetired("", 70);
        Assert.Equal(new LogGap(70), registry.FindGap(TopicFilter.Parse("anything.at.all"), 10));
    }

    [Fact]
    public void ARetirementTheStoreReports_ForgetsTheTopic_UnlessItWasTrimmedPastThatPointSince()
    {
        var registry = new TopicRegistry();
        registry.Trimmed("user.7", 40);
        registry.Trimmed("user.8", 60); // retired at 50 elsewhere, then published to and trimmed again before the news came
        registry.Retired("user.7", "user", 50);
        registry.Retired("user.8", "user", 50);

        Assert.Equal(1, registry.Count);
        Assert.Equal(50, registry.TrimmedThrough("user.7"));
        Assert.Equal(60, registry.TrimmedThrough("user.8"));
        Assert.Equal(new LogGap(60), registry.FindGap(TopicFilter.Parse("user.8"), 55));
        Assert.Equal(new LogGap(50), registry.FindGap(TopicFilter.Parse("user.7"), 10));
        Assert.Equal(new LogGap(60), registry.FindGap(TopicFilter.Parse("user.*"), 10));
        Assert.Null(registry.FindGap(TopicFilter.Parse("orders.>"), 10));
    }

    [Fact]
    public void ForgetCovered_DropsOnlyTheTopicsARetiredRegionCovers()
    {
        var registry = new TopicRegistry();
        registry.Trimmed("user.7", 40);
        registry.Trimmed("user.9", 90);
        registry.Trimmed("orders.1", 20);
        registry.LoadRetired("user", 50);

        registry.ForgetCovered();

        Assert.Equal(2, registry.Count); // user.9 (past the region) and orders.1 (another region)
        Assert.Equal(50, registry.TrimmedThrough("user.7"));
        Assert.Equal(90, registry.TrimmedThrough("user.9"));
        Assert.Equal(20, registry.TrimmedThrough("orders.1"));
        Assert.Equal(new LogGap(90), registry.FindGap(TopicFilter.Parse("user.>"), 60));
    }
}

internal static class TopicRegistryTestExtensions
{
    public static long EarliestAfter(this TopicRegistry registry, string topic) => registry.MaxTrimmed(TopicFilter.Parse(topic));
}
