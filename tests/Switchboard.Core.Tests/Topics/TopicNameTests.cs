using Switchboard.Topics;

namespace Switchboard.Core.Tests.Topics;

public sealed class TopicNameTests
{
    [Theory]
    [InlineData("orders")]
    [InlineData("orders.eu-west_1")]
    [InlineData("a.b.c.d")]
    [InlineData("A9_-")]
    public void Validate_ValidNames_ReturnsNull(string name) => Assert.Null(TopicName.Validate(name));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a..b", "Empty segment")]
    [InlineData(".a", "Empty segment")]
    [InlineData("a.", "Empty segment")]
    [InlineData("a b", "Invalid character ' '")]
    [InlineData("a/b", "Invalid character '/'")]
    [InlineData("a.*", "Invalid character '*'")]
    [InlineData(">", "Invalid character '>'")]
    [InlineData("café", "Invalid character 'é'")]
    public void Validate_InvalidNames_SaysWhy(string name, string reason) =>
        Assert.Contains(reason, TopicName.Validate(name), StringComparison.Ordinal);

    [Fact]
    public void Validate_TooLong_SaysTheLimit()
    {
        Assert.Null(TopicName.Validate(new string('a', 255)));
        Assert.Contains("limit is 255", TopicName.Validate(new string('a', 256)), StringComparison.Ordinal);
        Assert.Contains("limit is 10", TopicName.Validate(new string('a', 11), maxLength: 10), StringComparison.Ordinal);
    }
}

public sealed class TopicPatternTests
{
    [Theory]
    [InlineData("orders", "orders", true)]
    [InlineData("orders", "orders.eu", false)]
    [InlineData("orders", "order", false)]
    [InlineData("orders.*", "orders.eu", true)]
    [InlineData("orders.*", "orders", false)]
    [InlineData("orders.*", "orders.eu.paris", false)]
    [InlineData("*.eu", "orders.eu", true)]
    [InlineData("*.eu", "eu", false)]
    [InlineData("*", "orders", true)]
    [InlineData("*", "orders.eu", false)]
    [InlineData("orders.>", "orders.eu", true)]
    [InlineData("orders.>", "orders.eu.paris", true)]
    [InlineData("orders.>", "orders", false)]
    [InlineData(">", "anything.at.all", true)]
    [InlineData("a.*.c", "a.b.c", true)]
    [InlineData("a.*.c", "a.b.d", false)]
    [InlineData("a.*.>", "a.b", false)]
    [InlineData("a.*.>", "a.b.c.d", true)]
    [InlineData("ab.*", "a.b", false)]
    public void Matches_FollowsNatsWildcards(string pattern, string topic, bool expected) =>
        Assert.Equal(expected, TopicPattern.Parse(pattern).Matches(topic));

    [Theory]
    [InlineData("orders.>.eu", "'>' matches the rest")]
    [InlineData("orders.e*", "must be a whole segment")]
    [InlineData("orders..x", "Empty segment")]
    [InlineData("", "empty")]
    public void TryParse_InvalidPatterns_SaysWhy(string pattern, string reason)
    {
        Assert.Null(TopicPattern.TryParse(pattern, 255, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void IsExact_OnlyWithoutWildcards()
    {
        Assert.True(TopicPattern.Parse("a.b").IsExact);
        Assert.False(TopicPattern.Parse("a.*").IsExact);
        Assert.False(TopicPattern.Parse("a.>").IsExact);
    }

    [Fact]
    public void Filter_ExactTopics_OnlyWhenEveryPatternIsExact()
    {
        Assert.Equal(["a", "b"], TopicFilter.Parse("a", "b", "a").ExactTopics);
        Assert.Null(TopicFilter.Parse("a", "b.*").ExactTopics);
        Assert.True(TopicFilter.Parse("a", "b.*").Matches("b.x"));
        Assert.False(TopicFilter.Parse("a", "b.*").Matches("c"));
    }
}
