using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.Config;

/// <summary>
/// The rules of an app's settings: what an app name and a key may be, what a flag's rollout may be, how large the
/// settings may grow, the compact form they are stored in, and how a merge patch applies. Every violation is a typed
/// <see cref="SwitchboardException"/> with a stable code.
/// </summary>
public static class ConfigSettings
{
    /// <summary>Throws <c>invalid-app</c> unless <paramref name="app"/> is one topic segment within the length limit.</summary>
    public static void ValidateApp(string app, ConfigOptions options)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(options);
        var max = options.MaxAppLength;
        var error = app.Length > max ? $"The app name is {app.Length} characters long; the limit is {max}."
            : app.Contains('.', StringComparison.Ordinal) ? "An app name is one topic segment, so it cannot contain '.'."
            : TopicName.Validate(ConfigService.TopicPrefix + app, int.MaxValue);
        if (error is not null)
        {
            throw SwitchboardException.Invalid("invalid-app", "Invalid app name", $"App '{Truncate(app)}': {error} Use A-Z, a-z, 0-9, '_' and '-'.");
        }
    }

    /// <summary>Throws <c>invalid-key</c> unless <paramref name="key"/> is 1 to the limit characters without control characters.</summary>
    public static void ValidateKey(string key, ConfigOptions options)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(options);
        var max = options.MaxKeyLength;
        if (key.Length == 0 || key.Length > max || key.Any(char.IsControl))
        {
            throw SwitchboardException.Invalid("invalid-key", "Invalid key", $"Keys are 1 to {max} characters without control characters.");
        }
    }

    /// <summary>Validates settings (key count, keys, flag rollouts, size) and returns them as compact JSON, the stored form.</summary>
    public static byte[] Canonical(JsonObject values, ConfigOptions options)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(options);
        if (values.Count > options.MaxKeys)
        {
            throw SwitchboardException.Invalid("too-many-keys", "Too many keys", $"The settings have {values.Count} keys; the limit is {options.MaxKeys}.");
        }

        foreach (var (key, value) in values)
        {
            ValidateKey(key, options);
            if (value is JsonObject flag && flag.TryGetPropertyValue("rollout", out var rollout)
                && (rollout is not JsonValue number || !number.TryGetValue<double>(out var percent) || percent is < 0 or > 100 || double.IsNaN(percent)))
            {
                throw SwitchboardException.Invalid("invalid-flag", "Invalid rollout",
                    $"Flag '{Truncate(key)}': \"rollout\" must be a number from 0 to 100 (the percentage of user keys that see the flag on).");
            }
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, ConfigService.CompactJson))
        {
            values.WriteTo(writer);
        }

        if (buffer.WrittenCount > options.MaxBytes)
        {
            throw SwitchboardException.TooLarge("payload-too-large", "Settings too large",
                $"The settings would be {buffer.WrittenCount} bytes; the limit is {options.MaxBytes}.");
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>RFC 7396: objects merge key by key, <c>null</c> removes a key, anything else replaces the target.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target as JsonObject ?? [];
        foreach (var (name, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(name);
            }
            else
            {
                var existing = result.TryGetPropertyValue(name, out var current) ? current : null;
                var merged = MergePatch(existing, value);
                if (!ReferenceEquals(merged, existing))
                {
                    result[name] = merged;
                }
            }
        }

        return result;
    }

    /// <summary>The <c>config-not-found</c> error of an app with no settings yet.</summary>
    public static SwitchboardException AppNotFound(string app) =>
        SwitchboardException.NotFound("config-not-found", "App not found",
            $"App '{Truncate(app)}' has no settings yet. PUT /v1/config/{{app}} creates them; a long poll with version=0 waits for them.");

    /// <summary>A name as quoted in an error: at most 64 characters, so a huge one does not fill the answer.</summary>
    public static string Truncate(string? value) => value is null ? "" : value.Length > 64 ? value[..64] + "…" : value;
}
