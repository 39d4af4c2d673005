using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore.Http;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Auth;

/// <summary>
/// Resolves the caller before the rate limiter runs, so requests are counted per API key, per token subject, or per
/// IP. A bad credential is answered here with 401.
/// </summary>
internal sealed class SwitchboardAuthenticationMiddleware(RequestDelegate next, SwitchboardAuthenticator authenticator, PathString prefix)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments(prefix))
        {
            return next(context);
        }

        // Mostly the caller is known at once (no credential, a cached key, a token): then hand on without an async frame
        // of this middleware, which a stream or held poll would otherwise keep for its whole life.
        var resolving = authenticator.AuthenticateAsync(context);
        if (!resolving.IsCompletedSuccessfully)
        {
            return AuthenticateThenNextAsync(context, resolving);
        }

        _ = resolving.Result;
        return next(context);
    }

    private async Task AuthenticateThenNextAsync(HttpContext context, ValueTask<Caller> resolving)
    {
        try
        {
            await resolving;
        }
        catch (SwitchboardException problem)
        {
            await ProblemResponses.WriteAsync(context, problem);
            return;
        }
        catch (Exception ex) when (ProblemResponses.StoreFault(context, ex) is { } storeFault)
        {
            // Resolving a caller can read the store (stored API keys); while it is away, that is a 503 like any other.
            await ProblemResponses.WriteAsync(context, storeFault);
            return;
        }

        await next(context);
    }
}

/// <summary>
/// Authenticates inside the endpoint pipeline too, for hosts that map the hub without the middleware (a plain
/// <see cref="Microsoft.AspNetCore.Routing.IEndpointRouteBuilder"/>); with the middleware the caller is already known.
/// </summary>
internal sealed class AuthenticationEndpointFilter : IEndpointFilter
{
    /// <summary>The one instance: stateless, and not activated per request (see <see cref="ProblemEndpointFilter.Instance"/>).</summary>
    public static readonly AuthenticationEndpointFilter Instance = new();

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var resolving = context.HttpContext.HubServices().GetRequiredService<SwitchboardAuthenticator>().AuthenticateAsync(context.HttpContext);
        if (!resolving.IsCompletedSuccessfully)
        {
            return AuthenticateThenNextAsync(context, next, resolving);
        }

        _ = resolving.Result;
        return next(context);
    }

    private static async ValueTask<object?> AuthenticateThenNextAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, ValueTask<Caller> resolving)
    {
        await resolving;
        return await next(context);
    }
}

/// <summary>Requires an API key scope (admin, worker) for every endpoint it is attached to.</summary>
internal sealed class ScopeEndpointFilter(string scope, string action) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        Caller.Of(context.HttpContext).RequireScope(scope, action);
        return next(context);
    }
}

internal static class ScopeEndpointFilterExtensions
{
    /// <summary>Only callers holding <paramref name="scope"/> reach these endpoints; others get 401 or 403.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope, string action)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(new ScopeEndpointFilter(scope, action));
}

/// <summary>
/// Request rates with the ASP.NET Core rate limiter: a token bucket per API key, per token subject, or per IP for
/// callers without credentials; bursts of twice the rate pass. Over it: 429 problem+json with <c>Retry-After</c>.
/// </summary>
internal sealed class SwitchboardRateLimitPolicy(IOptionsMonitor<LimitsOptions> options) : IRateLimiterPolicy<string>
{
    public const string Name = "switchboard";

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = static async (rejected, _) =>
    {
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
        await ProblemResponses.WriteAsync(rejected.HttpContext, SwitchboardException.RateLimited("rate-limited", "Too many requests",
            $"This client sent requests faster than this hub allows; retry after {seconds} s.", TimeSpan.FromSeconds(seconds)));
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var limits = options.CurrentValue;
        var caller = httpContext.Features.Get<Caller>();
        var (partition, perSecond) = caller?.Kind switch
        {
            CallerKind.ApiKey => (caller.RateLimitPartition!, limits.RequestsPerSecondPerKey),
            CallerKind.Token => (caller.RateLimitPartition!, limits.RequestsPerSecondPerSubject),
            _ => ("ip:" + httpContext.RemoteIp(), limits.RequestsPerSecondPerIp),
        };
        if (perSecond <= 0)
        {
            return RateLimitPartition.GetNoLimiter(partition);
        }

        // The rate is part of the key, so a changed limit takes effect for new buckets.
        return RateLimitPartition.GetTokenBucketLimiter($"{partition}/{perSecond}", _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perSecond > int.MaxValue / 2 ? int.MaxValue : perSecond * 2,
            TokensPerPeriod = perSecond >= 10 ? perSecond / 10 : perSecond,
            ReplenishmentPeriod = perSecond >= 10 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }
}

/// <summary>
/// Applies <see cref="SwitchboardRateLimitPolicy"/> to the endpoints that ask for it with
/// <c>RequireRateLimiting(SwitchboardRateLimitPolicy.Name)</c>. The policy never queues, so a request is admitted or
/// refused at once and its lease (a token taken from the bucket) is released before the endpoint runs. Unlike ASP.NET
/// Core's rate-limiting middleware, this hands an admitted request on without awaiting it, so a stream or a held poll
/// does not keep a middleware frame alive for as long as it is open.
/// </summary>
internal sealed class SwitchboardRateLimitMiddleware(RequestDelegate next, SwitchboardRateLimiter limiter, SwitchboardRateLimitPolicy policy)
{
    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName != SwitchboardRateLimitPolicy.Name
            || endpoint.Metadata.GetMetadata<DisableRateLimitingAttribute>() is not null)
        {
            return next(context);
        }

