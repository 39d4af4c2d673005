using Microsoft.Extensions.Time.Testing;

namespace Switchboard.Storage.Redis.Tests;

public sealed class WarningThrottleTests
{
    [Fact]
    public void OneWarningPerInterval_TheNextSaysHowManyItStandsFor()
    {
        var time = new FakeTimeProvider();
        var throttle = new WarningThrottle(time, TimeSpan.FromSeconds(10));

        Assert.True(throttle.ShouldLog(out var first));
        Assert.Equal(0, first);
        for (var i = 0; i < 5; i++)
        {
            Assert.False(throttle.ShouldLog(out _));
        }

        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(throttle.ShouldLog(out _));

        time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(throttle.ShouldLog(out var next));
        Assert.Equal(6, next);
        Assert.False(throttle.ShouldLog(out _));
    }
}
