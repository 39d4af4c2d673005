using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Webhooks.Signing;

/// <summary>
/// The Standard Webhooks v1 signature: HMAC-SHA256 over <c>{id}.{timestamp}.{body}</c>, sent as <c>v1,</c> and base64.
/// Shared source, like <see cref="StandardWebhookSecret"/>.
/// </summary>
internal static class StandardWebhookSignature
{
    public const string VersionPrefix = "v1,";
    public const int Size = HMACSHA256.HashSizeInBytes;

    /// <summary>Computes the MAC of the signed content under every key; <paramref name="macs"/> holds <c>keys.Count * Size</c> bytes.</summary>
    public static void Compute(IReadOnlyList<byte[]> keys, string id, string timestamp, ReadOnlySpan<byte> body, Span<byte> macs)
    {
        var headerBytes = Encoding.UTF8.GetByteCount(id) + 1 + Encoding.UTF8.GetByteCount(timestamp) + 1;
        var length = headerBytes + body.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var content = rented.AsSpan(0, length);
            var written = Encoding.UTF8.GetBytes(id, content);
            content[written++] = (byte)'.';
            written += Encoding.UTF8.GetBytes(timestamp, content[written..]);
            content[written++] = (byte)'.';
            body.CopyTo(content[written..]);
            for (var i = 0; i < keys.Count; i++)
            {
                HMACSHA256.HashData(keys[i], content, macs.Slice(i * Size, Size));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// The <c>webhook-signature</c> header value: one <c>v1,</c> signature per key, space-separated, so a receiver that
    /// knows either secret during a rotation accepts the request.
    /// </summary>
    public static string Header(IReadOnlyList<byte[]> keys, string id, string timestamp, ReadOnlySpan<byte> body)
    {
        const int StackKeys = 4;
        var macs = keys.Count <= StackKeys ? stackalloc byte[StackKeys * Size] : new byte[keys.Count * Size];
        Compute(keys, id, timestamp, body, macs);
        var header = new StringBuilder(keys.Count * (VersionPrefix.Length + 45));
        for (var i = 0; i < keys.Count; i++)
        {
            if (i > 0)
            {
                header.Append(' ');
            }

            header.Append(VersionPrefix).Append(Convert.ToBase64String(macs.Slice(i * Size, Size)));
        }

        return header.ToString();
    }
}
