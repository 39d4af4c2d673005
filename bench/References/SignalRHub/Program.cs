// Minimal SignalR hub: the SignalR reference of the fan-out benchmarks (issue 13).
//
//   /hub                              SignalR, WebSocket transport (clients may skip negotiation);
//                                     hub method Join(topic) adds the caller to group "topic"
//   POST /v1/topics/{topic}/events    {"type":..., "data":...} -> Clients.Group(topic).SendAsync("event", <event>) -> 201 {"seq":N}
//   GET  /v1/health
//
// The event argument has the shape of a Switchboard event (seq, topic, type, time, data), so the bench
// reads the publisher's timestamp from data.t. The client timeout is long: bench clients never ping.
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxConcurrentConnections = null;
    k.Limits.MaxConcurrentUpgradedConnections = null;
});
builder.Services.AddSignalR(o =>
{
    o.ClientTimeoutInterval = TimeSpan.FromMinutes(30);
    o.KeepAliveInterval = TimeSpan.FromSeconds(15);
    o.EnableDetailedErrors = true;
});
var app = builder.Build();

long seq = 0;
app.MapHub<BenchHub>("/hub");
app.MapGet("/v1/health", () => Results.Text("ok"));
app.MapPost("/v1/topics/{topic}/events", async (string topic, HttpRequest request, IHubContext<BenchHub> hub) =>
{
    using var body = await JsonDocument.ParseAsync(request.Body);
    var n = Interlocked.Increment(ref seq);
    var root = body.RootElement;
    var message = new BenchEvent(
        n,
        topic,
        root.TryGetProperty("type", out var type) ? type.GetString() : null,
        DateTimeOffset.UtcNow,
        root.TryGetProperty("data", out var data) ? data.Clone() : default);
    await hub.Clients.Group(topic).SendAsync("event", message);
    return Results.Text($"{{\"seq\":{n}}}", "application/json", statusCode: 201);
});

app.Run();

internal sealed record BenchEvent(long Seq, string Topic, string? Type, DateTimeOffset Time, JsonElement Data);

internal sealed class BenchHub : Hub
{
    public Task Join(string topic) => Groups.AddToGroupAsync(Context.ConnectionId, topic);
}
