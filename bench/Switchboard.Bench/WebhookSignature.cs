using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// Standard Webhooks signature check, written here because the bench references no src/ project: the
/// secret is <c>whsec_</c> plus base64 key bytes, and <c>webhook-signature</c> holds space-separated
/// <c>v1,base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))</c> entries, any of which may match.
/// </summary>
internal sealed class WebhookSignature
{
    public const string SecretPrefix = "whsec_";

    /// <summary>Timestamps further than this from the receiver's clock are refused, as the spec's libraries do.</summary>
    public const long ToleranceSeconds = 5 * 60;

    private readonly byte[] _key;

    public WebhookSignature(string secret)
    {
        var encoded = secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret;
        _key = Convert.FromBase64String(encoded);
        if (_key.Length == 0)
        {
            throw new ArgumentException("empty signing key", nameof(secret));
        }
    }

    /// <summary>The v1 signature (base64, without the <c>v1,</c> prefix) of one message.</summary>
    public string Sign(string id, string timestamp, ReadOnlySpan<byte> body)
    {
        Span<byte> mac = stackalloc byte[32];
        Compute(id, timestamp, body, mac);
        return Convert.ToBase64String(mac);
    }

    /// <summary>
    /// Null when the headers carry a v1 signature of this message under the key and the timestamp is within
    /// the tolerance of <paramref name="nowUnixSeconds"/>; otherwise why not.
    /// </summary>
    public string? Verify(string? id, string? timestamp, string? signatureHeader, ReadOnlySpan<byte> body, long nowUnixSeconds)
    {
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatureHeader))
        {
            return "missing webhook-id, webhook-timestamp or webhook-signature";
        }

        if (!long.TryParse(timestamp, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            return "webhook-timestamp is not a number";
        }

        if (Math.Abs(nowUnixSeconds - seconds) > ToleranceSeconds)
        {
            return "webhook-timestamp outside the tolerance";
        }

        Span<byte> expected = stackalloc byte[32];
        Compute(id, timestamp, body, expected);
        Span<byte> given = stackalloc byte[64];
        foreach (var range in signatureHeader.AsSpan().Split(' '))
        {
            var entry = signatureHeader.AsSpan(range);
            if (!entry.StartsWith("v1,", StringComparison.Ordinal))
            {
                continue;
            }

            var encoded = entry[3..];
            if (Convert.TryFromBase64Chars(encoded, given, out var written) && written == expected.Length
                && CryptographicOperations.FixedTimeEquals(given[..written], expected))
            {
                return null;
            }
        }

        return "no matching v1 signature";
    }

    private void Compute(string id, string timestamp, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        // "{id}.{timestamp}." is short ASCII; the body is appended as it came.
        var prefixLength = Encoding.UTF8.GetByteCount(id) + 1 + timestamp.Length + 1;
        var length = prefixLength + body.Length;
        var rented = length <= 1024 ? null : ArrayPool<byte>.Shared.Rent(length);
        var message = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
        try
        {
            var at = Encoding.UTF8.GetBytes(id, message);
            message[at++] = (byte)'.';
            at += Encoding.ASCII.GetBytes(timestamp, message[at..]);
            message[at++] = (byte)'.';
            body.CopyTo(message[at..]);
            HMACSHA256.HashData(_key, message, destination);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Reads the integer after <paramref name="property"/> (such as <c>"seq":</c>) in compact JSON; false when absent.</summary>
    public static bool TryReadNumber(ReadOnlySpan<byte> json, ReadOnlySpan<byte> property, out long value)
    {
        var i = json.IndexOf(property);
        if (i >= 0 && Utf8Parser.TryParse(json[(i + property.Length)..], out value, out _))
        {
            return true;
        }

        value = 0;
        return false;
    }
}
