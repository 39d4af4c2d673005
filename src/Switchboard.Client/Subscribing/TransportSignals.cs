using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Switchboard.Client;

/// <summary>The hub refused the credential with 401 (or a WebSocket <c>unauthorized</c>/<c>token_expired</c>): fetch a new token and retry once.</summary>
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
    /// <summary>Problem codes that mean the request itself is wrong: ending is right, retrying or switching would not help.</summary>
    private static readonly HashSet<string> RequestErrors = new(StringComparer.Ordinal)
    {
        "invalid-topic", "invalid-pattern", "missing-topic", "too-many-patterns", "invalid-cursor", "invalid-limit", "invalid-wait",
        "invalid-type", "reserved-type", "malformed-json", "invalid-body", "payload-too-large", "batch-too-large",
        "idempotency-key-reused", "invalid-idempotency-key",
    };

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

    public static Exception Classify(int status, string? code, TimeSpan? retryAfter, string text) => status switch
    {
        401 => new CredentialRejectedException(code, text),
        403 when code == "forbidden" => new SwitchboardAccessDeniedException(status, code, text),
        >= 400 and < 500 when code is not null && RequestErrors.Contains(code) => new SwitchboardException(status, code, text),
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
