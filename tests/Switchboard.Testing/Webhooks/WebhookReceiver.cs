using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Switchboard.Testing.Webhooks;

/// <summary>One delivery as a receiver saw it.</summary>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, byte[] Body, DateTimeOffset ReceivedAt, string ConnectionId)
{
    private JsonElement? _json;

    public JsonElement Json => _json ??= JsonDocument.Parse(Body).RootElement.Clone();

    public string Type => Json.GetProperty("type").GetString()!;

    public long Seq => Json.GetProperty("seq").GetInt64();

    public string Topic => Json.GetProperty("topic").GetString()!;

    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
}

/// <summary>How the receiver answers a delivery.</summary>
/// <param name="TruncateBody">Promise a body, send 3 bytes of it, and drop the connection.</param>
public sealed record ReceiverAnswer(int Status, TimeSpan Delay = default, string? Body = null, string? RetryAfter = null, string? Location = null, bool TruncateBody = false)
{
    public static readonly ReceiverAnswer Ok = new(204);
}

/// <summary>
/// A real HTTP receiver on 127.0.0.1 with a free port: records every delivery with its headers, connection and
/// time, and answers as <see cref="Respond"/> says (which tests change while it runs).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly ConcurrentDictionary<string, bool> _connections = new();
    private int _concurrent;
    private int _maxConcurrent;

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>Decides the answer for each delivery; default 204 at once.</summary>
    public Func<ReceivedWebhook, ReceiverAnswer> Respond { get; set; } = _ => ReceiverAnswer.Ok;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The URL to register: <c>/hook</c> on the receiver.</summary>
    public string Url => new Uri(BaseAddress, "hook").ToString();

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    /// <summary>The most requests the receiver was handling at the same time.</summary>
    public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

    /// <summary>Distinct TCP connections deliveries came on.</summary>
    public int Connections => _connections.Count;

    /// <summary>Starts the receiver; with <paramref name="certificate"/> it serves https only.</summary>
    public static async Task<WebhookReceiver> StartAsync(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (certificate is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        }

        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/{**path}", receiver.HandleAsync);
        await app.StartAsync();
        receiver.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var now = Interlocked.Increment(ref _concurrent);
        try
        {
            int seen;
            while (now > (seen = Volatile.Read(ref _maxConcurrent)) && Interlocked.CompareExchange(ref _maxConcurrent, now, seen) != seen)
            {
            }

            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var headers = context.Request.Headers;
            var delivery = new ReceivedWebhook(headers["webhook-id"].ToString(), headers["webhook-timestamp"].ToString(), headers["webhook-signature"].ToString(),
                buffer.ToArray(), DateTimeOffset.UtcNow, context.Connection.Id)
            {
                Headers = headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
            };
            _connections.TryAdd(context.Connection.Id, true);
            var answer = Respond(delivery);
            _received.Enqueue(delivery);
            if (answer.Delay > TimeSpan.Zero)
            {
                await Task.Delay(answer.Delay, context.RequestAborted);
            }

            context.Response.StatusCode = answer.Status;
            if (answer.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = answer.RetryAfter;
            }

            if (answer.Location is not null)
            {
                context.Response.Headers.Location = answer.Location;
            }

            if (answer.TruncateBody)
            {
                context.Response.ContentLength = 100;
                await context.Response.WriteAsync("abc", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                context.Abort();
                return;
            }

            if (answer.Body is not null)
            {
                await context.Response.WriteAsync(answer.Body, context.RequestAborted);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _concurrent);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(timeout.Token);
        }

        await _app.DisposeAsync();
    }
}
