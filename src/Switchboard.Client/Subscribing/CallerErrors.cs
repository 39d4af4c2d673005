using System.Collections.Frozen;

namespace Switchboard.Client;

/// <summary>
/// The one list of the hub's codes that end a subscription: the request or the credential is wrong, so retrying it,
/// or switching transport, would get the same answer for ever. Every code not listed (<c>rate_limited</c>,
/// <c>internal_error</c>, <c>store_unavailable</c>, a proxy's status, …) is retried with back-off.
/// </summary>
/// <remarks>
/// Kept in the problem spelling; a WebSocket <c>error</c> code is the same code with '_' for '-' (the hub's own rule,
/// <c>ErrorMapping.WebSocketCode</c>), so one list serves both. docs/clients.md lists it in a table, and the JS client
/// (<c>CALLER_ERRORS</c> in clients/js/src/client.ts) holds the same list: tests check both against that table.
/// <c>token-expired</c> is not here: it renews the token (and ends only when there is no provider to renew it).
/// Every HTTP 403 ends a subscription as well, whatever its code.
/// </remarks>
internal static class CallerErrors
{
    public static readonly FrozenSet<string> Codes = new[]
    {
        // the credential
        "unauthorized", "invalid-token", "invalid-api-key", "invalid-credential", "forbidden", "origin-not-allowed", "subject-mismatch",
        // topics, patterns and cursors
        "invalid-topic", "invalid-pattern", "missing-topic", "too-many-patterns", "invalid-cursor", "invalid-limit", "invalid-wait",
        "invalid-query", "invalid-name",
        // publishing
        "invalid-type", "reserved-type", "malformed-json", "invalid-body", "payload-too-large", "batch-too-large",
        "idempotency-key-reused", "invalid-idempotency-key",
        // WebSocket messages and subscription bookkeeping
        "invalid-json", "invalid-message", "missing-field", "invalid-field", "unknown-op", "invalid-state",
        "duplicate-subscription", "too-many-subscriptions", "not-subscribed",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="code"/> (a problem code, or a WebSocket <c>error</c> code) ends a subscription.</summary>
    public static bool Ends(string? code) => code is not null && Codes.Contains(Normalize(code));

    /// <summary>Whether <paramref name="code"/> says the token expired: the only refusal that renews the token.</summary>
    public static bool IsExpiry(string? code) => code is not null && Normalize(code) == "token-expired";

    /// <summary>Whether the credential itself was refused (these become <see cref="SwitchboardAccessDeniedException"/>).</summary>
    public static bool IsCredential(string? code) => code is not null && Normalize(code) is "unauthorized" or "invalid-token" or "invalid-api-key"
        or "invalid-credential" or "forbidden" or "origin-not-allowed" or "subject-mismatch";

    private static string Normalize(string code) => code.Replace('_', '-');
}
