using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore.Webhooks;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Monitoring;

/// <summary>One open playground: the page's topic, and the webhook endpoint that delivers it to the built-in sink.</summary>
internal sealed record PlaygroundSession(string Id, string Topic, string WebhookId, string ReceiptsTopic)
{
    public long LastTouched;
}

/// <summary>
/// The playground's server side. Each session registers a real webhook endpoint (signed, retried, counted like any other)
/// whose URL is this hub's own sink, <c>/playground/sink/{session}</c>. The sink turns every delivery it receives into a
/// receipt event on <c>switchboard.playground.{session}</c>, which the page follows over SSE: the fifth column.
/// </summary>
/// <remarks>
/// The SSRF policy refuses loopback, and the sink is on loopback. Rather than asking the operator to open loopback for every
/// webhook, the hub marks its own sink endpoints in <see cref="HubLocalWebhooks"/>, the one exception the sender makes.
/// Sessions are bounded (<see cref="MonitoringOptions.MaxPlaygroundSessions"/>), end when the page says so or after
/// <see cref="MonitoringOptions.PlaygroundSessionTimeout"/> untouched, and endpoints left by a previous run are deleted at start.
/// The session id is 120 random bits and is the sink's only credential; a receipt carries nothing the page did not publish.
/// </remarks>
internal sealed partial class PlaygroundSessions : BackgroundService
{
    public const string ReceiptsTopicPrefix = "switchboard.playground";
    public const string ReceiptType = "switchboard.playground.receipt";
    private const string EndpointDescription = "Switchboard playground sink (created and deleted by /playground)";

    private readonly ConcurrentDictionary<string, PlaygroundSession> _sessions = new(StringComparer.Ordinal);
    private readonly WebhookDispatcher _dispatcher;
    private readonly HubLocalWebhooks _local;
    private readonly IEventLog _log;
    private readonly Hub _hub;
    private readonly IServer _server;
    private readonly IOptionsMonitor<MonitoringOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PlaygroundSessions> _logger;
    private readonly SemaphoreSlim _creating = new(1, 1);

    public PlaygroundSessions(WebhookDispatcher dispatcher, HubLocalWebhooks local, IEventLog log, Hub hub, IServer server, IOptionsMonitor<MonitoringOptions> options,
        TimeProvider time, ILogger<PlaygroundSessions> logger)
    {
        _dispatcher = dispatcher;
        _local = local;
        _log = log;
        _hub = hub;
        _server = server;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public int Count => _sessions.Count;

    public async Task<PlaygroundSession> CreateAsync(string topic, HttpContext context, CancellationToken cancellationToken)
    {
        _hub.ValidateTopic(topic);
        var options = _options.CurrentValue;
        await _creating.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_sessions.Count >= options.MaxPlaygroundSessions)
            {
                throw SwitchboardException.Unavailable("too-many-playgrounds", "Too many playground sessions",
                    $"{_sessions.Count} playground sessions are open (Metrics:MaxPlaygroundSessions); stop one, or wait for idle ones to expire.");
            }

            var id = "pg_" + RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 24);
            var now = _time.GetUtcNow();
            var endpoint = new WebhookEndpoint
            {
                Id = "wh_" + RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 20),
                Url = SinkBase(context) + "/playground/sink/" + id,
                Topics = [topic],
                Description = EndpointDescription,
                MaxInFlight = 10,
                Secret = WebhookSecret.Generate(),
                CreatedAt = now,
                UpdatedAt = now,
                Progress = new WebhookProgress(_log.HeadSeq, 0, 0, null),
            };
            // Marked before it exists, so its very first delivery already may reach loopback.
            _local.Add(endpoint.Id, endpoint.Url);
            await _dispatcher.CreateAsync(endpoint, cancellationToken).ConfigureAwait(false);
            var session = new PlaygroundSession(id, topic, endpoint.Id, ReceiptsTopicPrefix + "." + id) { LastTouched = _time.GetTimestamp() };
            _sessions[id] = session;
            LogStarted(_logger, id, topic);
            return session;
        }
        finally
        {
            _creating.Release();
        }
    }

    public async Task<bool> EndAsync(string id, CancellationToken cancellationToken)
    {
        if (!_sessions.TryRemove(id, out var session))
        {
            return false;
        }

        await _dispatcher.DeleteAsync(session.WebhookId, cancellationToken).ConfigureAwait(false);
        _local.Remove(session.WebhookId);
        return true;
    }

    /// <summary>The sink: a delivery arrived for <paramref name="id"/>; publish its receipt. False when no such session.</summary>
    public async Task<bool> ReceiveAsync(string id, HttpRequest request, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!_sessions.TryGetValue(id, out var session))
        {
            return false;
        }

        Interlocked.Exchange(ref session.LastTouched, _time.GetTimestamp());
        using var delivery = JsonDocument.Parse(body);
        var root = delivery.RootElement;
        var headerBytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            headerBytes += name.Length + 4 + values.ToString().Length; // "name: value\r\n"
        }

        var receipt = new System.Buffers.ArrayBufferWriter<byte>(body.Length + 256);
        using (var json = new Utf8JsonWriter(receipt))
        {
            json.WriteStartObject();
            json.WriteString("webhookId", request.Headers["webhook-id"].ToString());
            json.WriteNumber("bodyBytes", body.Length);
            json.WriteNumber("headerBytes", headerBytes);
            if (root.TryGetProperty("seq", out var seq))
            {
                json.WritePropertyName("seq");
                seq.WriteTo(json);
            }

            if (root.TryGetProperty("data", out var data))
            {
                json.WritePropertyName("data");
                data.WriteTo(json);
            }

            json.WriteEndObject();
        }

        await _log.AppendAsync([new EventDraft(session.ReceiptsTopic, ReceiptType, receipt.WrittenSpan.ToArray())], null, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Ends the endpoints a previous run left (their ids are no longer marked local, so they would only fail), then expires idle sessions.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            foreach (var view in _dispatcher.List().Where(v => v.Endpoint.Description == EndpointDescription))
            {
                await _dispatcher.DeleteAsync(view.Endpoint.Id, stoppingToken).ConfigureAwait(false);
            }

            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30), _time);
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var timeout = _options.CurrentValue.PlaygroundSessionTimeout;
                foreach (var session in _sessions.Values)
                {
                    if (_time.GetElapsedTime(Interlocked.Read(ref session.LastTouched)) > timeout)
                    {
                        await EndAsync(session.Id, stoppingToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogSweepFailed(_logger, ex);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (var id in _sessions.Keys)
        {
            try
            {
                await EndAsync(id, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSweepFailed(_logger, ex);
            }
        }
    }

    public void Touch(PlaygroundSession session) => Interlocked.Exchange(ref session.LastTouched, _time.GetTimestamp());

    public PlaygroundSession? Find(string id) => _sessions.GetValueOrDefault(id);

    /// <summary>
    /// Where the hub reaches itself: its first plain-http listening address, with a wildcard host made loopback.
    /// The request's own Host is not used: behind a proxy it names the proxy, and a client could choose it.
    /// </summary>
    private string SinkBase(HttpContext context)
    {
        var addresses = _server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
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

    [LoggerMessage(EventId = 810, Level = LogLevel.Information, Message = "Playground session {SessionId} started on topic {Topic}")]
    private static partial void LogStarted(ILogger logger, string sessionId, string topic);

    [LoggerMessage(EventId = 811, Level = LogLevel.Warning, Message = "Ending idle playground sessions failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
