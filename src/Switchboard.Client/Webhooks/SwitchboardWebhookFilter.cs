using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace Switchboard.Client;

/// <summary>
/// Lets a request through to the handler only if it is a verified, first-time webhook delivery.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Missing or malformed headers or body: 400. Bad signature, stale or future timestamp: 401. Too large: 413.</item>
/// <item>
/// A delivery already processed within the replay window (a retry whose first answer was lost, or a replay):
/// 200 without running the handler. A 4xx would make the hub retry, or give up and report a failure, for a
/// message that was in fact handled; a verified duplicate is already done, so it is acknowledged as done.
/// </item>
/// <item>The same id while the first request with it is still in the handler: 409 with Retry-After.</item>
/// <item>
/// The id counts as processed only when the handler succeeded: it threw nothing and answered below 400. Otherwise
/// the reservation is released, so the hub's retry runs the handler again.
/// </item>
/// </list>
/// </remarks>
internal sealed partial class SwitchboardWebhookFilter(WebhookReceiver receiver, WebhookReplayGuard replayGuard, ILogger<SwitchboardWebhookFilter> logger)
    : IEndpointFilter
{
    internal const string ProblemTypePrefix = "urn:switchboard:problem:";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var receipt = await receiver.ReceiveAsync(http);
        if (receipt.Failure is { } failure)
        {
            Log.Rejected(logger, http.Request.Headers[WebhookHeaders.Id].ToString(), failure.Code, failure.Message);
            return Problem(http, failure.StatusCode, failure.Code, Title(failure.StatusCode), failure.Message);
        }

        var id = receipt.Delivery!.Id;
        switch (replayGuard.TryReserve(id))
        {
            case WebhookReplayStatus.Duplicate:
                Log.Duplicate(logger, id);
                return TypedResults.Ok();
            case WebhookReplayStatus.InProgress:
                Log.InProgress(logger, id);
                http.Response.Headers.RetryAfter = "5";
                return Problem(http, StatusCodes.Status409Conflict, "webhook-in-progress", "Delivery in progress",
                    "A request with this webhook-id is being processed; retry later.");
        }

        var succeeded = false;
        try
        {
            var result = await next(context);
            succeeded = result is not IStatusCodeHttpResult { StatusCode: >= 400 } && http.Response.StatusCode < 400;
            return result;
        }
        finally
        {
            if (succeeded)
            {
                replayGuard.Complete(id);
            }
            else
            {
                replayGuard.Release(id);
            }
        }
    }

    private static string Title(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "Webhook verification failed",
        StatusCodes.Status413PayloadTooLarge => "Payload too large",
        _ => "Invalid webhook request",
    };

    private static ProblemHttpResult Problem(HttpContext http, int status, string code, string title, string detail)
    {
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Problem(
            detail: detail,
            instance: http.Request.Path,
            statusCode: status,
            title: title,
            type: ProblemTypePrefix + code,
            extensions: new Dictionary<string, object?> { ["code"] = code });
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Refused webhook {WebhookId}: {Code}: {Reason}")]
        public static partial void Rejected(ILogger logger, string webhookId, string code, string reason);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Webhook {WebhookId} was already processed; acknowledged without running the handler")]
        public static partial void Duplicate(ILogger logger, string webhookId);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Webhook {WebhookId} is already being processed; asked the sender to retry")]
        public static partial void InProgress(ILogger logger, string webhookId);
    }
}
