using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>Several Switchboard nodes in this process, on their own ports, sharing one Redis under one key prefix: one hub.</summary>
internal sealed class Nodes : IAsyncDisposable
{
    private readonly List<HubServer> _servers;

    private Nodes(List<HubServer> servers, string prefix)
    {
        _servers = servers;
        Prefix = prefix;
    }

    public string Prefix { get; }

    public HubServer this[int node] => _servers[node - 1];

    /// <summary>Starts the nodes; each node's log is wrapped in an <see cref="ObservedLog"/>.</summary>
    public static async Task<Nodes> StartAsync(RedisServer redis, int count = 3, Action<SwitchboardOptions>? configure = null, Action<RedisStoreOptions>? redisOptions = null,
        string? prefix = null)
    {
        prefix ??= $"hub{Guid.NewGuid():N}:";
        var servers = new List<HubServer>();
        for (var i = 0; i < count; i++)
        {
            servers.Add(await StartNodeAsync(redis, prefix, configure, observed: true, redisOptions));
        }

        return new Nodes(servers, prefix);
    }

    public static Task<HubServer> StartNodeAsync(RedisServer redis, string prefix, Action<SwitchboardOptions>? configure = null, bool observed = false,
        Action<RedisStoreOptions>? redisOptions = null) =>
        HubServer.StartAsync(configure, services: observed ? ObservedLog.Install : null, redis: o =>
        {
            o.Configuration = redis.Configuration;
            o.KeyPrefix = prefix;
            o.OperationTimeout = TimeSpan.FromSeconds(2);
            redisOptions?.Invoke(o);
        });

    /// <summary>Stops a node the way a crash would look to the others: it simply goes away.</summary>
    public async Task StopAsync(int node) => await _servers[node - 1].DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            try
            {
                await server.DisposeAsync();
            }
            catch (ObjectDisposedException)
            {
                // stopped by the test already
            }
        }
    }
}

/// <summary>A pass-through log that counts reads that found nothing: a long poll or stream is about to wait.</summary>
internal sealed class ObservedLog(Switchboard.Log.IEventLog inner) : Switchboard.Testing.Log.DelegatingEventLog(inner)
{
    private int _emptyReads;

    public int EmptyReads => Volatile.Read(ref _emptyReads);

    public static ObservedLog Of(HubServer server) => (ObservedLog)server.Hub.Log;

    public static void Install(Microsoft.Extensions.DependencyInjection.IServiceCollection services)
    {
        var original = services.Last(d => d.ServiceType == typeof(Switchboard.Log.IEventLog));
        services.Remove(original);
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<Switchboard.Log.IEventLog>(
            services, sp => new ObservedLog((Switchboard.Log.IEventLog)original.ImplementationFactory!(sp)));
    }

    public override async ValueTask<Switchboard.Log.LogReadResult> ReadAsync(Switchboard.Topics.TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        var result = await Inner.ReadAsync(filter, afterSeq, limit, cancellationToken);
        if (result.Events.Count == 0 && result.Gap is null)
        {
            Interlocked.Increment(ref _emptyReads);
        }

        return result;
    }
}

/// <summary>HTTP helpers over real sockets.</summary>
internal static class Api
{
    public static async Task<JsonElement> PublishAsync(this HttpClient client, string topic, string data, string? idempotencyKey = null)
    {
        using var response = await client.TryPublishAsync(topic, data, idempotencyKey);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<HttpResponseMessage> TryPublishAsync(this HttpClient client, string topic, string data, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/topics/{topic}/events")
        {
            Content = new StringContent($$"""{"data":{{data}}}""", Encoding.UTF8, "application/json"),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await client.SendAsync(request).Within();
    }

    /// <summary>GET /v1/events; returns the events' data (as raw JSON) and the cursor.</summary>
    public static async Task<(List<string> Data, string Cursor)> PollAsync(this HttpClient client, string query, TimeSpan? timeout = null)
    {
        using var response = await client.GetAsync("v1/events?" + query).Within(timeout);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        var root = JsonDocument.Parse(text).RootElement;
        return ([.. root.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("data").GetRawText())], root.GetProperty("cursor").GetString()!);
    }

    public static string DataOf(string sseData) => JsonDocument.Parse(sseData).RootElement.GetProperty("data").GetRawText();
}

/// <summary>A switchboard.v1 WebSocket client that subscribes and collects events.</summary>
internal sealed class SocketClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();

    public static async Task<SocketClient> SubscribeAsync(HubServer server, string topic, string after = "latest")
    {
        var client = new SocketClient();
        client._socket.Options.AddSubProtocol("switchboard.v1");
        var url = new UriBuilder(server.BaseAddress) { Scheme = "ws", Path = "/v1/ws" }.Uri;
        await client._socket.ConnectAsync(url, CancellationToken.None).Within();
        await client.SendAsync($$"""{"op":"subscribe","id":"s1","topics":["{{topic}}"],"after":"{{after}}"}""");
        var ack = await client.NextAsync();
        Assert.Equal("ack", ack.GetProperty("op").GetString());
        return client;
    }

    public async Task SendAsync(string json) =>
        await _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None).Within();

    public async Task<JsonElement> NextAsync()
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None).AsTask().Within();
            length += result.Count;
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(buffer.AsMemory(0, length)).RootElement.Clone();
            }
        }
    }

    /// <summary>The data of the next event message.</summary>
    public async Task<string> NextEventDataAsync()
    {
        while (true)
        {
            var message = await NextAsync();
            if (message.GetProperty("op").GetString() == "event")
            {
                return message.GetProperty("event").GetProperty("data").GetRawText();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is WebSocketException or TimeoutException or InvalidOperationException)
        {
        }

        _socket.Dispose();
    }
}
