using System.Buffers;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Topics;
using Switchboard.Webhooks;

namespace Switchboard.Monitoring;

/// <summary>
/// Feeds the dashboard. It listens to the hub's own instruments (the same ones Prometheus sees), and once per
/// <see cref="MonitoringOptions.SnapshotInterval"/> turns them into one snapshot event on the system topic
/// <see cref="Topic"/>, so the page follows it like any SSE subscriber and resumes with <c>Last-Event-ID</c>.
/// </summary>
/// <remarks>
/// Snapshots are appended only while a dashboard stream is open (and a short while after, so a reconnecting page finds
/// no hole): an idle hub writes nothing. Retention keeps the topic to <see cref="MaxSnapshotsKept"/> events and
/// <see cref="History"/>, which is also what a newly opened page gets to fill its charts.
/// </remarks>
public sealed partial class DashboardSampler : BackgroundService
{
    /// <summary>The system topic snapshots are published on.</summary>
    public const string Topic = "switchboard.monitoring";

    /// <summary>The type of a snapshot event (reserved <c>switchboard.</c> prefix: no client can publish one).</summary>
    public const string SnapshotType = "switchboard.metrics.snapshot";

    /// <summary>What the charts show, and how long snapshots are kept.</summary>
    public static readonly TimeSpan History = TimeSpan.FromMinutes(5);

    /// <summary>At one snapshot a second, five minutes.</summary>
    public const int MaxSnapshotsKept = 300;

    /// <summary>Keep publishing this long after the last dashboard left, for a page that is only reconnecting.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(30);

    /// <summary>Most events read from the log per snapshot for the topic table; beyond it the table samples the newest.</summary>
    private const int MaxEventsScannedPerSnapshot = 20_000;

    /// <summary>Most topics tracked for the traffic table; a new topic past it replaces the quietest one.</summary>
    private const int MaxTopicsTracked = 1_000;

    /// <summary>The <c>transport</c> tag values of the delivery instruments, in the order the snapshot lists them.</summary>
    private static readonly string[] TransportNames = ["short_poll", "long_poll", "sse", "websocket", "webhook"];

    private const int Transports = 5;
    private const int LongPollIndex = 1;
    private const int SseIndex = 2;
    private const int WebSocketIndex = 3;

    private static readonly TopicFilter Everything = new([TopicPattern.Parse(">")]);

    private readonly SwitchboardMetrics _metrics;
    private readonly IEventLog _log;
    private readonly IDashboardWebhooks _webhooks;
    private readonly IDashboardJobs _jobs;
    private readonly IOptionsMonitor<MonitoringOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<DashboardSampler> _logger;
    private readonly MeterListener _listener = new();

    // Totals fed by the listener callbacks (any thread); read by the sampling loop.
    private readonly long[] _delivered = new long[Transports];
    private readonly long[] _catchUp = new long[Transports];
    private readonly long[] _bytes = new long[Transports];
    private readonly long[] _connections = new long[Transports];
    private readonly long[] _polls = new long[6];
    private readonly long[] _webhookAttempts = new long[3];
    private readonly LatencyWindow[] _latency = [new(), new(), new(), new(), new()];
    private readonly LatencyWindow _append = new();
    private long _published;

    // Sampling state, touched by the sampling loop only.
    private readonly long[] _previousDelivered = new long[Transports];
    private readonly long[] _previousCatchUp = new long[Transports];
    private long _previousPublished;
    private long _previousSample;
    private long _scannedAfter;
    private readonly Dictionary<string, TopicTraffic> _topics = new(StringComparer.Ordinal);

    private int _watchers;
    private long _lastWatched;

