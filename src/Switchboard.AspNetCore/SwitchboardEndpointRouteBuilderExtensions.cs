using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.Monitoring;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.AspNetCore.Polling;
using Switchboard.AspNetCore.Publishing;
using Switchboard.AspNetCore.ServerSentEvents;
using Switchboard.AspNetCore.WebSockets;
using Switchboard.Hubs;
using Switchboard.Problems;

namespace Switchboard.AspNetCore;

/// <summary>Maps the hub's HTTP API.</summary>
public static class SwitchboardEndpointRouteBuilderExtensions
{
    /// <summary>The methods of each route above, for 405 answers; keep in step with the mappings.</summary>
    private static string? AllowedMethods(string? path)
    {
        var segments = (path ?? "").Trim('/').Split('/');
        if (segments.Contains(""))
        {
            return null; // an empty id or topic matches no route, whatever the method: 404
        }

        return segments switch
        {
            ["events"] => "GET, POST",
            ["stream"] or ["ws"] or ["health"] or ["health", "ready"] => "GET",
            ["topics", _, "events"] => "POST",
            ["topics", _, "presence"] => "GET",
            ["keys"] => "GET, POST",
            ["keys", _] => "DELETE",
            ["client.js"] => "GET",
            _ => Webhooks.WebhookEndpoints.AllowedMethods(segments) ?? Jobs.JobEndpoints.AllowedMethods(segments) ?? Config.ConfigEndpoints.AllowedMethods(segments),
        };
    }

    /// <summary>
    /// The <c>Allow</c> value of a path under the prefix (<see cref="AllowedMethods"/> with HEAD beside GET), or null for
    /// a path no route has. For the 405 answers, and for the methods a CORS preflight may be granted.
    /// </summary>
    internal static string? AllowedMethodsWithHead(string? path) =>
        AllowedMethods(path) is { } methods ? HeadRequests.WithHead(methods, (path ?? "").Trim('/').Split('/')) : null;

    private const string WebSocketsAddedKey = "Switchboard.WebSocketsAdded";

