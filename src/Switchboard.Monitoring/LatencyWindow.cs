namespace Switchboard.Monitoring;

/// <summary>
/// A fixed log-scale histogram for the dashboard's p50/p99: 64 buckets growing by 25% from 0.1 ms (the last ends past
/// two minutes), filled lock-free from measurement callbacks and drained once per snapshot. Percentiles read as the
/// bucket's upper bound, so they are at most 25% high; that is plenty for a chart and costs no allocation per event.
/// </summary>
internal sealed class LatencyWindow
{
    private const int BucketCount = 64;
    private const double Smallest = 0.0001;
    private static readonly double LogGrowth = Math.Log(1.25);

    /// <summary>The last few drained intervals are kept so a percentile covers a few seconds rather than one noisy second.</summary>
    private const int IntervalsKept = 5;

    private readonly long[] _current = new long[BucketCount];
    private readonly long[][] _recent = new long[IntervalsKept][];
    private int _next;

    public LatencyWindow()
    {
        for (var i = 0; i < IntervalsKept; i++)
        {
            _recent[i] = new long[BucketCount];
        }
    }

    public void Record(double seconds) => Interlocked.Increment(ref _current[BucketOf(seconds)]);

    /// <summary>Moves what was recorded since the last call into the window. Called by one thread only.</summary>
    public void Drain()
    {
        var target = _recent[_next];
        for (var i = 0; i < BucketCount; i++)
        {
            target[i] = Interlocked.Exchange(ref _current[i], 0);
        }

        _next = (_next + 1) % IntervalsKept;
    }

    /// <summary>The p50 and p99 over the window in milliseconds, and the samples behind them; null percentiles when empty.</summary>
    public (double? P50, double? P99, long Count) Percentiles()
    {
        Span<long> sums = stackalloc long[BucketCount];
        long total = 0;
        foreach (var interval in _recent)
        {
            for (var i = 0; i < BucketCount; i++)
            {
                sums[i] += interval[i];
                total += interval[i];
            }
        }

        if (total == 0)
        {
            return (null, null, 0);
        }

        return (Quantile(sums, total, 0.5), Quantile(sums, total, 0.99), total);
    }

    internal static int BucketOf(double seconds)
    {
        if (!(seconds > Smallest))
        {
            return 0;
        }

        var bucket = (int)Math.Ceiling(Math.Log(seconds / Smallest) / LogGrowth);
        return Math.Min(bucket, BucketCount - 1);
    }

    internal static double UpperBoundMs(int bucket) => Smallest * Math.Pow(1.25, bucket) * 1000;

    private static double Quantile(ReadOnlySpan<long> sums, long total, double quantile)
    {
        var rank = (long)Math.Ceiling(total * quantile);
        long seen = 0;
        for (var i = 0; i < sums.Length; i++)
        {
            seen += sums[i];
            if (seen >= rank)
            {
                return Math.Round(UpperBoundMs(i), 3);
            }
        }

        return Math.Round(UpperBoundMs(sums.Length - 1), 3);
    }
}
