using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Switchboard.AspNetCore.WebSockets;
using Switchboard.Log;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// The one place a <see cref="SwitchboardException"/> becomes an answer on a wire: its kind picks the HTTP status
/// (and Retry-After) of the problem+json document, and the same error becomes the WebSocket <c>error</c> op, so every
/// transport reports the same code for the same refusal.
/// </summary>
internal static class ErrorMapping
{
    /// <summary>The HTTP status that answers an error of <paramref name="kind"/>.</summary>
    public static int StatusFor(SwitchboardErrorKind kind) => kind switch
    {
        SwitchboardErrorKind.Invalid => StatusCodes.Status400BadRequest,
        SwitchboardErrorKind.Unauthorized => StatusCodes.Status401Unauthorized,
        SwitchboardErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        SwitchboardErrorKind.NotFound => StatusCodes.Status404NotFound,
        SwitchboardErrorKind.Conflict => StatusCodes.Status409Conflict,
        SwitchboardErrorKind.Gone => StatusCodes.Status410Gone,
        SwitchboardErrorKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        SwitchboardErrorKind.PreconditionFailed => StatusCodes.Status412PreconditionFailed,
        // The Idempotency-Key draft answers a key reused with another body with 422.
        SwitchboardErrorKind.Mismatch => StatusCodes.Status422UnprocessableEntity,
        SwitchboardErrorKind.RateLimited => StatusCodes.Status429TooManyRequests,
        SwitchboardErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        SwitchboardErrorKind.Full => StatusCodes.Status507InsufficientStorage,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "An error kind with no HTTP status."),
    };

    /// <summary>
    /// The error an exception stands for: itself, a store's full disk, or a store's own failure that a registered
    /// classifier recognises. Null for a cancellation or anything else, which stays a bug (500) or a closed connection.
    /// </summary>
    public static SwitchboardException? Recognize(Exception exception, IEnumerable<IStoreFaultClassifier> storeFaults) => exception switch
    {
        SwitchboardException error => error,
        StoreFullException full => StoreProblems.Full(full),
        OperationCanceledException => null,
        _ => StoreProblems.Classify(storeFaults, exception),
    };

    /// <summary>The problem+json answer to <paramref name="error"/>.</summary>
    public static HttpProblem ToProblem(SwitchboardException error)
    {
        int? retryAfterSeconds = error.RetryAfter is { } wait ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : null;
        var extensions = new List<KeyValuePair<string, object?>>(error.Extensions);
        if (retryAfterSeconds is { } seconds)
        {
            // The body repeats the header, for clients that cannot read headers (browsers without CORS exposure).
            extensions.Add(new("retryAfter", seconds.ToString(CultureInfo.InvariantCulture)));
        }

        return new HttpProblem(StatusFor(error.Kind), error.Code, error.Title, error.Message, extensions, retryAfterSeconds);
    }

    /// <summary>The WebSocket <c>error</c> op answering the message <paramref name="id"/> with <paramref name="error"/>.</summary>
    public static byte[] ToWebSocketError(JsonElement? id, SwitchboardException error) =>
        WebSocketMessages.Error(id, WebSocketCode(error.Code), error.Message);

    /// <summary>
    /// The WebSocket spelling of a code: the protocol's op codes use '_' where problem codes use '-'
    /// (<c>store-full</c> is <c>store_full</c>), so a client matches one against the other by that rule alone.
    /// </summary>
    public static string WebSocketCode(string code) => code.Replace('-', '_');

    /// <summary>The problem <c>type</c> URI for a code.</summary>
    public static string ProblemTypeFor(string code) => $"urn:switchboard:problem:{code}";
}

/// <summary>An RFC 9457 problem as the HTTP layer writes it.</summary>
internal sealed record HttpProblem(int Status, string Code, string Title, string Detail,
    IReadOnlyList<KeyValuePair<string, object?>> Extensions, int? RetryAfterSeconds = null)
{
    /// <summary>A problem of HTTP itself (a wrong method, a wrong media type), which no engine can raise.</summary>
    public static HttpProblem Protocol(int status, string code, string title, string detail) => new(status, code, title, detail, []);

    /// <summary>
    /// The 405 for a method <paramref name="request"/>'s path does not take. The caller sets <c>Allow</c> to
    /// <paramref name="allowed"/> too: RFC 9110 requires it with a 405, and the detail repeats it for a reader of the body.
    /// </summary>
    public static HttpProblem MethodNotAllowed(HttpRequest request, string allowed) => Protocol(StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Method not allowed",
        $"{request.Method} is not supported on {request.Path}; use {allowed}.");
}

/// <summary>
/// Refuses a request for a reason that only exists in HTTP (405, 415, 426, a body Kestrel cannot read). Everything an
/// engine or a store can refuse is a <see cref="SwitchboardException"/> instead.
/// </summary>
internal sealed class HttpProblemException(HttpProblem problem) : Exception(problem.Detail)
{
    public HttpProblem Problem { get; } = problem;
}