    /// <summary>
    /// Gives the answers routing makes on its own, for paths outside the API prefix, a Switchboard problem body: the empty
    /// 405 (with <c>Allow</c>) of a mapped path asked with another method, and the empty 404 of a request nothing took.
    /// For a host that is only a hub (the <c>switchboard</c> executable), where every path is the hub's; a host with
    /// pages of its own leaves its 404s to itself and does not call this. Call it before the middleware it should cover.
    /// It also answers a request line or headers over <see cref="SwitchboardRequestLimits"/> with a 414 or 431 problem,
    /// where the host has raised Kestrel's limits above them (<see cref="SwitchboardRequestLimits.RaiseKestrelLimits"/>).
    /// </summary>
    public static IApplicationBuilder UseSwitchboardProblemAnswers(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestSizeMiddleware>().UseMiddleware<RoutingProblemMiddleware>();

    /// <summary>
    /// Maps the Switchboard API under <paramref name="prefix"/> (default <c>/v1</c>). The endpoints read as one table below.
    /// On a <see cref="WebApplication"/> this also adds the WebSocket, CORS, authentication and request-rate middleware;
    /// other hosts call <c>UseWebSockets()</c> first, and answer no cross-origin requests. Paths under the prefix always
    /// answer problem+json; <see cref="UseSwitchboardProblemAnswers"/> does the same for the rest of a host that is only a hub.
    /// </summary>
    public static RouteGroupBuilder MapSwitchboard(this IEndpointRouteBuilder endpoints, string prefix = "/v1")
    {
        if (endpoints is IApplicationBuilder app && !app.Properties.ContainsKey(WebSocketsAddedKey))
        {
            // After routing (WebApplication adds it first), so CORS and the rate limiter see the endpoint. The caller is
            // resolved before the rate limiter, which counts requests per key, subject or IP.
            app.Properties[WebSocketsAddedKey] = true;
            app.UseWebSockets();
            app.UseMiddleware<SwitchboardCorsMiddleware>();
            app.UseMiddleware<SwitchboardAuthenticationMiddleware>(new PathString(prefix));
            app.UseMiddleware<SwitchboardRateLimitMiddleware>();
        }

        // Streams and held polls end when the host stops, through the hub: one wake-up rather than a registration each.
        var hub = endpoints.ServiceProvider.GetRequiredService<Hub>();
        endpoints.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(static state => ((Hub)state!).Stop(), hub);

        // Endpoints read the hub's (singleton) services from here rather than from RequestServices; see HubServices.
        var services = new HubServicesMetadata(endpoints.ServiceProvider);
        var api = endpoints.MapGroup(prefix)
            .WithMetadata(services)
            .AddEndpointFilter(ProblemEndpointFilter.Instance)
            .AddEndpointFilter(AuthenticationEndpointFilter.Instance)
            .WithMetadata(SwitchboardCorsMetadata.Instance)
            .RequireRateLimiting(SwitchboardRateLimitPolicy.Name)
            .WithTags("Switchboard")
            .WithCommonProblems()
            .AnswerHead();

        api.MapPost("/topics/{topic}/events", PublishEndpoints.PublishOneAsync)
            .WithName("PublishEvent").WithSummary("Publish one event to a topic")
            .AcceptsJson<PublishContract>().RequestHeaders(RequestHeader.IdempotencyKey).Produces<EventContract>(201).Problems(400, 409, 422);
        api.MapPost("/events", PublishEndpoints.PublishBatchAsync)
            .WithName("PublishBatch").WithSummary("Publish a batch of events atomically")
            .AcceptsJson<BatchItemContract[]>().RequestHeaders(RequestHeader.IdempotencyKey).Produces<BatchContract>(201).Problems(400, 409, 422);
        api.MapGet("/topics/{topic}/presence", PresenceEndpoint.GetAsync)
            .WithName("Presence").WithSummary("Who is in a room (the members WebSocket presence lists), on every node of the hub")
            .Produces<PresenceResponse>(200).Problems(400);
        // The long-lived endpoints take their services from here, resolved once, not as handler parameters, which the
        // request delegate would resolve from RequestServices (see HubServices).
        var (metrics, connections, time) = (Get<Switchboard.Metrics.SwitchboardMetrics>(), Get<ConnectionGate>(), Get<TimeProvider>());
        api.MapGet("/events", (HttpContext context) => PollingEndpoint.Poll(context, hub, connections, metrics, time))
            .WithName("PollEvents").WithSummary("Short poll, or long poll with wait=")
            .Query(Reading.Topic, Reading.After, ("wait", "Hold the request up to this many seconds until an event arrives (long polling)."), ("limit", "At most this many events."))
            .RequestHeaders(RequestHeader.IfNoneMatch("The ETag of an earlier answer to the same poll: 304 Not Modified while that answer still stands (nothing new matches)."))
            .Produces<PollContract>(200).Produces(304).Describe(304, "A short poll with If-None-Match naming the current ETag: nothing new matches.")
            .Problems(400, 410);
        api.MapGet("/stream", (HttpContext context) => SseEndpoint.Stream(context, hub, metrics, connections))
            .WithName("StreamEvents").WithSummary("Server-Sent Events stream")
            .Query(Reading.Topic, Reading.After, Reading.LastEventId).RequestHeaders(RequestHeader.LastEventId)
            .Produces<string>(200, ApiContractConventions.EventStream)
            .Describe(200, "An event stream: each event's id is its cursor, so EventSource resumes with Last-Event-ID; resets arrive as `reset` events.")
            .Problems(400, 410);

        var webSocket = (Presence: Get<Switchboard.Presence.IPresenceStore>(), Counter: Get<WebSocketConnectionCounter>(), Lifetime: Get<IHostApplicationLifetime>(),
            Logger: Get<Microsoft.Extensions.Logging.ILogger<WebSocketConnection>>(),
            Authenticator: Get<SwitchboardAuthenticator>(), Sweep: Get<ConnectionSweep>(), StoreFaults: endpoints.ServiceProvider.GetServices<IStoreFaultClassifier>().ToArray());

        // Outside the problem filter: a WebSocket lives as long as its request, and the filter's state would live
        // with it. The endpoint writes its own problems before the upgrade.
        endpoints.MapGroup(prefix).WithMetadata(services).WithTags("Switchboard").RequireRateLimiting(SwitchboardRateLimitPolicy.Name).MapGet("/ws", (Func<HttpContext, Task>)(context => WebSocketEndpoint.AcceptAsync(context, hub, webSocket.Presence, webSocket.Counter, webSocket.Lifetime, time,
                webSocket.Logger, webSocket.Authenticator, connections, metrics, webSocket.Sweep, webSocket.StoreFaults)))
            .WithName("WebSocket").WithSummary("WebSocket (subprotocol switchboard.v1): subscribe, publish, presence")
            .WithCommonProblems().Produces(101).Describe(101, "Switching protocols: JSON messages with an `op` member, as docs/protocol.md describes.").Problems(400, 426);
        // The JavaScript client (clients/js/dist/client.js, embedded): public, like a static file.
        endpoints.MapGroup(prefix).WithTags("Switchboard").AnswerHead().MapGet("/client.js", ClientScript.Serve)
            .WithName("ClientScript").WithSummary("The JavaScript client as an ES module: import { Switchboard } from '/v1/client.js'")
            .RequestHeaders(RequestHeader.IfNoneMatch("The ETag of a copy held: 304 Not Modified while the script is the same."))
            .Produces<string>(200, "text/javascript").Produces(304);
        // Liveness answers 200 while the process serves, reads included, whatever the store; readiness answers the
        // store's fault while it refuses writes. Both read the store's last known state, never write on each call.
        api.MapGet("/health", (Hub hub) => Results.Json(HealthEndpoints.Health(hub), SwitchboardJsonContext.Wire.HealthResponse))
            .WithName("Health").WithSummary("Liveness (200 while the hub serves), whether the store accepts writes, the log's epoch and its newest cursor")
            .Produces<HealthResponse>(200);
        api.MapGet("/health/ready", (Hub hub) => Results.Json(HealthEndpoints.Ready(hub), SwitchboardJsonContext.Wire.HealthResponse))
            .WithName("Readiness").WithSummary("Readiness: 200 while the store accepts writes, else the problem a write would get (503 store-unavailable, 507 store-full)")
            .Produces<HealthResponse>(200).Problems(503, 507);

        Keys.KeyEndpoints.Map(api);
        Webhooks.WebhookEndpoints.Map(api);
        Jobs.JobEndpoints.Map(api);
        Config.ConfigEndpoints.Map(api);

        // Anything else under the prefix is a problem rather than an empty body: 405 with Allow for a known path
        // asked with the wrong method, 404 otherwise.
        api.Map("/{**path}", (HttpContext context, string? path) =>
        {
            if (AllowedMethodsWithHead(path) is { } methods)
            {
                context.Response.Headers.Allow = methods;
                throw new HttpProblemException(HttpProblem.MethodNotAllowed(context.Request, methods));
            }

            throw SwitchboardException.NotFound("not-found", "Not found", $"No Switchboard endpoint at {context.Request.Method} {context.Request.Path}.");
        }).ExcludeFromDescription();

        // /metrics, /dashboard and /playground: one group, so one convention (the admin credential) can protect them all.
        endpoints.MapSwitchboardMonitoring(prefix);
        return api;

        T Get<T>() where T : notnull => endpoints.ServiceProvider.GetRequiredService<T>();
    }
}
