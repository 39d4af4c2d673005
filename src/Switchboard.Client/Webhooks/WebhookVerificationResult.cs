namespace Switchboard.Client;

/// <summary>What a successful <see cref="WebhookVerifier.Verify"/> established about the request.</summary>
/// <param name="Id">The <c>webhook-id</c>: stable across retries, so use it as the idempotency key.</param>
/// <param name="Timestamp">When the sender signed this attempt (not when the event happened).</param>
public sealed record WebhookVerificationResult(string Id, DateTimeOffset Timestamp);
