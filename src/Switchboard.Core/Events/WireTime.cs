using System.Globalization;

namespace Switchboard.Events;

/// <summary>
/// How every time on the wire is written: RFC 3339 in UTC with milliseconds and <c>Z</c>
/// (<c>2026-12-04T08:00:00.123Z</c>), the same in events, jobs, config, webhooks and the dashboard.
/// </summary>
public static class WireTime
{
    /// <summary>The wire form of <paramref name="time"/>.</summary>
    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
