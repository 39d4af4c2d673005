namespace Switchboard.Client;

/// <summary>The Standard Webhooks header names, so senders, receivers and tests spell them one way.</summary>
public static class WebhookHeaders
{
    /// <summary>The message id, the same on every retry of one delivery: the receiver's idempotency key.</summary>
    public const string Id = "webhook-id";

    /// <summary>When this attempt was signed, in Unix seconds; bounds how long a captured request can be replayed.</summary>
    public const string Timestamp = "webhook-timestamp";

    /// <summary>One or more space-separated <c>v1,&lt;base64&gt;</c> signatures; several during a secret rotation.</summary>
    public const string Signature = "webhook-signature";
}
