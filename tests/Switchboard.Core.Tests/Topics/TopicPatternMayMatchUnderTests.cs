using Switchboard.Topics;

namespace Switchboard.Core.Tests.Topics;

public sealed class TopicPatternMayMatchUnderTests
{
    [Theory]
    [InlineData("orders", "orders", true)]
    [InlineData("orders.eu", "orders", true)]
    [InlineData("orders.*", "orders", true)]
    [InlineData("orders.>", "orders", true)]
    [InlineData(">", "orders.eu", true)]
    [InlineData("*", "orders", true)]
    [InlineData("*.eu", "orders.eu", true)]
    [InlineData("orders.>", "orders.eu.1", true)]
    [InlineData("orders", "orders.eu", false)]   // shorter than the prefix: names only the topic orders
    [InlineData("*", "orders.eu", false)]
    [InlineData("chat.>", "orders", false)]
    [InlineData("ordersx", "orders", false)]
    [InlineData("orders.us", "orders.eu", false)]
    public void MayMatchUnder_AgreesWithTopicsUnderThePrefix(string pattern, string prefix, bool expected)
    {
        Assert.Equal(expected, TopicPattern.Parse(pattern).MayMatchUnder(prefix));
    }
}
