using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace Switchboard.Client;

/// <summary>
/// The body of a Switchboard webhook: one event. Parse it only after the signature was verified, from the same
/// bytes. In a minimal API handler behind <c>WithSwitchboardWebhookVerification()</c>, take it as a parameter.
/// </summary>
public sealed record WebhookMessage
{
    private static readonly JsonElement JsonNull = JsonDocument.Parse("null").RootElement;

    /// <summary>The event type, for example <c>order.created</c>.</summary>
    public required string Type { get; init; }

    /// <summary>When the event was published to the hub (not when this attempt was sent).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>The event's data as published; JSON <c>null</c> when the body had none.</summary>
    public JsonElement Data { get; init; }

    /// <summary>The event's sequence number within its topic: increases by publish order.</summary>
    public required long Seq { get; init; }

    /// <summary>The topic the event was published to, for example <c>orders</c>.</summary>
    public required string Topic { get; init; }

    /// <summary>
    /// Parses a webhook body. Throws <see cref="WebhookVerificationException"/> with
    /// <see cref="WebhookVerificationFailure.MalformedBody"/> if it is not one.
    /// </summary>
    public static WebhookMessage Parse(ReadOnlySpan<byte> utf8Json)
    {
        WebhookMessage? message;
        try
        {
            message = JsonSerializer.Deserialize(utf8Json, WebhookJsonContext.Default.WebhookMessage);
        }
        catch (JsonException ex)
        {
            throw new WebhookVerificationException(WebhookVerificationFailure.MalformedBody, $"The body is not a Switchboard webhook message: {ex.Message}", ex);
        }

        if (message is null)
        {
            throw new WebhookVerificationException(WebhookVerificationFailure.MalformedBody, "The body is not a Switchboard webhook message: it is null.");
        }

        return message.Data.ValueKind == JsonValueKind.Undefined ? message with { Data = JsonNull } : message;
    }

    /// <summary>Minimal API binding: the message that <c>WithSwitchboardWebhookVerification()</c> verified.</summary>
    /// <exception cref="InvalidOperationException">The endpoint has no <c>WithSwitchboardWebhookVerification()</c>.</exception>
    public static async ValueTask<WebhookMessage?> BindAsync(HttpContext context) =>
        (await WebhookReceiver.BindAsync(context)).Message;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(WebhookMessage))]
internal sealed partial class WebhookJsonContext : JsonSerializerContext;
