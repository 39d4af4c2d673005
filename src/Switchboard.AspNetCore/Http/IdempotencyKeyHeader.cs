using Microsoft.AspNetCore.Http;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>The <c>Idempotency-Key</c> request header, read the one way publish and job submission share.</summary>
internal static class IdempotencyKeyHeader
{
    /// <summary>
    /// The key, or null without the header. Two headers are refused rather than joined into "a,b", a key neither
    /// retry would send alone.
    /// </summary>
    public static string? Read(HttpRequest request)
    {
        if (!request.Headers.TryGetValue("Idempotency-Key", out var values))
        {
            return null;
        }

        return values.Count == 1
            ? values[0]
            : throw SwitchboardException.Invalid("invalid-idempotency-key", "Invalid Idempotency-Key", "Send one Idempotency-Key header, not several.");
    }
}