    /// <summary>Listens to <paramref name="metrics"/>' instruments from now on; snapshots go to <paramref name="log"/>.</summary>
    public DashboardSampler(SwitchboardMetrics metrics, IEventLog log, IDashboardWebhooks webhooks, IDashboardJobs jobs, IOptionsMonitor<MonitoringOptions> options,
        TimeProvider time, ILogger<DashboardSampler> logger)
    {
        _metrics = metrics;
        _log = log;
        _webhooks = webhooks;
        _jobs = jobs;
        _options = options;
        _time = time;
        _logger = logger;
        _previousSample = time.GetTimestamp();
        _lastWatched = long.MinValue;
        // Traffic is counted from the hub's start; history from before it is not this process's traffic.
        _scannedAfter = log.HeadSeq;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this hub's meter: another hub in the same process (tests) has a meter of its own.
            if (ReferenceEquals(instrument.Meter, _metrics.Meter) && KindOf(instrument.Name) is { } kind)
            {
                listener.EnableMeasurementEvents(instrument, kind);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) => OnMeasurement((Kind)state!, value, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, state) => OnMeasurement((Kind)state!, 0, value, tags));
        _listener.Start();
    }

    /// <summary>Dashboards streaming now.</summary>
    public int Watchers => Volatile.Read(ref _watchers);

    /// <summary>Counts a dashboard stream while it is open; snapshots are published only while one is.</summary>
    public IDisposable Watch()
    {
        Interlocked.Increment(ref _watchers);
        return new Watcher(this);
    }

    /// <summary>Builds a snapshot: rates since the previous one, the latency windows moved on, the topic table updated.</summary>
    internal async Task<byte[]> SampleAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetTimestamp();
        var elapsed = Math.Max(0.001, _time.GetElapsedTime(_previousSample, now).TotalSeconds);
        _previousSample = now;
        foreach (var window in _latency)
        {
            window.Drain();
        }

        _append.Drain();
        var scanned = await ScanTopicsAsync(elapsed, cancellationToken).ConfigureAwait(false);
        return Write(elapsed, scanned);
    }

    /// <summary>Takes a snapshot every <see cref="MonitoringOptions.SnapshotInterval"/>, and appends it while a dashboard watches.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.CurrentValue.SnapshotInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var snapshot = await SampleAsync(stoppingToken).ConfigureAwait(false);
                    if (IsWatched())
                    {
                        // Straight to the log, as the webhook notices are: a reserved type, and not a publish to count.
                        await _log.AppendAsync([new EventDraft(Topic, SnapshotType, snapshot)], null, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogSampleFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Stops listening to the instruments.</summary>
    public override void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }

    private bool IsWatched()
    {
        if (Volatile.Read(ref _watchers) > 0)
        {
            return true;
        }

        var last = Interlocked.Read(ref _lastWatched);
        return last != long.MinValue && _time.GetElapsedTime(last) < Linger;
    }

    private enum Kind
    {
        Connections,
        Polls,
        Published,
        Delivered,
        Latency,
        CatchUp,
        Bytes,
        WebhookAttempts,
        AppendDuration,
    }

    private static Kind? KindOf(string name) => name switch
    {
        "switchboard.connections" => Kind.Connections,
        "switchboard.poll.requests" => Kind.Polls,
        "switchboard.events.published" => Kind.Published,
        "switchboard.events.delivered" => Kind.Delivered,
        "switchboard.delivery.latency" => Kind.Latency,
        "switchboard.delivery.catch_up" => Kind.CatchUp,
        "switchboard.bytes.written" => Kind.Bytes,
        "switchboard.webhook.attempts" => Kind.WebhookAttempts,
        "switchboard.store.append.duration" => Kind.AppendDuration,
        _ => null,
    };

    private void OnMeasurement(Kind kind, long value, double real, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        switch (kind)
        {
            case Kind.Connections when TransportOf(tags) is { } transport:
                Interlocked.Add(ref _connections[transport], value);
                break;
            case Kind.Polls:
                var longPoll = Tag(tags, "kind") == "long";
                var outcome = Tag(tags, "outcome") switch { "events" => 0, "empty" => 1, _ => 2 };
                Interlocked.Add(ref _polls[(longPoll ? 3 : 0) + outcome], value);
                break;
            case Kind.Published:
                Interlocked.Add(ref _published, value);
                break;
            case Kind.Delivered when TransportOf(tags) is { } transport:
                Interlocked.Add(ref _delivered[transport], value);
                break;
            case Kind.Latency when TransportOf(tags) is { } transport:
                _latency[transport].Record(real);
                break;
            case Kind.CatchUp when TransportOf(tags) is { } transport:
                Interlocked.Add(ref _catchUp[transport], value);
                break;
            case Kind.Bytes when TransportOf(tags) is { } transport:
                Interlocked.Add(ref _bytes[transport], value);
                break;
            case Kind.WebhookAttempts:
                var index = Tag(tags, "outcome") switch { "success" => 0, "http_error" => 1, _ => 2 };
                Interlocked.Add(ref _webhookAttempts[index], value);
                break;
            case Kind.AppendDuration:
                _append.Record(real);
                break;
        }
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
            {
                return tag.Value as string;
            }
        }

        return null;
    }

    private static int? TransportOf(ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        Array.IndexOf(TransportNames, Tag(tags, "transport")) is var index and >= 0 ? index : null;

    /// <summary>
    /// Counts the events appended since the last snapshot per topic by reading the log's tail, as any subscriber would:
    /// no per-topic bookkeeping on the publish path, and a bounded amount of work per snapshot.
    /// </summary>
    private async Task<long> ScanTopicsAsync(double elapsedSeconds, CancellationToken cancellationToken)
    {
        var head = _log.HeadSeq;
        if (head - _scannedAfter > MaxEventsScannedPerSnapshot || _scannedAfter > head)
        {
            _scannedAfter = Math.Max(head - MaxEventsScannedPerSnapshot, 0);
        }

        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        long scanned = 0;
        while (_scannedAfter < head)
        {
            var result = await _log.ReadAsync(Everything, _scannedAfter, 1000, cancellationToken).ConfigureAwait(false);
            if (result.Gap is { } gap)
            {
                _scannedAfter = gap.RestartAfterSeq;
                continue;
            }

            foreach (var record in result.Events)
            {
                if (record.Topic != Topic)
                {
                    counts[record.Topic] = counts.GetValueOrDefault(record.Topic) + 1;
                }
            }

            scanned += result.Events.Count;
            if (result.NextAfterSeq <= _scannedAfter)
            {
                break;
            }

            _scannedAfter = result.NextAfterSeq;
        }

        // Rates decay with a time constant of about ten seconds, so the table ranks what is busy now.
        var decay = Math.Exp(-elapsedSeconds / 10);
        foreach (var traffic in _topics.Values)
        {
            traffic.Rate *= decay;
        }

        foreach (var (topic, count) in counts)
        {
            if (!_topics.TryGetValue(topic, out var traffic))
            {
                if (_topics.Count >= MaxTopicsTracked)
                {
                    var quietest = _topics.MinBy(t => t.Value.Rate).Key;
                    _topics.Remove(quietest);
                }

                _topics[topic] = traffic = new TopicTraffic();
            }

            traffic.Total += count;
            traffic.Rate += count / elapsedSeconds * (1 - decay);
        }

        return scanned;
    }

    private byte[] Write(double elapsed, long scanned)
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", WireTime.Format(_time.GetUtcNow()));
            json.WriteNumber("intervalMs", Math.Round(elapsed * 1000));

            json.WriteStartObject("connections");
            json.WriteNumber("sse", Math.Max(0, Interlocked.Read(ref _connections[SseIndex])));
            json.WriteNumber("websocket", Math.Max(0, Interlocked.Read(ref _connections[WebSocketIndex])));
            json.WriteNumber("long_poll", Math.Max(0, Interlocked.Read(ref _connections[LongPollIndex])));
            json.WriteEndObject();

            var published = Interlocked.Read(ref _published);
            json.WriteStartObject("published");
            json.WriteNumber("total", published);
            json.WriteNumber("rate", Math.Round((published - _previousPublished) / elapsed, 2));
            json.WriteEndObject();
            _previousPublished = published;

            long deliveredTotal = 0, deliveredDelta = 0, catchUpTotal = 0, catchUpDelta = 0;
            json.WriteStartObject("transports");
            for (var t = 0; t < Transports; t++)
            {
                var delivered = Interlocked.Read(ref _delivered[t]);
                var delta = delivered - _previousDelivered[t];
                _previousDelivered[t] = delivered;
                deliveredTotal += delivered;
                deliveredDelta += delta;
                var catchUp = Interlocked.Read(ref _catchUp[t]);
                var catchUpStep = catchUp - _previousCatchUp[t];
                _previousCatchUp[t] = catchUp;
                catchUpTotal += catchUp;
                catchUpDelta += catchUpStep;
                var (p50, p99, samples) = _latency[t].Percentiles();
                json.WriteStartObject(TransportNames[t]);
                json.WriteNumber("delivered", delivered);
                json.WriteNumber("rate", Math.Round(delta / elapsed, 2));
                json.WriteNumber("bytes", Interlocked.Read(ref _bytes[t]));
                WriteNullable(json, "p50", p50);
                WriteNullable(json, "p99", p99);
                json.WriteNumber("samples", samples);
                json.WriteNumber("catchUp", catchUp);
                json.WriteNumber("catchUpRate", Math.Round(catchUpStep / elapsed, 2));
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteStartObject("delivered");
            json.WriteNumber("total", deliveredTotal);
            json.WriteNumber("rate", Math.Round(deliveredDelta / elapsed, 2));
            json.WriteNumber("catchUp", catchUpTotal);
            json.WriteNumber("catchUpRate", Math.Round(catchUpDelta / elapsed, 2));
            json.WriteEndObject();

            json.WriteStartObject("polls");
            json.WriteNumber("short", _polls[0] + _polls[1] + _polls[2]);
            json.WriteNumber("long", _polls[3] + _polls[4] + _polls[5]);
            json.WriteNumber("empty", _polls[1] + _polls[4]);
            json.WriteNumber("notModified", _polls[2] + _polls[5]);
            json.WriteEndObject();

            var (appendP50, appendP99, appends) = _append.Percentiles();
            json.WriteStartObject("store");
            WriteNullable(json, "appendP50", appendP50);
            WriteNullable(json, "appendP99", appendP99);
            json.WriteNumber("appends", appends);
            json.WriteNumber("head", _log.HeadSeq);
            json.WriteEndObject();

            json.WriteStartArray("topics");
            foreach (var (topic, traffic) in _topics.OrderByDescending(t => t.Value.Rate).ThenByDescending(t => t.Value.Total).Take(10))
            {
                json.WriteStartObject();
                json.WriteString("topic", topic);
                json.WriteNumber("total", traffic.Total);
                json.WriteNumber("rate", Math.Round(traffic.Rate, 2));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNumber("eventsScanned", scanned);
            WriteWebhooks(json);
            WriteJobs(json);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void WriteWebhooks(Utf8JsonWriter json)
    {
        var endpoints = _webhooks.Endpoints();
        json.WriteStartObject("webhooks");
        json.WriteNumber("success", Interlocked.Read(ref _webhookAttempts[0]));
        json.WriteNumber("httpError", Interlocked.Read(ref _webhookAttempts[1]));
        json.WriteNumber("noResponse", Interlocked.Read(ref _webhookAttempts[2]));
        json.WriteNumber("endpointCount", endpoints.Count);
        json.WriteStartArray("endpoints");
        // The ones that need attention first, then the busiest; a page lists twenty at most.
        foreach (var endpoint in endpoints
            .OrderByDescending(e => e.Circuit == "open" || e.Status == WebhookStatus.Disabled)
            .ThenByDescending(e => e.ConsecutiveFailures)
            .ThenByDescending(e => e.Pending)
            .Take(20))
        {
            json.WriteStartObject();
            json.WriteString("id", endpoint.Id);
            json.WriteString("url", SafeUrl(endpoint.Url));
            json.WriteString("status", endpoint.Status.ToString().ToLowerInvariant());
            json.WriteString("circuit", endpoint.Circuit);
            json.WriteString("lastError", endpoint.LastError);
            var attempts = endpoint.AttemptsSucceeded + endpoint.AttemptsFailed;
            WriteNullable(json, "successRate", attempts == 0 ? null : Math.Round((double)endpoint.AttemptsSucceeded / attempts, 4));
            json.WriteNumber("pending", endpoint.Pending);
            json.WriteNumber("delivered", endpoint.Delivered);
            json.WriteNumber("failed", endpoint.Failed);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private void WriteJobs(Utf8JsonWriter json)
    {
        var queues = _jobs.QueueDepths();
        var unfinished = _jobs.UnfinishedCount;
        var queued = queues.Sum(q => q.Depth);
        json.WriteStartObject("jobs");
        json.WriteNumber("queued", queued);
        json.WriteNumber("running", Math.Max(0, unfinished - queued));
        json.WriteStartArray("queues");
        foreach (var (queue, depth) in queues.OrderByDescending(q => q.Depth).Take(20))
        {
            json.WriteStartObject();
            json.WriteString("queue", queue);
            json.WriteNumber("depth", depth);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Scheme, host and path: credentials in the URL and query strings (tokens) stay out of the dashboard.</summary>
    private static string SafeUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped) : "";

    private static void WriteNullable(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private sealed class TopicTraffic
    {
        public long Total;
        public double Rate;
    }

    private sealed class Watcher(DashboardSampler sampler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Exchange(ref sampler._lastWatched, sampler._time.GetTimestamp());
                Interlocked.Decrement(ref sampler._watchers);
            }
        }
    }

    [LoggerMessage(EventId = 800, Level = LogLevel.Warning, Message = "Taking or publishing the dashboard snapshot failed; trying again at the next one")]
    private static partial void LogSampleFailed(ILogger logger, Exception exception);
}
