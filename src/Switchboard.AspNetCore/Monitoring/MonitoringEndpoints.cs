using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.OpenApi;
using Switchboard.Auth;
using Switchboard.AspNetCore.ServerSentEvents;
using Switchboard.Hubs;
using Switchboard.Metrics;
using Switchboard.Monitoring;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Monitoring;

/// <summary>
/// The operator's endpoints, in one group so that one convention protects them all (for example the admin credential's
/// authorization requirement on the returned group): <c>/metrics</c> (Prometheus), <c>/dashboard</c> and its snapshot
/// stream, and <c>/playground</c> with its webhook sink.
/// </summary>
internal static class MonitoringEndpoints
{
    private static readonly TopicFilter SnapshotFilter = new([TopicPattern.Parse(DashboardSampler.Topic)]);

    /// <summary>
    /// Maps the monitoring endpoints at the root; <paramref name="apiPrefix"/> is where <c>MapSwitchboard</c> put the API,
    /// which the pages call. Returns the group: add authorization (or any convention) to it, and every path here has it.
    /// </summary>
    public static RouteGroupBuilder MapSwitchboardMonitoring(this IEndpointRouteBuilder endpoints, string apiPrefix)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<MonitoringOptions>>().Value;
        var monitoring = endpoints.MapGroup("").WithTags("Monitoring").AddEndpointFilter(ProblemEndpointFilter.Instance).AnswerHead();

