using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>Writes RFC 9457 <c>application/problem+json</c> with the hub's stable <c>code</c>.</summary>
internal static class ProblemResponses
{
    /// <summary>The problem for a store's own exception (Redis unreachable, disk full), when a registered store recognises it.</summary>
    public static SwitchboardProblemException? StoreFault(HttpContext context, Exception exception) =>
        exception is SwitchboardProblemException or OperationCanceledException ? null
            : StoreProblems.Classify(context.RequestServices.GetServices<IStoreFaultClassifier>(), exception);

    /// <summary>The answer to a write the store refused for lack of space: 507 <c>store-full</c>, retry later.</summary>
    public static SwitchboardProblemException StoreFull(Switchboard.Log.StoreFullException full) => new(507, "store-full", "Store full",
        full.Message + " Retry later, with the same Idempotency-Key.",
        new Dictionary<string, object?> { ["retryAfter"] = (int)Switchboard.Log.StoreFullException.RetryAfter.TotalSeconds });

    public static async Task WriteAsync(HttpContext context, SwitchboardProblemException problem)
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

        if (problem.Extensions.TryGetValue("retryAfter", out var retryAfter) && retryAfter is not null)
        {
            response.Headers.RetryAfter = retryAfter.ToString();
        }

        await using var writer = new Utf8JsonWriter(response.BodyWriter, JsonWire.Compact);
        writer.WriteStartObject();
        writer.WriteString("type", SwitchboardProblemException.TypeFor(problem.Code));
        writer.WriteString("title", problem.Title);
        writer.WriteNumber("status", problem.Status);
        writer.WriteString("detail", problem.Message);
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

/// <summary>Turns every <see cref="SwitchboardProblemException"/> thrown by an endpoint into a problem response.</summary>
internal sealed class ProblemEndpointFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (SwitchboardProblemException problem)
        {
            await ProblemResponses.WriteAsync(context.HttpContext, problem);
            return Results.Empty;
        }
        catch (Switchboard.Log.StoreFullException full)
        {
            // A full disk is the store's typed error; the answer is HTTP's business, here.
            await ProblemResponses.WriteAsync(context.HttpContext, ProblemResponses.StoreFull(full));
            return Results.Empty;
        }
        catch (BadHttpRequestException bad) when (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await ProblemResponses.WriteAsync(context.HttpContext, new SwitchboardProblemException(413, "payload-too-large", "Payload too large", bad.Message));
            return Results.Empty;
        }
        catch (BadHttpRequestException bad) when (bad.StatusCode is >= 400 and < 500)
        {
            // Fix: a body Kestrel cannot read (a broken chunked encoding, a body shorter than its Content-Length)
            // escaped the filter, and Kestrel answered a bare 400 without a problem document.
            await ProblemResponses.WriteAsync(context.HttpContext, new SwitchboardProblemException(bad.StatusCode, "bad-request", "Bad request", bad.Message));
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
            await ProblemResponses.WriteAsync(context.HttpContext, SwitchboardProblemException.BadRequest("invalid-body", "Invalid string",
                "The body has a string that is not valid text (a lone surrogate escape such as \\uD800)."));
            return Results.Empty;
        }
    }
}
