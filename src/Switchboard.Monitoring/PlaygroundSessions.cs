using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Events;
using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Problems;
using Switchboard.Webhooks;

namespace Switchboard.Monitoring;

/// <summary>One open playground: the page's topic, and the webhook endpoint that delivers it to the built-in sink.</summary>
/// <param name="Id">The session id (120 random bits; the sink's only credential).</param>
/// <param name="Topic">The topic the page publishes on.</param>
/// <param name="WebhookId">The webhook endpoint delivering the topic to the sink.</param>
/// <param name="ReceiptsTopic">Where the sink's receipts are published.</param>
public sealed record PlaygroundSession(string Id, string Topic, string WebhookId, string ReceiptsTopic)
{
    internal long LastTouched;
}

/// <summary>
/// The playground's server side. Each session registers a real webhook endpoint (signed, retried, counted like any other)
/// whose URL is this hub's own sink, <c>/playground/sink/{session}</c>. The sink turns every delivery it receives into a
/// receipt event on <c>switchboard.playground.{session}</c>, which the page follows over SSE: the fifth column.
/// </summary>
/// <remarks>
/// The SSRF policy refuses loopback, and the sink is on loopback. Rather than asking the operator to open loopback for every
/// webhook, the hub marks its own sink endpoints (<see cref="IPlaygroundWebhooks.MarkLocal"/>), the one exception the sender makes.
/// Sessions are bounded (<see cref="MonitoringOptions.MaxPlaygroundSessions"/>), end when the page says so or after
/// <see cref="MonitoringOptions.PlaygroundSessionTimeout"/> untouched, and endpoints left by a previous run are deleted at start.
/// The session id is 120 random bits and is the sink's only credential; a receipt carries nothing the page did not publish.
/// </remarks>
public sealed partial class PlaygroundSessions : BackgroundService
{
    /// <summary>The receipts of session <c>{id}</c> are published on <c>switchboard.playground.{id}</c>.</summary>
    public const string ReceiptsTopicPrefix = "switchboard.playground";

    /// <summary>The type of a receipt event.</summary>
    public const string ReceiptType = "switchboard.playground.receipt";

    private const string EndpointDescription = "Switchboard playground sink (created and deleted by /playground)";

    private readonly ConcurrentDictionary<string, PlaygroundSession> _sessions = new(StringComparer.Ordinal);
    private readonly IPlaygroundWebhooks _webhooks;
    private readonly IEventLog _log;
    private readonly Hub _hub;
    private readonly IOptionsMonitor<MonitoringOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PlaygroundSessions> _logger;
    private readonly SemaphoreSlim _creating = new(1, 1);

