using System.Diagnostics;

namespace Switchboard.Bench;

/// <summary>
/// Append-only store of raw Stopwatch-tick latencies, owned by exactly one worker loop (no locking).
/// Chunked so growth never copies and never allocates one giant array mid-measurement; chunks start
/// small because the fan-out mode keeps one recorder per subscriber (1,000+ of them).
/// </summary>
internal sealed class LatencyRecorder
{
    private const int FirstChunkSize = 512;
    private const int MaxChunkSize = 64 * 1024;

    private readonly List<long[]> _full = [];
    private long[] _current;
    private int _used;
    private long _fullCount;

    public LatencyRecorder(int expectedSamples = 0)
    {
        _current = new long[Math.Clamp(expectedSamples, FirstChunkSize, MaxChunkSize)];
    }

    public long Count => _fullCount + _used;

    public void Record(long ticks)
    {
        if (_used == _current.Length)
        {
            _full.Add(_current);
            _fullCount += _current.Length;
            _current = new long[Math.Min(_current.Length * 2, MaxChunkSize)];
            _used = 0;
        }

        _current[_used++] = ticks;
    }

    public int CopyTo(long[] destination, int offset)
    {
        foreach (var chunk in _full)
        {
            chunk.CopyTo(destination, offset);
            offset += chunk.Length;
        }

        Array.Copy(_current, 0, destination, offset, _used);
        return offset + _used;
    }
}

/// <summary>Latency distribution in milliseconds; null fields when there were no samples.</summary>
internal sealed record LatencySummary(
    long Count,
    double? MinMs,
    double? MeanMs,
    double? P50Ms,
    double? P90Ms,
    double? P99Ms,
    double? P999Ms,
    double? MaxMs)
{
    public static LatencySummary FromRecorders(IEnumerable<LatencyRecorder> recorders)
    {
        var list = recorders.ToList();
        var total = list.Sum(r => r.Count);
        if (total > Array.MaxLength)
        {
            throw new InvalidOperationException($"too many latency samples ({total}) to sort in one array");
        }

        var all = new long[total];
        var offset = 0;
        foreach (var r in list)
        {
            offset = r.CopyTo(all, offset);
        }

        return FromTicks(all);
    }

    /// <summary>Sorts <paramref name="ticks"/> in place.</summary>
    public static LatencySummary FromTicks(long[] ticks)
    {
        if (ticks.Length == 0)
        {
            return new LatencySummary(0, null, null, null, null, null, null, null);
        }

        Array.Sort(ticks);
        double sum = 0;
        foreach (var t in ticks)
        {
            sum += t;
        }

        return new LatencySummary(
            ticks.Length,
            ToMs(ticks[0]),
            Math.Round(sum / ticks.Length * 1000.0 / Stopwatch.Frequency, 3),
            ToMs(Percentile(ticks, 50)),
            ToMs(Percentile(ticks, 90)),
            ToMs(Percentile(ticks, 99)),
            ToMs(Percentile(ticks, 99.9)),
            ToMs(ticks[^1]));
    }

    /// <summary>Nearest-rank percentile of an ascending array: the smallest sample with at least p% of samples ≤ it.</summary>
    public static long Percentile(long[] sortedAscending, double p)
    {
        if (sortedAscending.Length == 0)
        {
            throw new ArgumentException("no samples", nameof(sortedAscending));
        }

        var rank = (long)Math.Ceiling(p / 100.0 * sortedAscending.Length);
        return sortedAscending[Math.Clamp(rank - 1, 0, sortedAscending.Length - 1)];
    }

    public static double ToMs(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);
}
