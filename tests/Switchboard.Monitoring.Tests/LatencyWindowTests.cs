namespace Switchboard.Monitoring.Tests;

public sealed class LatencyWindowTests
{
    [Fact]
    public void Percentiles_Empty_AreNull()
    {
        var window = new LatencyWindow();
        Assert.Equal((null, null, 0L), window.Percentiles());

        window.Drain();
        Assert.Equal((null, null, 0L), window.Percentiles());
    }

    [Fact]
    public void Record_CountsOnlyOnceDrained()
    {
        var window = new LatencyWindow();
        window.Record(0.005);
        Assert.Equal(0, window.Percentiles().Count);

        window.Drain();
        Assert.Equal(1, window.Percentiles().Count);
    }

    [Fact]
    public void Percentiles_AreTheBucketUpperBound_AtMost25PercentHigh()
    {
        var window = new LatencyWindow();
        for (var i = 0; i < 98; i++)
        {
            window.Record(0.001);
        }

        window.Record(1.0);
        window.Record(1.0);
        window.Drain();

        var (p50, p99, count) = window.Percentiles();
        Assert.Equal(100, count);
        Assert.InRange(p50!.Value, 1.0, 1.25);
        Assert.InRange(p99!.Value, 1000.0, 1250.0);
    }

    [Fact]
    public void Window_KeepsTheLastFiveIntervals()
    {
        var window = new LatencyWindow();
        window.Record(0.002);
        window.Drain();
        for (var i = 0; i < 4; i++)
        {
            window.Drain();
            Assert.Equal(1, window.Percentiles().Count);
        }

        window.Drain();
        Assert.Equal((null, null, 0L), window.Percentiles());
    }

    [Theory]
    [InlineData(0.0002)]
    [InlineData(0.001)]
    [InlineData(0.0123)]
    [InlineData(0.5)]
    [InlineData(7.0)]
    public void BucketOf_UpperBoundCoversTheValue(double seconds)
    {
        var bound = LatencyWindow.UpperBoundMs(LatencyWindow.BucketOf(seconds));
        Assert.InRange(bound, seconds * 1000 * 0.999999, seconds * 1000 * 1.25);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(0.00005)]
    public void BucketOf_TinyOrNonsense_IsTheFirstBucket(double seconds) => Assert.Equal(0, LatencyWindow.BucketOf(seconds));

    [Fact]
    public void BucketOf_Huge_IsTheLastBucket()
    {
        Assert.Equal(63, LatencyWindow.BucketOf(3600));
        Assert.Equal(63, LatencyWindow.BucketOf(double.PositiveInfinity));
    }
}
