using Microsoft.AspNetCore.Http;

namespace Switchboard.Client;

/// <summary>A verified delivery: the message and the attempt's headers that were checked.</summary>
/// <param name="Id">The <c>webhook-id</c>: the same on every retry, so use it to make processing idempotent.</param>
/// <param name="AttemptTimestamp">When the sender signed this attempt.</param>
/// <param name="Message">The event.</param>
public sealed record WebhookDelivery(string Id, DateTimeOffset AttemptTimestamp, WebhookMessage Message)
{
    /// <summary>Minimal API binding: the delivery that <c>WithSwitchboardWebhookVerification()</c> verified.</summary>
    /// <exception cref="InvalidOperationException">The endpoint has no <c>WithSwitchboardWebhookVerification()</c>.</exception>
    public static ValueTask<WebhookDelivery?> BindAsync(HttpContext context) =>
        WebhookReceiver.BindAsync(context)!;
}