        var lease = limiter.Limiter.AttemptAcquire(context);
        if (lease.IsAcquired)
        {
            lease.Dispose();
            return next(context);
        }

        return RejectAsync(context, lease);
    }

    private async Task RejectAsync(HttpContext context, RateLimitLease lease)
    {
        using (lease)
        {
            await policy.OnRejected!(new OnRejectedContext { HttpContext = context, Lease = lease }, context.RequestAborted);
        }
    }
}

/// <summary>The partitioned limiter behind <see cref="SwitchboardRateLimitMiddleware"/>: one bucket per key, subject or IP, as the policy says.</summary>
internal sealed class SwitchboardRateLimiter(SwitchboardRateLimitPolicy policy) : IDisposable
{
    public PartitionedRateLimiter<HttpContext> Limiter { get; } = PartitionedRateLimiter.Create<HttpContext, string>(policy.GetPartition);

    public void Dispose() => Limiter.Dispose();
}

/// <summary>
/// Counts long-lived connections (SSE streams, WebSockets, held long polls) per server, per IP and per subject.
/// At the server's limit a new connection gets 503 with <c>Retry-After</c>; over a per-client limit, 429. Connections
/// already open are never affected.
/// </summary>
internal sealed class ConnectionGate(IOptionsMonitor<LimitsOptions> options)
{
    private const int RetryAfterSeconds = 5;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
    private int _open;

    public int Open => Volatile.Read(ref _open);

    /// <summary>Takes a slot for a connection, or throws the problem that refuses it. Dispose the lease when the connection ends.</summary>
    public ConnectionLease Enter(Caller caller, IPAddress? remote, bool longPoll)
    {
        var limits = options.CurrentValue;
        var ipKey = "ip:" + remote;
        var subjectKey = caller.Subject is null ? null : "sub:" + caller.Subject;
        var pollKey = longPoll && subjectKey is not null ? "poll:" + caller.Subject : null;
        lock (_gate)
        {
            if (_open >= limits.MaxConnections)
            {
                throw Refused(SwitchboardErrorKind.Unavailable, "server-busy", "Server at its connection limit",
                    $"This server holds its maximum of {limits.MaxConnections} long-lived connections. Retry later or on another node.");
            }

            if (limits.MaxConnectionsPerIp > 0 && Count(ipKey) >= limits.MaxConnectionsPerIp)
            {
                throw Refused(SwitchboardErrorKind.RateLimited, "too-many-connections", "Too many connections", $"This IP address holds its maximum of {limits.MaxConnectionsPerIp} long-lived connections.");
            }

            if (subjectKey is not null && limits.MaxConnectionsPerSubject > 0 && Count(subjectKey) >= limits.MaxConnectionsPerSubject)
            {
                throw Refused(SwitchboardErrorKind.RateLimited, "too-many-connections", "Too many connections", $"'{caller.Subject}' holds its maximum of {limits.MaxConnectionsPerSubject} long-lived connections.");
            }

            if (pollKey is not null && limits.MaxLongPollsPerSubject > 0 && Count(pollKey) >= limits.MaxLongPollsPerSubject)
            {
                throw Refused(SwitchboardErrorKind.RateLimited, "too-many-long-polls", "Too many long polls", $"'{caller.Subject}' holds its maximum of {limits.MaxLongPollsPerSubject} long polls.");
            }

            _open++;
            Add(ipKey, 1);
            if (subjectKey is not null)
            {
                Add(subjectKey, 1);
            }

            if (pollKey is not null)
            {
                Add(pollKey, 1);
            }
        }

        return new ConnectionLease(this, ipKey, subjectKey, pollKey);
    }

