using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>
/// Evaluates feature flags stored as config values: <c>true</c>/<c>false</c>, or <c>{"rollout": p}</c> for p percent of
/// user keys. The bucket of a user is stable (the same flag and user key give the same answer in every process and
/// language), and independent per flag, so the 10 % who see one flag are not the 10 % who see the next.
/// </summary>
public static class FeatureFlags
{
    /// <summary>
    /// The user's bucket for a flag, 0 to 99: the first 4 bytes of SHA-256 over the UTF-8 of <c>flag + ":" + userKey</c>,
    /// read as a big-endian unsigned integer, modulo 100. Raising a rollout from 10 to 20 keeps the first 10 % on.
    /// </summary>
    public static int Bucket(string flag, string userKey)
    {
        ArgumentNullException.ThrowIfNull(flag);
        ArgumentNullException.ThrowIfNull(userKey);
        var input = Encoding.UTF8.GetBytes(flag + ":" + userKey);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        return (int)(BinaryPrimitives.ReadUInt32BigEndian(hash) % 100);
    }

    /// <summary>
    /// Whether a flag value is on for <paramref name="userKey"/>. A boolean is itself; a rollout is on when the user's
    /// bucket is below the percentage (without a user key, only at 100); anything else is <paramref name="defaultValue"/>.
    /// </summary>
    public static bool IsEnabled(JsonElement value, string flag, string? userKey, bool defaultValue = false)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.Object when value.TryGetProperty("rollout", out var rollout) && rollout.ValueKind == JsonValueKind.Number:
                var percent = rollout.GetDouble();
                if (percent >= 100)
                {
                    return true;
                }

                return userKey is not null && percent > 0 && Bucket(flag, userKey) < percent;
            default:
                return defaultValue;
        }
    }
}
