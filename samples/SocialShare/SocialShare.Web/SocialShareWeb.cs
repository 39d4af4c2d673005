using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace SocialShare.Web;

/// <summary>Where the Switchboard hub is; bound from the <c>Hub</c> configuration section.</summary>
public sealed class HubOptions
{
    public const string SectionName = "Hub";

    /// <summary>The hub's base URL.</summary>
    [Required]
    public Uri Url { get; set; } = new("http://localhost:8080");
}

/// <summary>
/// Serves the page and forwards the few job calls it makes to the hub. The hub sends no CORS headers, so the page
/// cannot call it from another origin; this app puts both on one origin instead.
/// </summary>
public static class SocialShareWeb
{
    public const string DefaultUrls = "http://127.0.0.1:5090";

    /// <summary>The job types the page may submit.</summary>
    public static readonly IReadOnlySet<string> JobTypes = new HashSet<string>(StringComparer.Ordinal) { "share", "write" };

    private static readonly string[] ForwardedResponseHeaders = ["ETag", "Cache-Control", "Retry-After", "X-Accel-Buffering"];

    /// <summary>Builds the app; the tests start exactly this on a free port.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.UseUrls(builder.Configuration["urls"] ?? DefaultUrls);
        builder.Services.AddOptions<HubOptions>().BindConfiguration(HubOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHttpClient("hub", (services, http) =>
        {
            http.BaseAddress = services.GetRequiredService<IOptions<HubOptions>>().Value.Url;
            http.Timeout = Timeout.InfiniteTimeSpan; // long polls and streams end when the browser leaves
        });

        var app = builder.Build();
        app.MapGet("/", () => Page("index.html", "text/html; charset=utf-8"));
        app.MapGet("/app.js", () => Page("app.js", "text/javascript; charset=utf-8"));
        app.MapGet("/client.js", (HttpContext context) => ForwardAsync(context, HttpMethod.Get, "v1/client.js", null));
        app.MapPost("/api/jobs", SubmitAsync);
        app.MapGet("/api/jobs/{id}", (HttpContext context, string id) =>
            ForwardAsync(context, HttpMethod.Get, $"v1/jobs/{Uri.EscapeDataString(id)}{context.Request.QueryString}", null));
        app.MapGet("/api/jobs/{id}/stream", (HttpContext context, string id) =>
            ForwardAsync(context, HttpMethod.Get, $"v1/jobs/{Uri.EscapeDataString(id)}/stream{context.Request.QueryString}", null));
        return app;
    }

    private static IResult Page(string name, string contentType)
    {
        var stream = typeof(SocialShareWeb).Assembly.GetManifestResourceStream("Page/" + name)!;
        return Results.Stream(stream, contentType);
    }

    /// <summary>Submits a job of a type in <see cref="JobTypes"/>; anything else is refused here rather than queued forever.</summary>
    private static async Task SubmitAsync(HttpContext context)
    {
        JsonElement body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(context.Request.Body, SocialShareJsonContext.Default.JsonElement, context.RequestAborted);
        }
        catch (JsonException)
        {
            await Results.Problem("The body must be JSON.", statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
            return;
        }

        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || !JobTypes.Contains(type.GetString()!))
        {
            await Results.Problem("type must be \"share\" or \"write\".", statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
            return;
        }

        await ForwardAsync(context, HttpMethod.Post, "v1/jobs", new StringContent(body.GetRawText(), System.Text.Encoding.UTF8, "application/json"));
    }

    /// <summary>Sends the request on to the hub and copies the answer back as it arrives (an SSE stream chunk by chunk).</summary>
    private static async Task ForwardAsync(HttpContext context, HttpMethod method, string path, HttpContent? content)
    {
        var http = context.RequestServices.GetRequiredService<IHttpClientFactory>().CreateClient("hub");
        using var request = new HttpRequestMessage(method, path) { Content = content };
        foreach (var name in (string[])["If-None-Match", "Last-Event-ID", "Accept"])
        {
            if (context.Request.Headers.TryGetValue(name, out var value))
            {
                request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException ex)
        {
            await Results.Problem($"The hub could not be reached: {ex.Message}", statusCode: StatusCodes.Status502BadGateway, title: "Hub unavailable").ExecuteAsync(context);
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var name in ForwardedResponseHeaders)
            {
                if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
                {
                    context.Response.Headers[name] = values.ToArray();
                }
            }

            if (response.Headers.Location is { } location)
            {
                context.Response.Headers.Location = location.OriginalString.Replace("/v1/jobs/", "/api/jobs/", StringComparison.Ordinal);
            }

            if (response.Content.Headers.ContentType is { } contentType)
            {
                context.Response.ContentType = contentType.ToString();
            }

            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
                await body.CopyToAsync(context.Response.Body, context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The browser left (or closed its EventSource); nothing more to copy.
            }
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
internal sealed partial class SocialShareJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
