using System.Security.Cryptography;

namespace Switchboard.Config;

/// <summary>
/// One stored version of an app's settings. <see cref="Values"/> is the compact UTF-8 JSON object, written byte
/// for byte into every answer, so a version is serialized once however many clients read it.
/// </summary>
/// <param name="App">The app name (one topic segment).</param>
/// <param name="Version">1 for the first version, then one more per change.</param>
/// <param name="Values">The settings as a compact JSON object.</param>
/// <param name="CreatedAt">When the version was stored.</param>
public sealed record ConfigVersion(string App, long Version, byte[] Values, DateTimeOffset CreatedAt)
{
    private string? _etag;

    /// <summary>
    /// A strong entity tag of the version and its values. The values are hashed too, so a store that was reset and
    /// reached the same version number with other values never matches a client's old tag.
    /// </summary>
    public string ETag => _etag ??= $"\"{Version}-{Convert.ToHexStringLower(SHA256.HashData(Values).AsSpan(0, 8))}\"";
}
