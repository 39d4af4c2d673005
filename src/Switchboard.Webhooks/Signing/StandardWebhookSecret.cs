using System.Security.Cryptography;

namespace Switchboard.Webhooks.Signing;

/// <summary>
/// Standard Webhooks secrets: <c>whsec_</c> and the base64 of the HMAC key bytes. Shared source: compiled into the hub's
/// Switchboard.Webhooks and into Switchboard.Client (which references no server project), so the sender and the
/// receiver kit cannot drift apart. Depends on nothing but the base library, and stays internal in both.
/// </summary>
internal static class StandardWebhookSecret
{
    public const string Prefix = "whsec_";

    /// <summary>The key length of generated secrets: 32 bytes, the HMAC-SHA256 block's worth (the spec allows 24 to 64).</summary>
    public const int KeyBytes = 32;

    /// <summary>A new random secret.</summary>
    public static string Generate() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(KeyBytes));

    /// <summary>The key bytes of a <c>whsec_</c> secret or of its base64 part alone; <see cref="ArgumentException"/> when invalid.</summary>
    public static byte[] DecodeKey(string secret, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(secret, parameterName);
        var encoded = secret.Trim();
        if (encoded.StartsWith(Prefix, StringComparison.Ordinal))
        {
            encoded = encoded[Prefix.Length..];
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(encoded);
        }
        catch (FormatException)
        {
            throw new ArgumentException("A webhook secret is 'whsec_' followed by base64, or the base64 alone; this one is not valid base64.", parameterName);
        }

        if (key.Length == 0)
        {
            throw new ArgumentException("A webhook secret must not be empty.", parameterName);
        }

        return key;
    }
}
