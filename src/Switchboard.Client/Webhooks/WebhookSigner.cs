using System.Globalization;
using Switchboard.Webhooks.Signing;

namespace Switchboard.Client;

/// <summary>
/// Signs webhook requests the way the hub does, so a receiver's tests can send it deliveries without a hub.
/// Thread-safe.
/// </summary>
public sealed class WebhookSigner
{
    private readonly byte[][] _key;

    /// <summary>Creates a signer for a <c>whsec_</c> secret (or its base64 part alone).</summary>
    public WebhookSigner(string secret)
    {
        _key = [StandardWebhookSecret.DecodeKey(secret, nameof(secret))];
    }

    /// <summary>Returns the <c>webhook-signature</c> value, <c>v1,&lt;base64&gt;</c>, for one attempt.</summary>
    public string Sign(string id, DateTimeOffset timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var seconds = timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return StandardWebhookSignature.Header(_key, id, seconds, body);
    }

    /// <summary>Adds the three Standard Webhooks headers for one attempt to <paramref name="request"/>.</summary>
    public void SignRequest(HttpRequestMessage request, string id, DateTimeOffset timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Headers.Remove(WebhookHeaders.Id);
        request.Headers.Remove(WebhookHeaders.Timestamp);
        request.Headers.Remove(WebhookHeaders.Signature);
        request.Headers.Add(WebhookHeaders.Id, id);
        request.Headers.Add(WebhookHeaders.Timestamp, timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation(WebhookHeaders.Signature, Sign(id, timestamp, body));
    }

    /// <summary>Makes a new random secret in the <c>whsec_</c> form (32 random bytes, as the hub makes them).</summary>
    public static string GenerateSecret() => StandardWebhookSecret.Generate();
}
