using System.Globalization;
using Switchboard.Client;

namespace Switchboard.Cli;

/// <summary><c>switchboard token</c>: issues an HS256 subscriber token for development, as an app's backend would.</summary>
internal static class TokenCommand
{
    public static async Task<int> RunAsync(string secret, string subject, string[] subscribe, string[] publish, string? presence, TimeSpan lifetime,
        string? issuer, string? audience, TextWriter output, TextWriter error)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(secret) < SubscriberTokens.MinSecretBytes)
        {
            await error.WriteLineAsync("--secret must be at least 32 bytes (the hub's Switchboard:Auth:JwtSecret).");
            return 2;
        }

        foreach (var pattern in subscribe.Concat(publish))
        {
            if (Topics.TopicPattern.TryParse(pattern, 1024, out var problem) is null)
            {
                await error.WriteLineAsync($"'{pattern}': {problem}");
                return 2;
            }
        }

        await output.WriteLineAsync(SubscriberTokens.Create(secret, subject, subscribe, publish, presence, lifetime, issuer, audience));
        return 0;
    }

    /// <summary>Parses <c>90s</c>, <c>30m</c>, <c>1h</c>, <c>7d</c>, or a TimeSpan such as <c>01:30:00</c>.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        if (text.Length >= 2 && double.TryParse(text[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) && amount > 0)
        {
            duration = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => TimeSpan.Zero,
            };
            return duration > TimeSpan.Zero;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration > TimeSpan.Zero;
    }
}
