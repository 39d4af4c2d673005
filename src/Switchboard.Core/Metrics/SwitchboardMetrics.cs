using System.Diagnostics.Metrics;
using Switchboard.Events;

namespace Switchboard.Metrics;

/// <summary>How an event left the hub; the <c>transport</c> tag of the delivery instruments.</summary>
public enum DeliveryTransport
{
    /// <summary>A poll answered at once (<c>short_poll</c>).</summary>
    ShortPoll,

    /// <summary>A poll held until events or its wait ran out (<c>long_poll</c>).</summary>
    LongPoll,

    /// <summary>A Server-Sent Events stream (<c>sse</c>).</summary>
    Sse,

    /// <summary>A WebSocket subscription (<c>websocket</c>).</summary>
    WebSocket,

    /// <summary>A webhook delivery the receiver acknowledged (<c>webhook</c>).</summary>
    Webhook,
}

/// <summary>What a poll answered; the <c>outcome</c> tag of <c>switchboard.poll.requests</c>.</summary>
public enum PollOutcome
{
    /// <summary>At least one event.</summary>
    Events,

    /// <summary>No event.</summary>
    Empty,

    /// <summary>304: nothing new since the client's <c>If-None-Match</c>.</summary>
    NotModified,
}

/// <summary>
/// The delivery instruments every transport and store records on (connections, polls, published and delivered
/// events, latency, bytes, store commits), on one <see cref="Meter"/> named <see cref="MeterName"/>. Features with
/// instruments of their own (jobs, webhooks) create them on the same meter through the host's <see cref="IMeterFactory"/>. The names, units and tags are a
/// stable contract (docs/monitoring.md): dashboards and alerts are built on them, so rename nothing.
/// </summary>
/// <remarks>
/// Hot paths (every delivered event) call these methods. Every tag value is a pre-built static pair, so a measurement
/// allocates nothing; with no listener attached each call is a few field reads. Latency is recorded per event only
/// while something listens to the histogram.
/// </remarks>
public sealed class SwitchboardMetrics : IDisposable
{
    /// <summary>The meter name to subscribe to, for example <c>AddMeter(SwitchboardMetrics.MeterName)</c> in OpenTelemetry.</summary>
    public const string MeterName = "Switchboard";

    /// <summary>Delivery latency buckets, in seconds: sub-millisecond pushes up to minute-long polls and retries.</summary>
    internal static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    /// <summary>
    /// How long before a poll arrived (or a webhook attempt began) an event may have been appended and still count as
    /// live: a poll cannot be pushed to, so the wait between polls is its live latency. Older ones were read from history.
    /// </summary>
    public static readonly TimeSpan LiveGrace = TimeSpan.FromSeconds(10);

    private static readonly KeyValuePair<string, object?>[] TransportTags =
    [
        new("transport", "short_poll"),
        new("transport", "long_poll"),
        new("transport", "sse"),
        new("transport", "websocket"),
        new("transport", "webhook"),
    ];

    private static readonly KeyValuePair<string, object?>[][] PollTags =
    [
        [new("kind", "short"), new("outcome", "events")],
        [new("kind", "short"), new("outcome", "empty")],
        [new("kind", "short"), new("outcome", "not_modified")],
        [new("kind", "long"), new("outcome", "events")],
        [new("kind", "long"), new("outcome", "empty")],
        [new("kind", "long"), new("outcome", "not_modified")],
    ];



    private readonly bool _ownsMeter;
    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _pollRequests;
    private readonly Counter<long> _slowClosed;
    private readonly Counter<long> _published;
    private readonly Counter<long> _delivered;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _catchUp;
    private readonly Counter<long> _bytes;
    private readonly Histogram<double> _appendDuration;
    private readonly Histogram<double> _commitDuration;
    private readonly Histogram<long> _commitBatch;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (one per host), or on a meter of their own.</summary>
    public SwitchboardMetrics(IMeterFactory? meterFactory = null)
    {
        if (meterFactory is null)
        {
            Meter = new Meter(MeterName);
            _ownsMeter = true;
        }
        else
        {
            Meter = meterFactory.Create(new MeterOptions(MeterName));
        }

        _connections = Meter.CreateUpDownCounter<long>("switchboard.connections", "{connection}",
            "Open subscriber connections by transport: SSE streams, WebSockets, and long polls being held.");
        _slowClosed = Meter.CreateCounter<long>("switchboard.connections.slow_closed", "{connection}",
            "Subscriber connections the hub closed because the client stopped taking data (WebSocket 1013, SSE Sse:SlowClientTimeout), by transport.");
        _pollRequests = Meter.CreateCounter<long>("switchboard.poll.requests", "{request}",
            "Poll requests answered, by kind (short, long) and outcome (events, empty, not_modified).");
        _published = Meter.CreateCounter<long>("switchboard.events.published", "{event}",
            "Events appended to the log by publishers and hub features (jobs, config, webhook notices); not the dashboard's own snapshots.");
        _delivered = Meter.CreateCounter<long>("switchboard.events.delivered", "{event}",
            "Events handed to subscribers, by transport; a webhook event counts when the receiver acknowledged it.");
        _latency = Meter.CreateHistogram("switchboard.delivery.latency", "s",
            "Time from the hub accepting an event to delivering it live, by transport. Catch-up reads of history are counted by switchboard.delivery.catch_up instead.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _catchUp = Meter.CreateCounter<long>("switchboard.delivery.catch_up", "{event}",
            "Events delivered from history rather than live, by transport: already in the log when the stream opened, or appended more than 10 s before the poll or webhook attempt.");
        _bytes = Meter.CreateCounter<long>("switchboard.bytes.written", "By",
            "Bytes of event payload framing written to subscribers, by transport (response bodies, SSE frames, WebSocket messages, webhook bodies).");
        _appendDuration = Meter.CreateHistogram("switchboard.store.append.duration", "s",
            "Time for the log to append (and, for SQLite, commit) one publish, as the publisher waits for it.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
        _commitDuration = Meter.CreateHistogram("switchboard.store.commit.duration", "s",
            "Time of one SQLite group commit (one transaction for every append waiting).",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
        _commitBatch = Meter.CreateHistogram("switchboard.store.commit.batch_size", "{event}",
            "Events in one SQLite group commit; above 1 means concurrent publishers shared a sync.",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096] });
    }

