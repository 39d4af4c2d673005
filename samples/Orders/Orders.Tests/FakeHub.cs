using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Orders.Tests;

/// <summary>
/// A stand-in for the hub's publish endpoint that records what the order service sends (headers included) and
/// can play an outage; the end-to-end test uses the real hub.
/// </summary>
internal sealed class FakeHub
{
    private readonly ConcurrentDictionary<string, long> _keys = new(StringComparer.Ordinal);
    private long _seq;

    public ConcurrentQueue<(string Topic, JsonElement Body, string? IdempotencyKey)> Published { get; } = new();

    /// <summary>What the hub answers publishers; 503 simulates an outage.</summary>
    public int Status { get; set; } = StatusCodes.Status201Created;

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
        return Results.Json(new { seq, topic }, statusCode: StatusCodes.Status201Created);
    }
}
