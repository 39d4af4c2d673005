using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>
/// The hub said the token expired (401 <c>token-expired</c>, WebSocket <c>token_expired</c> or close 1008, SSE
/// <c>switchboard.token-expired</c>): fetch a new token and retry once. Every other refusal of the credential is final.
/// </summary>
internal sealed class CredentialRejectedException(string? code, string message) : Exception(message)
{
    public string? Code { get; } = code;
}

/// <summary>A transport answered with a status that is not an answer to the request (a proxy error, 5xx, 429 …).</summary>
internal sealed class TransportStatusException(int status, string? code, TimeSpan? retryAfter, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string? Code { get; } = code;

    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>A stream stayed silent too long (buffered by a proxy, or a dead connection).</summary>
internal sealed class TransportStalledException(string message) : Exception(message);

/// <summary>One transport's output: an event, a reset, or a new position with no event (an ack, a poll's cursor).</summary>
internal readonly record struct Delivery(HubEvent? Event = null, HubReset? Reset = null, string? Position = null);

internal static class HttpAnswers
{
    public static async Task<ProblemDto?> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType is not ("application/problem+json" or "application/json"))
        {
            return null;
        }

        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(stream, ClientJsonContext.Default.ProblemDto, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Turns an unsuccessful answer into the exception that tells the caller what to do.</summary>
    public static async Task<Exception> FailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var problem = await ReadProblemAsync(response, cancellationToken).ConfigureAwait(false);
        var text = $"{status} {response.ReasonPhrase}" + (problem?.Code is { } c ? $" ({c}): {problem.Detail}" : "");
        return Classify(status, problem?.Code, RetryAfter(response.Headers), text);
    }

    /// <remarks>
    /// A 401 renews the token only when it says the token expired; any other 401 and every 403 end the subscription (a
    /// 403 without a code is a proxy or the hub refusing this caller all the same). Other 4xx end it only for the codes
    /// in <see cref="CallerErrors"/>; everything else is a transport's failure, retried or fallen back from.
    /// </remarks>
    public static Exception Classify(int status, string? code, TimeSpan? retryAfter, string text) => status switch
    {
        401 when CallerErrors.IsExpiry(code) => new CredentialRejectedException(code, text),
        401 or 403 => new SwitchboardAccessDeniedException(status, code, $"The hub refused the credential: {text}"),
        >= 400 and < 500 when CallerErrors.Ends(code) => new SwitchboardException(status, code, text),
        _ => new TransportStatusException(status, code, retryAfter, text),
    };

    public static TimeSpan? RetryAfter(HttpResponseHeaders headers)
    {
        if (headers.RetryAfter is not { } value)
        {
            return null;
        }

        if (value.Delta is { } delta)
        {
            return delta;
        }

        return value.Date is { } date ? date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero : null;
    }

    public static bool IsTransient(HttpStatusCode status) => (int)status is 408 or 429 or 500 or 502 or 503 or 504;
}
