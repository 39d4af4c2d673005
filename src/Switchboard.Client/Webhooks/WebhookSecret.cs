namespace Switchboard.Client;

/// <summary>Turns a <c>whsec_</c> secret (or bare base64) into the HMAC key bytes, as Standard Webhooks defines it.</summary>
internal static class WebhookSecret
{
    public const string Prefix = "whsec_";

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
