using System.Globalization;
using System.Runtime.CompilerServices;
using Switchboard.Webhooks.Signing;

namespace Switchboard.Webhooks;

/// <summary>
/// Signing secrets and signatures in the Standard Webhooks form: the secret is <c>whsec_</c> and base64 key
/// bytes; a signature is <c>v1,</c> and base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c> under the key bytes.
/// The hub's face of the signing code it shares with the client's receiver kit.
/// </summary>
public static class WebhookSecret
{
    /// <summary>The prefix of every secret.</summary>
    public const string Prefix = StandardWebhookSecret.Prefix;

    /// <summary>A new random secret (32 key bytes).</summary>
    public static string Generate() => StandardWebhookSecret.Generate();

    /// <summary>
    /// The <c>webhook-signature</c> header value: one <c>v1,</c> signature per secret, space-separated, so a
    /// receiver that knows either secret during a rotation accepts the request.
    /// </summary>
    public static string SignatureHeader(IReadOnlyList<string> secrets, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var keys = new byte[secrets.Count][];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = KeyOf(secrets[i]);
        }

        return StandardWebhookSignature.Header(keys, id, timestamp.ToString(CultureInfo.InvariantCulture), body);
    }

    // Decoded once per secret string (an endpoint keeps the same instance), not once per delivery.
    private static readonly ConditionalWeakTable<string, byte[]> Keys = [];

    private static byte[] KeyOf(string secret) => Keys.GetValue(secret, static s => StandardWebhookSecret.DecodeKey(s, nameof(secret)));
}
