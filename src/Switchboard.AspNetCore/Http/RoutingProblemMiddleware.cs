using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// Gives the answers routing makes on its own a problem body, so that every path of the server (<c>/dashboard</c>,
/// <c>/openapi/v1.json</c>, the chat page, not only <c>/v1</c>, whose catch-all route answers for itself) fails the
/// same way: the empty 405 with <c>Allow</c> that routing answers for a mapped path asked with another method, its empty
/// 415, and the empty 404 a request ends with when no endpoint and no middleware took it.
/// </summary>
/// <remarks>
/// Not <c>UseStatusCodePages</c>: its problem documents have ASP.NET Core's types and no <c>code</c>, and it awaits every
/// request, so each open stream, WebSocket and held poll would keep its frame alive. This awaits only requests without a
/// mapped endpoint; an endpoint that was mapped (the hub's or the host's) answers for itself and is left as it is.
/// </remarks>
internal sealed class RoutingProblemMiddleware(RequestDelegate next)
{
    // Routing's rejection endpoints (405, 415) are plain endpoints; every mapped one is a RouteEndpoint.
    public Task InvokeAsync(HttpContext context) => context.GetEndpoint() is RouteEndpoint ? next(context) : AnswerAsync(context);

    private async Task AnswerAsync(HttpContext context)
    {
        await next(context);
        var response = context.Response;
        // As UseStatusCodePages decides that nothing has been written: a static file, a redirect or a body is kept.
        if (response.HasStarted || response.StatusCode is < 400 or >= 500 || response.ContentLength is not null || !string.IsNullOrEmpty(response.ContentType))
        {
            return;
        }

        await ProblemResponses.WriteAsync(context, ProblemFor(context));
    }

    private static HttpProblem ProblemFor(HttpContext context)
    {
        var request = context.Request;
        var status = context.Response.StatusCode;
        return status switch
        {
            // Routing has set Allow from the methods of the endpoints on this path (HEAD beside GET where they take it).
            StatusCodes.Status405MethodNotAllowed => HttpProblem.MethodNotAllowed(request, context.Response.Headers.Allow.ToString()),
            StatusCodes.Status404NotFound => ErrorMapping.ToProblem(SwitchboardException.NotFound("not-found", "Not found", $"Nothing is served at {request.Method} {request.Path}.")),
            StatusCodes.Status415UnsupportedMediaType => HttpProblem.Protocol(status, "unsupported-media-type", "Unsupported media type", $"{request.Path} does not take a body of type '{request.ContentType}'."),
            // Any other status a middleware left without a body: its reason phrase as the code (400 bad-request, 411 length-required).
            _ => HttpProblem.Protocol(status, CodeOf(Phrase(status)), Phrase(status), $"{request.Method} {request.Path} was answered {status} {Phrase(status)}."),
        };
    }

    private static string Phrase(int status) => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Client error";

    private static string CodeOf(string phrase) =>
        string.Join('-', phrase.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(word => new string([.. word.Where(char.IsAsciiLetterOrDigit)])));
}
