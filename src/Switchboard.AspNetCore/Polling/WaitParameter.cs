using System.Globalization;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Polling;

/// <summary>The <c>wait</c> query parameter of every held request: event polls, config watches, job status and job claims.</summary>
internal static class WaitParameter
{
    private static readonly System.Buffers.SearchValues<char> SecondsCharacters = System.Buffers.SearchValues.Create("0123456789.");

    /// <summary>
    /// Seconds to hold the request, capped at <paramref name="max"/>; zero when absent. With <paramref name="jitter"/>, up to
    /// 1/16 more, as Consul does, so a crowd of pollers that timed out together drifts apart.
    /// </summary>
    public static TimeSpan Parse(string? value, TimeSpan max, bool jitter = true)
    {
        if (string.IsNullOrEmpty(value))
        {
            return TimeSpan.Zero;
        }

        // IsFinite: double.TryParse accepts "NaN" whatever the NumberStyles, and TimeSpan.FromSeconds(NaN) throws.
        // ContainsAnyExcept: it also ignores trailing NUL characters, so "5%00" would be a wait of 5 seconds.
        if (value.AsSpan().ContainsAnyExcept(SecondsCharacters) || !double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || seconds < 0 || !double.IsFinite(seconds))
        {
            throw SwitchboardException.Invalid("invalid-wait", "Invalid wait", "wait is a number of seconds, for example wait=30.");
        }

        var wait = TimeSpan.FromSeconds(Math.Min(seconds, max.TotalSeconds));
        if (wait <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        return !jitter ? wait : wait + TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * wait.TotalMilliseconds / 16);
    }
}
