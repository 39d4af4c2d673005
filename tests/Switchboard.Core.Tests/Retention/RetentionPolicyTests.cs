using Switchboard.Retention;

namespace Switchboard.Core.Tests.Retention;

public sealed class RetentionPolicyTests
{
    [Fact]
    public void RuleFor_LongestSegmentPrefixWins_AndUnsetFieldsFallBack()
    {
        var options = new RetentionOptions { MaxAge = TimeSpan.FromDays(7), MaxEventsPerTopic = 1000 };
        options.Topics["orders"] = new RetentionRule { MaxAge = TimeSpan.FromDays(30) };
        options.Topics["orders.audit"] = new RetentionRule { MaxEventsPerTopic = 5 };
        var policy = new RetentionPolicy(options);

        Assert.Equal(TimeSpan.FromDays(30), policy.RuleFor("orders").MaxAge);
        Assert.Equal(1000, policy.RuleFor("orders.eu").MaxEventsPerTopic);
        Assert.Equal(5, policy.RuleFor("orders.audit.x").MaxEventsPerTopic);
        Assert.Equal(TimeSpan.FromDays(7), policy.RuleFor("orders.audit.x").MaxAge);
        Assert.Equal(TimeSpan.FromDays(7), policy.RuleFor("ordersx").MaxAge);
    }
}
