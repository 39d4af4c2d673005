namespace Switchboard.Storage.Redis;

/// <summary>
/// Lets one warning of a kind through per interval and counts the rest. A full or frozen Redis refuses every request,
/// and one line per request would bury the log (thousands a second); one line per interval, with how many it stands
/// for, says the same.
/// </summary>
internal sealed class WarningThrottle(TimeProvider time, TimeSpan interval)
{
    private readonly Lock _gate = new();
    private long _nextAt = long.MinValue;
    private int _suppressed;

    /// <summary>True when this occurrence should be logged; <paramref name="suppressed"/> is how many were not since the last one that was.</summary>
    public bool ShouldLog(out int suppressed)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (now < _nextAt)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }

            _nextAt = now + (long)(interval.TotalSeconds * time.TimestampFrequency);
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}
