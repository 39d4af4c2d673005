namespace Switchboard.Client;

/// <summary>Exponential back-off with full jitter: a random delay in [0, min(max, initial · 2^attempt)].</summary>
internal static class Backoff
{
    public static TimeSpan Delay(TimeSpan initial, TimeSpan max, int attempt, TimeSpan? retryAfter = null)
    {
        var ceiling = initial.Ticks * Math.Pow(2, Math.Min(attempt, 30));
        var capped = Math.Min(ceiling, max.Ticks);
        var delay = TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * capped));
        return retryAfter is { } hint && hint > delay ? hint : delay;
    }
}