    /// <summary>The meter every Switchboard instrument lives on; features with state of their own add observable gauges to it.</summary>
    public Meter Meter { get; }

    internal static string TransportName(DeliveryTransport transport) => (string)TransportTags[(int)transport].Value!;

    /// <summary>A subscriber connection (SSE stream, WebSocket, held long poll) opened.</summary>
    public void ConnectionOpened(DeliveryTransport transport) => _connections.Add(1, TransportTags[(int)transport]);

    /// <summary>A subscriber connection counted by <see cref="ConnectionOpened"/> closed.</summary>
    public void ConnectionClosed(DeliveryTransport transport) => _connections.Add(-1, TransportTags[(int)transport]);

    /// <summary>A connection closed because its client stopped reading (a WebSocket 1013, an SSE stream past <c>Sse:SlowClientTimeout</c>).</summary>
    public void SlowClientClosed(DeliveryTransport transport) => _slowClosed.Add(1, TransportTags[(int)transport]);

    /// <summary>A poll was answered, long or short, with <paramref name="outcome"/>.</summary>
    public void PollAnswered(bool longPoll, PollOutcome outcome) => _pollRequests.Add(1, PollTags[(longPoll ? 3 : 0) + (int)outcome]);

    /// <summary><paramref name="count"/> events were appended by a publisher or a hub feature.</summary>
    public void Published(int count) => _published.Add(count);

    /// <summary>
    /// Counts events handed to one subscriber. Those appended at or after <paramref name="liveSince"/> were delivered
    /// live and have their latency from the hub's accept time recorded; older ones were read from history (a reader
    /// catching up from an old cursor) and are counted as catch-up, whose age says nothing about delivery speed.
    /// </summary>
    public void Delivered(DeliveryTransport transport, IReadOnlyList<EventRecord> events, DateTimeOffset now, DateTimeOffset liveSince) =>
        Delivered(transport, events, events.Count, now, liveSince);

    /// <summary>Counts the first <paramref name="count"/> of <paramref name="events"/>: a batch cut short by a close.</summary>
    public void Delivered(DeliveryTransport transport, IReadOnlyList<EventRecord> events, int count, DateTimeOffset now, DateTimeOffset liveSince)
    {
        if (count == 0)
        {
            return;
        }

        var tag = TransportTags[(int)transport];
        _delivered.Add(count, tag);
        long catchUp = 0;
        for (var i = 0; i < count; i++)
        {
            if (IsLive(events[i], liveSince))
            {
                if (_latency.Enabled)
                {
                    _latency.Record(LatencySeconds(events[i], now), tag);
                }
            }
            else
            {
                catchUp++;
            }
        }

        if (catchUp > 0)
        {
            _catchUp.Add(catchUp, tag);
        }
    }

    /// <summary>Counts one event handed to one subscriber; see the list overload for <paramref name="liveSince"/>.</summary>
    public void Delivered(DeliveryTransport transport, EventRecord record, DateTimeOffset now, DateTimeOffset liveSince)
    {
        var tag = TransportTags[(int)transport];
        _delivered.Add(1, tag);
        if (!IsLive(record, liveSince))
        {
            _catchUp.Add(1, tag);
        }
        else if (_latency.Enabled)
        {
            _latency.Record(LatencySeconds(record, now), tag);
        }
    }

    /// <summary>Event times are whole milliseconds, so one appended in the millisecond the read began is still live.</summary>
    private static bool IsLive(EventRecord record, DateTimeOffset liveSince) => record.Time > liveSince.AddMilliseconds(-1);

    /// <summary><paramref name="bytes"/> bytes of event framing were written to subscribers over <paramref name="transport"/>.</summary>
    public void BytesWritten(DeliveryTransport transport, long bytes)
    {
        if (bytes > 0)
        {
            _bytes.Add(bytes, TransportTags[(int)transport]);
        }
    }

    /// <summary>One publish waited <paramref name="duration"/> for the log to append it.</summary>
    public void Appended(TimeSpan duration) => _appendDuration.Record(duration.TotalSeconds);

    /// <summary>
    /// For stores: one group commit of <paramref name="events"/> events took <paramref name="duration"/>
    /// (<c>switchboard.store.commit.duration</c> and the batch-size histogram).
    /// </summary>
    public void Committed(int events, TimeSpan duration)
    {
        _commitDuration.Record(duration.TotalSeconds);
        _commitBatch.Record(events);
    }

    /// <summary>
    /// Event times have millisecond precision (the wire format), so a push within the same millisecond reads as 0 and
    /// every latency is within 1 ms of the truth.
    /// </summary>
    private static double LatencySeconds(EventRecord record, DateTimeOffset now) => Math.Max(0, (now - record.Time).TotalSeconds);

    /// <inheritdoc />
    public void Dispose()
    {
        // A meter from the factory belongs to the factory, which disposes it with the host.
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }
}
