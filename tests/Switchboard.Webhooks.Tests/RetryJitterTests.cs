namespace Switchboard.Webhooks.Tests;

public sealed class RetryJitterTests
{
    [Fact]
    public void Jitter_SpreadsDelaysAcrossPlusMinusTheFraction()
    {
        var delay = TimeSpan.FromMinutes(5);

        var samples = Enumerable.Range(0, 2000).Select(_ => WebhookEndpointWorker.Jitter(delay, 0.2)).ToList();

        Assert.All(samples, s => Assert.InRange(s, delay * 0.8, delay * 1.2));
        Assert.True(samples.Min() < delay * 0.85 && samples.Max() > delay * 1.15, "the jitter should use most of its range");
        Assert.Equal(delay, WebhookEndpointWorker.Jitter(delay, 0));
    }
}
