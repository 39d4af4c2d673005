using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Switchboard.Client;

namespace Orders.Tests;

/// <summary>
/// Stands in for the hub until its webhook API lands: takes <c>POST /v1/topics/{topic}/events</c> (honouring
/// Idempotency-Key) and, if a subscriber is set, delivers each new event to it as a signed webhook, the way the
/// hub will.
/// </summary>
internal sealed class FakeHub
{
    private readonly ConcurrentDictionary<string, long> _keys = new(StringComparer.Ordinal);
    private long _seq;

    public ConcurrentQueue<(string Topic, JsonElement Body, string? IdempotencyKey)> Published { get; } = new();

    /// <summary>What the hub answers publishers; 503 simulates an outage.</summary>
    public int Status { get; set; } = StatusCodes.Status201Created;

    public (Uri Url, WebhookSigner Signer)? Subscriber { get; set; }

    public async Task<RunningApp> StartAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/v1/topics/{topic}/events", PublishAsync);
        return await RunningApp.StartAsync(app);
    }

    private async Task<IResult> PublishAsync(string topic, HttpRequest request)
    {
        if (Status >= 400)
        {
            return Results.StatusCode(Status);
        }

        using var document = await JsonDocument.ParseAsync(request.Body);
        var body = document.RootElement.Clone();
        string? key = request.Headers["Idempotency-Key"];
        var seq = Interlocked.Increment(ref _seq);
        if (key is not null && !_keys.TryAdd(key, seq))
        {
            return Results.Json(new { seq = _keys[key], topic }, statusCode: StatusCodes.Status201Created); // the original event
        }

        Published.Enqueue((topic, body, key));
        if (Subscriber is { } subscriber)
        {
            await DeliverAsync(subscriber.Url, subscriber.Signer, topic, seq, body);
        }

        return Results.Json(new { seq, topic }, statusCode: StatusCodes.Status201Created);
    }

    private static async Task DeliverAsync(Uri url, WebhookSigner signer, string topic, long seq, JsonElement published)
    {
        var webhook = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["type"] = published.GetProperty("type").GetString(),
            ["timestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["data"] = published.GetProperty("data"),
            ["seq"] = seq,
            ["topic"] = topic,
        });
        var bytes = Encoding.UTF8.GetBytes(webhook);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        signer.SignRequest(request, $"msg_fakehub.{seq}", DateTimeOffset.UtcNow, bytes);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }
}