        // The pages and their scripts hold no data and are open; what they read (the snapshot stream, the playground's
        // sessions) and the scrape need the admin scope. In open mode (loopback, nothing configured) everyone has it.
        var operators = monitoring.MapGroup("").AddEndpointFilter(AuthenticationEndpointFilter.Instance).RequireScope(ApiKeyScopes.Admin, "Monitoring");
        if (options.Prometheus)
        {
            // The exporter's endpoint is a middleware branch, not a route handler, so endpoint filters do not run
            // for it: the same check runs as the branch's first middleware.
            monitoring.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: branch => branch.Use(RequireAdminAsync), optionsName: null)
                .WithName("PrometheusMetrics").WithSummary("Metrics in Prometheus text format (Switchboard:Metrics:Prometheus); admin")
                // The exporter maps every method; a scrape is a read, and anything else is routing's 405 like every path's.
                .WithMetadata(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]));
        }

        if (options.Dashboard)
        {
            monitoring.MapGet("/dashboard", (HttpContext context) => Page(context, "dashboard.html", apiPrefix))
                .WithName("Dashboard").WithSummary("The live monitoring page")
                .Produces<string>(200, "text/html");
            operators.MapGet("/dashboard/stream", DashboardStreamAsync)
                .WithName("DashboardStream").WithSummary("Metric snapshots as Server-Sent Events (the system topic switchboard.monitoring)")
                .Produces<string>(200, ApiContractConventions.EventStream).WithCommonProblems();
        }

        if (options.Playground)
        {
            monitoring.MapGet("/playground", (HttpContext context) => Page(context, "playground.html", apiPrefix))
                .WithName("Playground").WithSummary("The five transports side by side")
                .Produces<string>(200, "text/html");
            operators.MapPost("/playground/sessions", CreateSessionAsync)
                .WithName("StartPlayground").WithSummary("Register the playground's webhook to the built-in sink")
                .Produces<PlaygroundSessionResponse>(201).WithCommonProblems();
            operators.MapPost("/playground/sessions/{id}/end", async (string id, PlaygroundSessions sessions, CancellationToken cancellationToken) =>
                await sessions.EndAsync(id, cancellationToken) ? Results.NoContent() : throw UnknownSession(id))
                .WithName("EndPlayground").WithSummary("Remove the playground's webhook")
                .Produces(204).Produces(404).WithCommonProblems();
            monitoring.MapPost("/playground/sink/{id}", SinkAsync)
                .WithName("PlaygroundSink").WithSummary("The built-in webhook receiver; each delivery becomes a receipt event")
                .AcceptsJson<System.Text.Json.JsonElement>(optional: true).Produces(204).Produces(404);
        }

        if (options.Dashboard || options.Playground)
        {
            monitoring.MapGet("/monitoring/{file}", Asset).WithName("MonitoringAsset").WithSummary("The pages' scripts and styles")
                .Produces<string>(200, "text/javascript").Produces(404);
        }

        return monitoring;
    }

    private static async Task DashboardStreamAsync(HttpContext context, Hub hub, DashboardSampler sampler,
        SwitchboardMetrics metrics, ConnectionGate connections)
    {
        // An open dashboard is what makes the sampler publish; the stream itself is the hub's ordinary SSE stream.
        using var watching = sampler.Watch();
        await SseEndpoint.OpenFiltered(context, SnapshotFilter, hub, metrics, connections).ExecuteAsync(context);
    }

    /// <summary>The admin check for endpoints that are middleware branches rather than route handlers.</summary>
    private static async Task RequireAdminAsync(HttpContext context, Func<Task> next)
    {
        try
        {
            var caller = await context.RequestServices.GetRequiredService<SwitchboardAuthenticator>().AuthenticateAsync(context);
            caller.RequireScope(ApiKeyScopes.Admin, "Scraping metrics");
        }
        catch (SwitchboardException problem)
        {
            await ProblemResponses.WriteAsync(context, problem);
            return;
        }

        await next();
    }

    private static async Task<IResult> CreateSessionAsync(HttpContext context, PlaygroundSessions sessions)
    {
        string? topic = context.Request.Query["topic"];
        var sinkBase = SinkBase(context.RequestServices.GetRequiredService<IServer>(), context);
        var session = await sessions.CreateAsync(string.IsNullOrEmpty(topic) ? "playground" : topic, sinkBase, context.RequestAborted);
        return Results.Json(new PlaygroundSessionResponse(session.Id, session.Topic, session.WebhookId, session.ReceiptsTopic), MonitoringJsonContext.Default.PlaygroundSessionResponse, statusCode: 201);
    }

    private static async Task<IResult> SinkAsync(string id, HttpContext context, PlaygroundSessions sessions)
    {
        var body = await RequestBody.ReadAsync(context.Request, 1024 * 1024, "webhook delivery", context.RequestAborted);
        var headerBytes = 0;
        foreach (var (name, values) in context.Request.Headers)
        {
            headerBytes += name.Length + 4 + values.ToString().Length; // "name: value\r\n"
        }

        return await sessions.ReceiveAsync(id, context.Request.Headers["webhook-id"].ToString(), headerBytes, body, context.RequestAborted)
            ? Results.NoContent() : throw UnknownSession(id);
    }

    private static SwitchboardException UnknownSession(string id) =>
        SwitchboardException.NotFound("unknown-playground-session", "No such playground session", $"No playground session '{id}' is open on this hub; start one with POST /playground/sessions.");

    /// <summary>
    /// Where the hub reaches itself: its first plain-http listening address, with a wildcard host made loopback.
    /// The request's own Host is not used: behind a proxy it names the proxy, and a client could choose it.
    /// </summary>
    private static string SinkBase(IServer server, HttpContext context)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
        {
            if (!address.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var authority = address["http://".Length..].TrimEnd('/');
            var colon = authority.LastIndexOf(':');
            var port = colon >= 0 ? authority[(colon + 1)..] : "80";
            return $"http://127.0.0.1:{port}{context.Request.PathBase}";
        }

        throw SwitchboardException.Unavailable("no-http-listener", "The playground needs a plain http listener",
            "The built-in webhook sink is reached over http on 127.0.0.1, and this hub listens on no http address.");
    }

    private static IResult Page(HttpContext context, string name, string apiPrefix)
    {
        // The pages are templates only for where they live: behind a path base, and with the API under its prefix.
        var html = Encoding.UTF8.GetString(MonitoringAssets.Find(name)!.Bytes)
            .Replace("{{base}}", context.Request.PathBase.Value ?? "", StringComparison.Ordinal)
            .Replace("{{api}}", (context.Request.PathBase.Value ?? "") + apiPrefix.TrimEnd('/'), StringComparison.Ordinal);
        context.Response.Headers.CacheControl = "no-cache";
        return Results.Content(html, "text/html; charset=utf-8");
    }

    private static IResult Asset(string file, HttpContext context)
    {
        if (MonitoringAssets.Find(file) is not { } asset || file.EndsWith(".html", StringComparison.Ordinal))
        {
            throw SwitchboardException.NotFound("unknown-asset", "No such file", $"The monitoring pages have no file '{file}'.");
        }

        // Revalidated on every load, so an upgraded hub never runs yesterday's script.
        context.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(asset.Bytes, asset.ContentType);
    }
}

/// <summary>A started playground: the topic it publishes on, its webhook, and the topic of the sink's receipts.</summary>
internal sealed record PlaygroundSessionResponse(string Id, string Topic, string WebhookId, string ReceiptsTopic);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(PlaygroundSessionResponse))]
internal sealed partial class MonitoringJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
