using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Switchboard.Client;

/// <summary>The outcome of reading and verifying one request: a delivery, or why not.</summary>
internal sealed record WebhookReceipt(WebhookDelivery? Delivery, WebhookVerificationException? Failure);

/// <summary>Marks an endpoint as verified by <see cref="SwitchboardWebhookFilter"/>.</summary>
internal sealed class SwitchboardWebhookEndpointMetadata
{
    public static readonly SwitchboardWebhookEndpointMetadata Instance = new();
}

/// <summary>
/// Reads the body (bounded), verifies it and parses it, once per request: parameter binding runs before endpoint
/// filters, so whichever asks first does the work and the other reads the memoized receipt from HttpContext.Items.
/// </summary>
internal sealed class WebhookReceiver(WebhookVerifier verifier, IOptions<SwitchboardWebhookOptions> options)
{
    private static readonly object ItemKey = new();

    // Bound to handler parameters when verification failed. The filter answers before the handler runs, so no
    // handler ever sees it; returning it (rather than null) keeps the binder from answering 400 on its own first.
    private static readonly WebhookDelivery Refused = new("", DateTimeOffset.MinValue, new WebhookMessage
    {
        Type = "",
        Timestamp = DateTimeOffset.MinValue,
        Seq = 0,
        Topic = "",
    });

    public static WebhookReceipt? Peek(HttpContext context) =>
        context.Items.TryGetValue(ItemKey, out var value) ? value as WebhookReceipt : null;

    public static async ValueTask<WebhookDelivery> BindAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<SwitchboardWebhookEndpointMetadata>() is null)
        {
            throw new InvalidOperationException(
                $"{nameof(WebhookMessage)} and {nameof(WebhookDelivery)} parameters need the endpoint to call WithSwitchboardWebhookVerification().");
        }

        var receipt = await context.RequestServices.GetRequiredService<WebhookReceiver>().ReceiveAsync(context);
        return receipt.Delivery ?? Refused;
    }

    public async ValueTask<WebhookReceipt> ReceiveAsync(HttpContext context)
    {
        if (Peek(context) is { } known)
        {
            return known;
        }

        WebhookReceipt receipt;
        try
        {
            var body = await ReadBodyAsync(context.Request, options.Value.MaxBodyBytes, context.RequestAborted);
            var headers = context.Request.Headers;
            var verified = verifier.Verify(headers[WebhookHeaders.Id], headers[WebhookHeaders.Timestamp], headers[WebhookHeaders.Signature], body.Span);
            var message = WebhookMessage.Parse(body.Span);
            receipt = new WebhookReceipt(new WebhookDelivery(verified.Id, verified.Timestamp, message), null);
        }
        catch (WebhookVerificationException failure)
        {
            receipt = new WebhookReceipt(null, failure);
        }

        context.Items[ItemKey] = receipt;
        return receipt;
    }

    /// <summary>
    /// Reads the whole body into memory, refusing more than <paramref name="maxBytes"/>, and puts it back as a
    /// seekable stream so the handler can read it again.
    /// </summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        var collected = new MemoryStream(capacity: (int)Math.Min(request.ContentLength ?? 4096, maxBytes));
        request.HttpContext.Response.RegisterForDispose(collected);
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (collected.Length + read > maxBytes)
                {
                    throw TooLarge(maxBytes);
                }

                collected.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        collected.Position = 0;
        request.Body = collected;
        return collected.GetBuffer().AsMemory(0, (int)collected.Length);
    }

    private static WebhookVerificationException TooLarge(int maxBytes) =>
        new(WebhookVerificationFailure.BodyTooLarge, $"The body is larger than the limit of {maxBytes} bytes.");
}
