using System.Text.Json;

namespace Switchboard.Client;

/// <summary>One version of an app's settings as the client holds it. Immutable, so it can be read from any thread.</summary>
/// <param name="App">The app.</param>
/// <param name="Version">The version; 0 before the first settings arrived.</param>
/// <param name="Values">The settings, a JSON object.</param>
public sealed record ConfigSnapshot(string App, long Version, JsonElement Values)
{
    internal static ConfigSnapshot Empty(string app)
    {
        using var document = JsonDocument.Parse("{}");
        return new ConfigSnapshot(app, 0, document.RootElement.Clone());
    }

    /// <summary>When the hub stored this version; null before the first settings arrived.</summary>
    public DateTimeOffset? UpdatedAt { get; init; }

    /// <summary>The value of a key, if the settings have it.</summary>
    public bool TryGetValue(string key, out JsonElement value) => Values.TryGetProperty(key, out value);

    /// <summary>Whether a flag is on for a user; see <see cref="FeatureFlags.IsEnabled"/>. A missing flag is <paramref name="defaultValue"/>.</summary>
    public bool IsEnabled(string flag, string? userKey = null, bool defaultValue = false) =>
        TryGetValue(flag, out var value) ? FeatureFlags.IsEnabled(value, flag, userKey, defaultValue) : defaultValue;
}

/// <summary>The settings before and after a change.</summary>
public sealed class ConfigChangedEventArgs(ConfigSnapshot previous, ConfigSnapshot current) : EventArgs
{
    /// <summary>What the watcher held before.</summary>
    public ConfigSnapshot Previous { get; } = previous;

    /// <summary>What it holds now.</summary>
    public ConfigSnapshot Current { get; } = current;
}