    internal void Leave(string ipKey, string? subjectKey, string? pollKey)
    {
        lock (_gate)
        {
            _open--;
            Add(ipKey, -1);
            if (subjectKey is not null)
            {
                Add(subjectKey, -1);
            }

            if (pollKey is not null)
            {
                Add(pollKey, -1);
            }
        }
    }

    private int Count(string key) => _counts.GetValueOrDefault(key);

    private void Add(string key, int delta)
    {
        var count = _counts.GetValueOrDefault(key) + delta;
        if (count <= 0)
        {
            _counts.Remove(key); // so the table holds only clients that are connected
        }
        else
        {
            _counts[key] = count;
        }
    }

    private static SwitchboardException Refused(SwitchboardErrorKind kind, string code, string title, string detail) =>
        new(kind, code, title, detail, retryAfter: TimeSpan.FromSeconds(RetryAfterSeconds));
}

/// <summary>One connection's slot; disposing it frees the slot once.</summary>
internal sealed class ConnectionLease(ConnectionGate gate, string ipKey, string? subjectKey, string? pollKey) : IDisposable
{
    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            gate.Leave(ipKey, subjectKey, pollKey);
        }
    }
}

/// <summary>
/// Holds a connection slot while a request is held open: always for a stream, or when the query asks a long poll
/// (<c>wait</c> above 0). Refusals are the gate's 503 or 429.
/// </summary>
internal sealed class HeldConnectionFilter(bool stream) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var held = stream || (double.TryParse(QueryValues.Get(http.Request, "wait"), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var wait) && wait > 0);
        if (!held)
        {
            return await next(context);
        }

        using var lease = http.HubServices().GetRequiredService<ConnectionGate>().Enter(Caller.Of(http), http.RemoteIp(), longPoll: !stream);
        return await next(context);
    }
}

/// <summary>Checks the caller may read or write a topic named by a route value (a job id, a config app).</summary>
internal sealed class TopicAccessFilter(string routeValue, string topicPrefix, bool write) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var caller = Caller.Of(context.HttpContext);
        var topic = topicPrefix + context.HttpContext.Request.RouteValues[routeValue];
        if (write)
        {
            caller.RequirePublish(topic);
        }
        else
        {
            caller.RequireSubscribe(topic);
        }

        return next(context);
    }
}

/// <summary>
/// Checks the shape of a route value (a config app, a job id) before the endpoint's access filters run, so a name that
/// cannot exist is the same 400 with its own code for every caller, rather than a 403 for asking to read a topic that
/// cannot be named. The check reads only the value and the options, never the store, so it tells a caller without
/// access nothing the protocol does not say of every name; a valid name goes on to the access check as before.
/// </summary>
internal sealed class RouteValueFilter(string routeValue, Action<HttpContext, string> validate) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (context.HttpContext.Request.RouteValues[routeValue] is string value)
        {
            validate(context.HttpContext, value);
        }

        return next(context);
    }
}

internal static class EndpointAccessExtensions
{
    /// <summary>
    /// Every endpoint of the group with the route value <paramref name="routeValue"/> checks it with
    /// <paramref name="validate"/> first; on a group, this runs before the filters of its endpoints.
    /// </summary>
    public static RouteGroupBuilder ValidatesRouteValue(this RouteGroupBuilder group, string routeValue, Action<HttpContext, string> validate) =>
        group.AddEndpointFilter(new RouteValueFilter(routeValue, validate));

    /// <summary>The endpoint holds a connection slot: always (<paramref name="stream"/>), or for long polls.</summary>
    public static TBuilder HoldsConnection<TBuilder>(this TBuilder builder, bool stream = false)
        where TBuilder : IEndpointConventionBuilder => builder.AddEndpointFilter(new HeldConnectionFilter(stream));

    /// <summary>The caller must be allowed to read <paramref name="topicPrefix"/> + the route value.</summary>
    public static TBuilder RequireRead<TBuilder>(this TBuilder builder, string routeValue, string topicPrefix)
        where TBuilder : IEndpointConventionBuilder => builder.AddEndpointFilter(new TopicAccessFilter(routeValue, topicPrefix, write: false));

    /// <summary>The caller must be allowed to publish to <paramref name="topicPrefix"/> + the route value.</summary>
    public static TBuilder RequireWrite<TBuilder>(this TBuilder builder, string routeValue, string topicPrefix)
        where TBuilder : IEndpointConventionBuilder => builder.AddEndpointFilter(new TopicAccessFilter(routeValue, topicPrefix, write: true));
}
