using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Webhooks;

/// <summary>
/// Signing secrets and signatures in the Standard Webhooks form: the secret is <c>whsec_</c> and base64 key
/// bytes; a signature is <c>v1,</c> and base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c> under the key bytes.
/// </summary>
public static class WebhookSecret
{
    /// <summary>The prefix of every secret.</summary>
    public const string Prefix = "whsec_";

    private const int KeyBytes = 32;

    /// <summary>A new random secret.</summary>
    public static string Generate() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(KeyBytes));

    /// <summary>
    /// The <c>webhook-signature</c> header value: one <c>v1,</c> signature per secret, space-separated, so a
    /// receiver that knows either secret during a rotation accepts the request.
    /// </summary>
    public static string SignatureHeader(IReadOnlyList<string> secrets, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{id}.{timestamp}."));
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var header = new StringBuilder(secrets.Count * 48);
        foreach (var secret in secrets)
        {
            if (header.Length > 0)
            {
                header.Append(' ');
            }

            using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, KeyOf(secret));
            hmac.AppendData(prefix);
            hmac.AppendData(body);
            hmac.GetHashAndReset(mac);
            header.Append("v1,").Append(Convert.ToBase64String(mac));
        }

        return header.ToString();
    }

    // Decoded once per secret string (an endpoint keeps the same instance), not once per delivery.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, byte[]> Keys = [];

    private static byte[] KeyOf(string secret) => Keys.GetValue(secret,
        static s => Convert.FromBase64String(s.StartsWith(Prefix, StringComparison.Ordinal) ? s[Prefix.Length..] : s));
}
