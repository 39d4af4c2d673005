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
            : ErrorMapping.Recognize(exception, context.RequestServices.GetServices<IStoreFaultClassifier>());

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
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (SwitchboardException error)
        {
            await ProblemResponses.WriteAsync(context.HttpContext, error);
            return Results.Empty;
        }
        catch (HttpProblemException problem)
        {
            await ProblemResponses.WriteAsync(context.HttpContext, problem.Problem);
            return Results.Empty;
        }
        catch (StoreFullException full)
        {
            // A full disk is the store's typed error; the answer is HTTP's business, here.
            await ProblemResponses.WriteAsync(context.HttpContext, StoreProblems.Full(full));
            return Results.Empty;
        }
        catch (BadHttpRequestException bad) when (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await ProblemResponses.WriteAsync(context.HttpContext, Switchboard.Events.EventDraftValidator.PayloadTooLarge(bad.Message));
            return Results.Empty;
        }
        catch (BadHttpRequestException bad) when (bad.StatusCode is >= 400 and < 500)
        {
            // Fix: a body Kestrel cannot read (a broken chunked encoding, a body shorter than its Content-Length)
            // escaped the filter, and Kestrel answered a bare 400 without a problem document.
            await ProblemResponses.WriteAsync(context.HttpContext, HttpProblem.Protocol(bad.StatusCode, "bad-request", "Bad request", bad.Message));
            return Results.Empty;
        }
        catch (Exception ex) when (!context.HttpContext.Response.HasStarted && ProblemResponses.StoreFault(context.HttpContext, ex) is { } storeFault)
        {
            await ProblemResponses.WriteAsync(context.HttpContext, storeFault);
            return Results.Empty;
        }
        catch (InvalidOperationException ex) when (ex.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true && !context.HttpContext.Response.HasStarted)
        {
            // Fix: a string with a lone surrogate escape ("\uD800") parses but throws when read as text. Endpoints that
            // read body strings outside JsonWire.GuardStrings (job type, worker, config keys) answered 500.
            await ProblemResponses.WriteAsync(context.HttpContext, SwitchboardException.Invalid("invalid-body", "Invalid string",
                "The body has a string that is not valid text (a lone surrogate escape such as \\uD800)."));
            return Results.Empty;
        }
    }
}