    /// <summary>Creates the registry; sessions' webhook endpoints are made through <paramref name="webhooks"/>.</summary>
    public PlaygroundSessions(IPlaygroundWebhooks webhooks, IEventLog log, Hub hub, IOptionsMonitor<MonitoringOptions> options,
        TimeProvider time, ILogger<PlaygroundSessions> logger)
    {
        _webhooks = webhooks;
        _log = log;
        _hub = hub;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Sessions open now.</summary>
    public int Count => _sessions.Count;

    /// <summary>
    /// Starts a session on <paramref name="topic"/>: a webhook endpoint delivering it to <c>{sinkBase}/playground/sink/{id}</c>,
    /// where <paramref name="sinkBase"/> is how the hub reaches itself (<c>http://127.0.0.1:{port}{pathBase}</c>). Over
    /// <see cref="MonitoringOptions.MaxPlaygroundSessions"/> it is Unavailable (<c>too-many-playgrounds</c>).
    /// </summary>
    public async Task<PlaygroundSession> CreateAsync(string topic, string sinkBase, CancellationToken cancellationToken)
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
                Id = _webhooks.NewLocalEndpointId(),
                Url = sinkBase + "/playground/sink/" + id,
                Topics = [topic],
                Description = EndpointDescription,
                MaxInFlight = 10,
                Secret = WebhookSecret.Generate(),
                CreatedAt = now,
                UpdatedAt = now,
                Progress = new WebhookProgress(_log.HeadSeq, 0, 0, null),
            };
            // Marked before it exists, so its very first delivery already may reach loopback.
            _webhooks.MarkLocal(endpoint.Id, endpoint.Url);
            await _webhooks.CreateAsync(endpoint, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Ends a session and deletes its webhook endpoint; false when there is no such session.</summary>
    public async Task<bool> EndAsync(string id, CancellationToken cancellationToken)
    {
        if (!_sessions.TryRemove(id, out var session))
        {
            return false;
        }

        await _webhooks.DeleteAsync(session.WebhookId, cancellationToken).ConfigureAwait(false);
        _webhooks.UnmarkLocal(session.WebhookId);
        return true;
    }

    /// <summary>
    /// The sink: a delivery arrived for <paramref name="id"/> (its <c>webhook-id</c> header, the size of its headers, its body);
    /// publish its receipt. False when no such session.
    /// </summary>
    public async Task<bool> ReceiveAsync(string id, string webhookId, int headerBytes, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!_sessions.TryGetValue(id, out var session))
        {
            return false;
        }

        Interlocked.Exchange(ref session.LastTouched, _time.GetTimestamp());
        using var delivery = ParseDelivery(body);
        var root = delivery.RootElement;

        // The receipt is an event like any other, so it keeps to the event size limit: a delivery whose data would take
        // it over (a near-limit event plus the envelope, or a body posted by hand) is receipted without its data.
        var receipt = Receipt(webhookId, body.Length, headerBytes, root, withData: true);
        if (receipt.WrittenCount > _hub.Limits.MaxEventBytes)
        {
            receipt = Receipt(webhookId, body.Length, headerBytes, root, withData: false);
        }

        await _log.AppendAsync([new EventDraft(session.ReceiptsTopic, ReceiptType, receipt.WrittenSpan.ToArray())], null, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static System.Buffers.ArrayBufferWriter<byte> Receipt(string webhookId, int bodyBytes, int headerBytes, JsonElement delivery, bool withData)
    {
        var receipt = new System.Buffers.ArrayBufferWriter<byte>(withData ? bodyBytes + 256 : 256);
        using var json = new Utf8JsonWriter(receipt);
        json.WriteStartObject();
        json.WriteString("webhookId", webhookId);
        json.WriteNumber("bodyBytes", bodyBytes);
        json.WriteNumber("headerBytes", headerBytes);
        if (delivery.TryGetProperty("seq", out var seq))
        {
            json.WritePropertyName("seq");
            seq.WriteTo(json);
        }

        if (delivery.TryGetProperty("data", out var data))
        {
            if (withData)
            {
                json.WritePropertyName("data");
                data.WriteTo(json);
            }
            else
            {
                json.WriteBoolean("dataOmitted", true);
            }
        }

        json.WriteEndObject();
        json.Flush();
        return receipt;
    }

    /// <summary>
    /// The delivery's body, which must be a JSON object as the hub's own sender writes it. Anyone holding the session id can
    /// post here, and a body that was not JSON (or not UTF-8, which JsonDocument does not check inside strings, or not an
    /// object, whose TryGetProperty throws) was an unhandled 500; it is the 400 every other JSON body gets.
    /// </summary>
    private static JsonDocument ParseDelivery(ReadOnlyMemory<byte> body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            throw SwitchboardException.Invalid("malformed-json", "Malformed JSON", "The body is not valid UTF-8; JSON bodies are UTF-8 text.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw SwitchboardException.Invalid("malformed-json", "Malformed JSON", $"The body is not valid JSON: {ex.Message}");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw SwitchboardException.Invalid("invalid-body", "Invalid body", "A webhook delivery is a JSON object: {\"type\", \"timestamp\", \"data\", \"seq\", \"topic\"}.");
        }

        return document;
    }

    /// <summary>Ends the endpoints a previous run left (their ids are no longer marked local, so they would only fail), then expires idle sessions.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            foreach (var endpointId in _webhooks.FindByDescription(EndpointDescription))
            {
                await _webhooks.DeleteAsync(endpointId, stoppingToken).ConfigureAwait(false);
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

    /// <summary>Ends every open session, so no endpoint aimed at this process outlives it.</summary>
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

    /// <summary>Marks the session as in use, postponing its idle expiry.</summary>
    public void Touch(PlaygroundSession session) => Interlocked.Exchange(ref session.LastTouched, _time.GetTimestamp());

    /// <summary>The open session <paramref name="id"/>, or null.</summary>
    public PlaygroundSession? Find(string id) => _sessions.GetValueOrDefault(id);

    [LoggerMessage(EventId = 810, Level = LogLevel.Information, Message = "Playground session {SessionId} started on topic {Topic}")]
    private static partial void LogStarted(ILogger logger, string sessionId, string topic);

    [LoggerMessage(EventId = 811, Level = LogLevel.Warning, Message = "Ending idle playground sessions failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
