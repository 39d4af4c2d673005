using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Switchboard.AspNetCore.Auth;

/// <summary>Marks the endpoints that answer cross-origin requests with the <see cref="Origins.CorsPolicy"/> policy.</summary>
internal sealed class SwitchboardCorsMetadata
{
    public static readonly SwitchboardCorsMetadata Instance = new();

    private SwitchboardCorsMetadata()
    {
    }
}

/// <summary>
/// CORS for the hub's endpoints, through ASP.NET Core's <see cref="ICorsService"/> and the named policy. Not
/// <c>UseCors()</c>: that middleware resolves its policy provider from the request's services and marks every request
/// in <c>HttpContext.Items</c>, so each open stream, WebSocket and held poll would keep a DI scope and an items
/// dictionary for its whole life. The policy and the service here are resolved once, and headers are set before the
/// endpoint runs, when nothing has been written yet.
/// </summary>
internal sealed class SwitchboardCorsMiddleware(RequestDelegate next, ICorsService cors, ICorsPolicyProvider policies)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Headers.ContainsKey("Origin") || context.GetEndpoint()?.Metadata.GetMetadata<SwitchboardCorsMetadata>() is null)
        {
            return next(context);
        }

        var policy = policies.GetPolicyAsync(context, Origins.CorsPolicy);
        return policy.IsCompletedSuccessfully ? Apply(context, policy.Result) : ApplyAsync(context, policy);
    }

    private async Task ApplyAsync(HttpContext context, Task<CorsPolicy?> policy) => await Apply(context, await policy);

    private Task Apply(HttpContext context, CorsPolicy? policy)
    {
        if (policy is null)
        {
            return next(context);
        }

        var result = cors.EvaluatePolicy(context, policy);
        if (result.IsPreflightRequest)
        {
            // A preflight grants the methods of the path it asks about, not the policy's whole list: a page asking
            // PATCH on a GET-only path is told GET, HEAD, and its browser sends nothing. Preflights reach the prefix's
            // catch-all route (no route takes OPTIONS), whose path value names the path; an unknown path is granted none.
            var methods = context.GetEndpoint()?.Metadata.GetMetadata<IHttpMethodMetadata>() is { HttpMethods.Count: > 0 } own
                ? own.HttpMethods
                : SwitchboardEndpointRouteBuilderExtensions.AllowedMethodsWithHead(context.Request.RouteValues["path"] as string)?.Split(", ") ?? [];
            result.AllowedMethods.Clear();
            foreach (var method in methods)
            {
                result.AllowedMethods.Add(method);
            }
        }

        cors.ApplyResult(result, context.Response);
        if (result.IsPreflightRequest)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }

        return next(context);
    }
}
