using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Problems;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Webhooks;

/// <summary>
/// With several nodes, one delivers webhooks and holds them in memory (live status, circuits, counts); the others
/// forward the webhook API to it, so a client may call any node, as with every other endpoint.
/// </summary>
internal sealed class WebhookForwardingFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var leadership = http.RequestServices.GetRequiredService<IWebhookLeadership>();
        if (leadership.IsLeader)
        {
            return await next(context);
        }

        if (leadership.LeaderAddress is not { Length: > 0 } leader || http.Request.Headers.ContainsKey(WebhookApiForwarder.ForwardedHeader))
        {
            // No node holds the lease yet (one is taking over), or the one we forwarded to lost it on the way.
            throw SwitchboardException.Unavailable("webhooks-unavailable", "Webhook delivery is changing nodes",
                "No node holds the webhook lease right now (one is taking over); retry shortly.", TimeSpan.FromSeconds(2));
        }

        await http.RequestServices.GetRequiredService<WebhookApiForwarder>().ForwardAsync(http, leader);
        return Results.Empty;
    }
}

/// <summary>Sends one webhook API request on to the leading node and copies its answer back.</summary>
internal sealed class WebhookApiForwarder : IDisposable
{
    public const string ForwardedHeader = "X-Switchboard-Forwarded";

    private static readonly string[] RequestHeaders = ["Authorization", "Accept", "Idempotency-Key"];
    private static readonly string[] ResponseHeaders = ["Location", "Retry-After", "Allow", "ETag", "WWW-Authenticate", "Cache-Control"];

    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };

    public async Task ForwardAsync(HttpContext context, string leader)
    {
        var request = context.Request;
        using var forwarded = new HttpRequestMessage(new HttpMethod(request.Method), leader + request.PathBase + request.Path + request.QueryString);
        foreach (var name in RequestHeaders)
        {
            if (request.Headers.TryGetValue(name, out var values))
            {
                forwarded.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }

        forwarded.Headers.TryAddWithoutValidation(ForwardedHeader, "1");
        if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            forwarded.Content = new StreamContent(request.Body);
            if (request.ContentType is { } contentType)
            {
                forwarded.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        HttpResponseMessage answer;
        try
        {
            answer = await _http.SendAsync(forwarded, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException ex)
        {
            throw SwitchboardException.Unavailable("webhooks-unavailable", "Webhook delivery is changing nodes",
                $"The node that delivers webhooks did not answer ({ex.Message}); retry shortly.", TimeSpan.FromSeconds(2));
        }

        using (answer)
        {
            var response = context.Response;
            response.StatusCode = (int)answer.StatusCode;
            foreach (var name in ResponseHeaders)
            {
                if (answer.Headers.TryGetValues(name, out var values))
                {
                    response.Headers[name] = values.ToArray();
                }
            }

            if (answer.Content.Headers.ContentType is { } type)
            {
                response.ContentType = type.ToString();
            }

            await answer.Content.CopyToAsync(response.Body, context.RequestAborted);
        }
    }

    public void Dispose() => _http.Dispose();
}
