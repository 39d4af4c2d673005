using Microsoft.AspNetCore.Http;
using Switchboard.Auth;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Auth;

/// <summary>How a caller was identified.</summary>
internal enum CallerKind
{
    /// <summary>No credentials are configured and the request came over loopback: everything is allowed (protected mode).</summary>
    Open,

    /// <summary>No credential: public topics and health only.</summary>
    Anonymous,

    /// <summary>An <c>sk_</c> API key.</summary>
    ApiKey,

    /// <summary>A subscriber token (JWT).</summary>
    Token,
}

/// <summary>
/// Who is calling and what they may do, resolved once per request (or per WebSocket connection, until a refresh).
/// Every endpoint asks it before acting; a refusal is 401 for a caller without credentials, 403 otherwise.
/// </summary>
internal sealed class Caller
{
    private readonly IReadOnlySet<string> _scopes;

    /// <summary>Null means any topic.</summary>
    private readonly TopicPattern[]? _publish;

    /// <summary>Null means any topic.</summary>
    private readonly TopicPattern[]? _subscribe;

    private readonly IReadOnlyList<TopicPattern> _publicTopics;

    public Caller(CallerKind kind, string? subject, IReadOnlySet<string> scopes, TopicPattern[]? publish, TopicPattern[]? subscribe,
        IReadOnlyList<TopicPattern> publicTopics, string? presenceName, DateTimeOffset? expiresAt, string? rateLimitPartition)
    {
        Kind = kind;
        Subject = subject;
        _scopes = scopes;
        _publish = publish;
        _subscribe = subscribe;
        _publicTopics = publicTopics;
        PresenceName = presenceName;
        ExpiresAt = expiresAt;
        RateLimitPartition = rateLimitPartition;
    }

    public CallerKind Kind { get; }

    /// <summary>The API key's id or the token's <c>sub</c>; null for open and anonymous callers.</summary>
    public string? Subject { get; }

    /// <summary>The token's <c>presence</c> name: the name others see in chat rooms, which the client cannot choose.</summary>
    public string? PresenceName { get; }

    /// <summary>When the token expires; long-lived connections end then.</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>The request-rate bucket of a credential (<c>key:</c> or <c>sub:</c>); null for open and anonymous callers, whose bucket is their IP.</summary>
    public string? RateLimitPartition { get; }

    /// <summary>True when the caller holds <paramref name="scope"/> (open callers hold every scope).</summary>
    public bool HasScope(string scope) => Kind == CallerKind.Open || _scopes.Contains(scope);

    public void RequireScope(string scope, string action)
    {
        if (!HasScope(scope))
        {
            throw Denied($"{action} needs an API key with the '{scope}' scope.");
        }
    }

    /// <summary>Every pattern of the subscription must lie inside a granted pattern or a public one.</summary>
    public void RequireSubscribe(TopicFilter filter)
    {
        foreach (var pattern in filter.Patterns)
        {
            if (!MayRead(pattern))
            {
                throw Denied($"Reading '{pattern.Value}' is not allowed{Granted(_subscribe)}.");
            }
        }
    }

    /// <summary>Reading one topic; a name that is not a valid topic (a malformed job id) is refused like any other.</summary>
    public void RequireSubscribe(string topic)
    {
        if (Kind == CallerKind.Open)
        {
            return;
        }

        RequireSubscribe(new TopicFilter([TopicPattern.TryParse(topic, 1024, out _) ?? throw Denied($"Reading '{topic}' is not allowed.")]));
    }

    public bool MayRead(TopicPattern pattern) =>
        Kind == CallerKind.Open
        || Within(pattern, _subscribe)
        || _publicTopics.Any(pattern.IsWithin);

    public void RequirePublish(string topic)
    {
        if (Kind != CallerKind.Open)
        {
            RequirePublish(TopicPattern.TryParse(topic, 1024, out _) ?? throw Denied($"Publishing to '{topic}' is not allowed."));
        }
    }

    public void RequirePublish(TopicPattern pattern)
    {
        if (Kind != CallerKind.Open && !Within(pattern, _publish))
        {
            throw Denied($"Publishing to '{pattern.Value}' is not allowed{Granted(_publish)}.");
        }
    }

    private static bool Within(TopicPattern pattern, TopicPattern[]? grants) => grants is null || grants.Any(pattern.IsWithin);

    private string Granted(TopicPattern[]? grants) => Kind switch
    {
        CallerKind.Anonymous => " without credentials",
        _ when grants is null => "",
        _ when grants.Length == 0 => " for this credential",
        _ => $"; this credential allows {string.Join(", ", grants.Select(g => g.Value))}",
    };

    /// <summary>Unauthorized for a caller without credentials (it should present some), Forbidden for one whose credential does not allow it.</summary>
    public SwitchboardException Denied(string detail) => Kind == CallerKind.Anonymous
        ? new SwitchboardException(SwitchboardErrorKind.Unauthorized, "unauthorized", "Credentials required",
            detail + " Send Authorization: Bearer <API key or token>, or access_token=<token> in the query for EventSource and WebSocket.")
        : new SwitchboardException(SwitchboardErrorKind.Forbidden, "forbidden", "Forbidden", detail);

    /// <summary>The caller the authentication middleware (or filter) resolved for this request.</summary>
    public static Caller Of(HttpContext context) =>
        context.Features.Get<Caller>() ?? throw new InvalidOperationException("The request was not authenticated; MapSwitchboard's filter should have run.");
}
