using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Log;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>Writes RFC 9457 <c>application/problem+json</c> with the hub's stable <c>code</c>.</summary>
internal static class ProblemResponses
{
    /// <summary>The error for a store's own exception (Redis unreachable, disk full), when a registered store recognises it.</summary>
    public static SwitchboardException? StoreFault(HttpContext context, Exception exception) =>
        exception is SwitchboardException or OperationCanceledException ? null
            : ErrorMapping.Recognize(exception, context.HubServices().GetServices<IStoreFaultClassifier>());

    /// <summary>
    /// The problem an endpoint's exception answers, or null for one that is not a client's or the store's (a bug: it
    /// stays a 500). <see cref="ProblemEndpointFilter"/> uses this, and so do the long-lived results (streams, held
    /// polls) that run after the filter has returned.
    /// </summary>
    public static HttpProblem? ProblemFor(HttpContext context, Exception exception) => exception switch
    {
        SwitchboardException error => ErrorMapping.ToProblem(error),
        HttpProblemException problem => problem.Problem,
        // A full disk is the store's typed error; the answer is HTTP's business, here.
        StoreFullException full => ErrorMapping.ToProblem(StoreProblems.Full(full)),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } bad => ErrorMapping.ToProblem(Switchboard.Events.EventDraftValidator.PayloadTooLarge(bad.Message)),
        // A body Kestrel cannot read (a broken chunked encoding, a body shorter than its Content-Length): a problem
        // document rather than Kestrel's bare 400.
        BadHttpRequestException { StatusCode: >= 400 and < 500 } bad => HttpProblem.Protocol(bad.StatusCode, "bad-request", "Bad request", bad.Message),
        _ when context.Response.HasStarted => null,
        _ when StoreFault(context, exception) is { } storeFault => ErrorMapping.ToProblem(storeFault),
        // A string with a lone surrogate escape ("\uD800") parses but throws when read as text, in endpoints that read
        // body strings outside JsonWire.GuardStrings (job type, worker, config keys).
        InvalidOperationException ex when ex.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true =>
            ErrorMapping.ToProblem(SwitchboardException.Invalid("invalid-body", "Invalid string",
                "The body has a string that is not valid text (a lone surrogate escape such as \\uD800).")),
        _ => null,
    };

    /// <summary>Writes <paramref name="error"/> as <see cref="ErrorMapping"/> maps it.</summary>
    public static Task WriteAsync(HttpContext context, SwitchboardException error) => WriteAsync(context, ErrorMapping.ToProblem(error));

    public static async Task WriteAsync(HttpContext context, HttpProblem problem)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return; // a stream already began; the transport reports errors in-band
        }

        response.StatusCode = problem.Status;
        response.ContentType = "application/problem+json";
        response.Headers.CacheControl = "no-store";
        if (problem.Status == StatusCodes.Status401Unauthorized)
        {
            // RFC 6750: a missing credential gets the bare challenge; a rejected one says so.
            response.Headers.WWWAuthenticate = problem.Code == "unauthorized" ? "Bearer realm=\"switchboard\"" : "Bearer realm=\"switchboard\", error=\"invalid_token\"";
        }

        if (problem.RetryAfterSeconds is { } retryAfter)
        {
            response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        }

        await using var writer = new Utf8JsonWriter(response.BodyWriter, JsonWire.Compact);
        writer.WriteStartObject();
        writer.WriteString("type", ErrorMapping.ProblemTypeFor(problem.Code));
        writer.WriteString("title", problem.Title);
        writer.WriteNumber("status", problem.Status);
        writer.WriteString("detail", problem.Detail);
        writer.WriteString("code", problem.Code);
        writer.WriteString("instance", context.Request.Path);
        foreach (var (name, value) in problem.Extensions)
        {
            if (value is null)
            {
                writer.WriteNull(name);
            }
            else
            {
                writer.WriteString(name, value.ToString());
            }
        }

        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }
}

/// <summary>Turns every <see cref="SwitchboardException"/> thrown by an endpoint, and every store fault, into a problem response.</summary>
internal sealed class ProblemEndpointFilter : IEndpointFilter
{
    /// <summary>
    /// The one instance: stateless. <c>AddEndpointFilter&lt;T&gt;()</c> would activate a filter per request from RequestServices,
    /// and so create a DI scope that a stream or held poll keeps for its whole life.
    /// </summary>
    public static readonly ProblemEndpointFilter Instance = new();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception ex) when (ProblemResponses.ProblemFor(context.HttpContext, ex) is { } problem)
        {
            await ProblemResponses.WriteAsync(context.HttpContext, problem);
            return Results.Empty;
        }
    }
}
