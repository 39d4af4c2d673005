using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Metrics;
using Switchboard.Problems;

namespace Switchboard.Webhooks;

/// <summary>An endpoint as the API shows it: its stored state and, while it runs, its live delivery state.</summary>
internal sealed record WebhookEndpointView(WebhookEndpoint Endpoint, WebhookLiveStatus? Live, int StoredPending);

/// <summary>
/// Owns the webhook endpoints of the partitions this node holds (every endpoint, on a single node): loads them when
/// a partition is gained, runs one <see cref="WebhookEndpointWorker"/> per active endpoint, applies the API's
/// changes, and stops the workers and stores their progress when a partition is lost or handed over. A change stops
/// the endpoint's worker, stores the new state, and starts a fresh worker from the handed-over cursor and retries;
/// changes and partition moves are serialized, so two never interleave.
/// </summary>
internal sealed partial class WebhookDispatcher : BackgroundService
{
    /// <summary>The topic the hub publishes webhook notices on, such as <c>switchboard.webhook.disabled</c>.</summary>
    public const string SystemTopic = "switchboard.webhooks";

    /// <summary>How long a change (pause, patch, replay...) lets deliveries in flight finish before cancelling them.</summary>
    private static readonly TimeSpan ChangeGrace = TimeSpan.FromSeconds(5);

    /// <summary>The same at shutdown, kept short so a stop stays quick.</summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(2);

    private readonly IWebhookStore _store;
    private readonly IEventLog _log;
    private readonly IOptionsMonitor<WebhookOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly WebhookSender _sender;
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly Dictionary<string, Entry> _endpoints = new(StringComparer.Ordinal);
    private readonly WebhookRuntime _runtime;
    private readonly WebhookJournal _journal;

    private readonly SwitchboardMetrics _metrics;

    private readonly IWebhookPartitions _partitions;

    // The partitions whose endpoints are loaded here, under the _endpoints lock.
    private readonly HashSet<int> _ready = [];

    // Partitions gained and lost, in the order they happened, for the one loop that loads and resigns them.
    private readonly System.Threading.Channels.Channel<(WebhookPartitionLease Lease, bool Gained)> _moves =
        System.Threading.Channels.Channel.CreateUnbounded<(WebhookPartitionLease, bool)>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });

    public WebhookDispatcher(IWebhookStore store, IEventLog log, WebhookSender sender, IOptionsMonitor<WebhookOptions> options, TimeProvider time, ILogger<WebhookDispatcher> logger,
        SwitchboardMetrics metrics, IWebhookPartitions partitions, WebhookMetrics? webhookMetrics = null)
    {
        webhookMetrics ??= new WebhookMetrics();
        _partitions = partitions;
        _metrics = metrics;
        _store = store;
        _log = log;
        _sender = sender;
        _options = options;
        _time = time;
        _logger = logger;
        _journal = new WebhookJournal(store, logger);
        _runtime = new WebhookRuntime(log, sender, _journal, new SemaphoreSlim(options.CurrentValue.MaxConcurrentDeliveries),
            () => _options.CurrentValue, time, logger, (worker, reason) => _ = DisableAsync(worker, reason), metrics, webhookMetrics);
        webhookMetrics.ObserveEndpoints(ObserveEndpoints);
    }

    private static readonly KeyValuePair<string, object?>[] StateTags =
        [new("state", "active"), new("state", "circuit_open"), new("state", "paused"), new("state", "disabled")];

    /// <summary>The gauge's callback: a count per state, from the endpoints in memory (no store query at scrape time).</summary>
    private Measurement<int>[] ObserveEndpoints()
    {
        Span<int> counts = stackalloc int[4];
        foreach (var view in List())
        {
            var state = view.Endpoint.Status switch
            {
                WebhookStatus.Disabled => 3,
                WebhookStatus.Paused => 2,
                _ when view.Live?.Circuit == CircuitState.Open => 1,
                _ => 0,
            };
            counts[state]++;
        }

        return [new(counts[0], StateTags[0]), new(counts[1], StateTags[1]), new(counts[2], StateTags[2]), new(counts[3], StateTags[3])];
    }

    /// <summary>Which node delivers which endpoints; the webhook API is forwarded to the node that holds an endpoint.</summary>
    public IWebhookPartitions Partitions => _partitions;

    /// <summary>The partition an endpoint falls into.</summary>
    public int PartitionOf(string endpointId) => WebhookPartitioning.PartitionOf(endpointId, _partitions.Count);

    /// <summary>
    /// Where the API serves a partition: this node once its endpoints are loaded, the node that holds it, or nobody
    /// (a hand-over, or this node still loading it).
    /// </summary>
    public WebhookPartitionHolder RouteOf(int partition)
    {
        lock (_endpoints)
        {
            if (_ready.Contains(partition))
            {
                return WebhookPartitionHolder.ThisNode;
            }
        }

        var holder = _partitions.HolderOf(partition);
        return holder.IsThisNode ? WebhookPartitionHolder.Nobody : holder;
    }

    /// <summary>A new endpoint id.</summary>
    public static string NewEndpointId() => "wh_" + System.Security.Cryptography.RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 20);

    /// <summary>A new endpoint id in a partition this node serves now (any id, when it serves none).</summary>
    public string NewLocalEndpointId()
    {
        var id = NewEndpointId();
        lock (_endpoints)
        {
            if (_ready.Count == 0)
            {
                return id;
            }

            while (!_ready.Contains(PartitionOf(id)))
            {
                id = NewEndpointId();
            }
        }

        return id;
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // A single node holds everything from the start, so its endpoints are loaded before the first request. Nodes
        // sharing a store take partitions in ExecuteAsync, after start.
        if (!_partitions.IsShared)
        {
            await LoadAsync([new WebhookPartitionLease(0, CancellationToken.None)], cancellationToken).ConfigureAwait(false);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads the endpoints of the gained partitions, with their cursors and pending retries, and starts delivering.</summary>
    private async Task LoadAsync(IReadOnlyList<WebhookPartitionLease> gained, CancellationToken cancellationToken)
    {
        var partitions = gained.Select(l => l.Partition).ToHashSet();
        var snapshot = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        var pending = snapshot.PendingDeliveries.ToLookup(d => d.EndpointId, StringComparer.Ordinal);
        var loaded = 0;
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var endpoint in snapshot.Endpoints)
            {
                var partition = PartitionOf(endpoint.Id);
                if (!partitions.Contains(partition))
                {
                    continue;
                }

                var entry = new Entry(endpoint, [.. pending[endpoint.Id]], partition);
                // Changes are serialized by _changes; the lock is for readers (the API's List and the metrics gauge).
                lock (_endpoints)
                {
                    _endpoints[endpoint.Id] = entry;
                }

                StartWorker(entry);
                loaded++;
            }

            lock (_endpoints)
            {
                _ready.UnionWith(partitions);
            }
        }
        finally
        {
            _changes.Release();
        }

        LogLoaded(_logger, loaded, pending.Sum(p => partitions.Contains(PartitionOf(p.Key)) ? p.Count() : 0), partitions.Count);
    }

    /// <summary>Stops the partition's workers, stores where each stood, and forgets its endpoints: another node delivers them now.</summary>
    private async Task ResignAsync(WebhookPartitionLease lease)
    {
        await _changes.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            Entry[] leaving;
            lock (_endpoints)
            {
                _ready.Remove(lease.Partition);
                leaving = [.. _endpoints.Values.Where(e => e.Partition == lease.Partition)];
                foreach (var entry in leaving)
                {
                    _endpoints.Remove(entry.Endpoint.Id);
                }
            }

            await Task.WhenAll(leaving.Select(entry => StopWorkerAsync(entry, ShutdownGrace))).ConfigureAwait(false);
            foreach (var entry in leaving)
            {
                await _journal.RecordAsync(new WebhookProgressSaved(entry.Endpoint.Id, entry.Endpoint.Progress), CancellationToken.None).ConfigureAwait(false);
            }

            // The next holder loads the cursors from the store, so they must be there before the lease is freed.
            await _journal.CommitAsync([], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogResignFailed(_logger, lease.Partition, ex);
        }
        finally
        {
            _changes.Release();
            lease.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var trimming = TrimAttemptsAsync(stoppingToken);
        if (_partitions.IsShared)
        {
            await Task.WhenAll(FollowLeasesAsync(stoppingToken), MovePartitionsAsync(stoppingToken)).ConfigureAwait(false);
        }

        await trimming.ConfigureAwait(false);
    }

    /// <summary>Nodes sharing a store: every partition gained, and later lost, becomes a move for <see cref="MovePartitionsAsync"/>.</summary>
    private async Task FollowLeasesAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var lease in _partitions.LeasesAsync(stoppingToken).ConfigureAwait(false))
            {
                _moves.Writer.TryWrite((lease, true));
                lease.Lost.Register(static state =>
                {
                    var (moves, lost) = ((System.Threading.Channels.ChannelWriter<(WebhookPartitionLease, bool)>, WebhookPartitionLease))state!;
                    moves.TryWrite((lost, false));
                }, (_moves.Writer, lease));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _moves.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Loads gained partitions and resigns lost ones, one move at a time in the order they happened. Partitions gained
    /// together load from one read of the store.
    /// </summary>
    private async Task MovePartitionsAsync(CancellationToken stoppingToken)
    {
        var reader = _moves.Reader;
        var gained = new List<WebhookPartitionLease>();
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var move))
                {
                    if (move.Gained)
                    {
                        gained.Add(move.Lease);
                    }
                    else if (gained.Remove(move.Lease))
                    {
                        move.Lease.Release(); // lost before it was loaded: nothing to stop
                    }
                    else
                    {
                        await LoadPendingAsync(gained, stoppingToken).ConfigureAwait(false);
                        await ResignAsync(move.Lease).ConfigureAwait(false);
                    }
                }

                await LoadPendingAsync(gained, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // StopAsync stops the workers.
        }
    }

    /// <summary>Loads the gained partitions not lost meanwhile; a store fault is retried while they are still held.</summary>
    private async Task LoadPendingAsync(List<WebhookPartitionLease> gained, CancellationToken stoppingToken)
    {
        while (gained.Count > 0)
        {
            var live = gained.Where(l => !l.Lost.IsCancellationRequested).ToList();
            try
            {
                if (live.Count > 0)
                {
                    await LoadAsync(live, stoppingToken).ConfigureAwait(false);
                }

                gained.Clear();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogLoadFailed(_logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Trims the attempt log now and then.</summary>
    private async Task TrimAttemptsAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await _store.TrimAttemptsAsync(_options.CurrentValue.AttemptsKeptPerEndpoint, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogTrimFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private int _stopped;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return; // a host stopped twice: the journal is closed already
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _changes.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            // Shutdown gives sends in flight a moment; what does not finish is sent again after the restart.
            await Task.WhenAll(_endpoints.Values.Select(entry => StopWorkerAsync(entry, ShutdownGrace))).ConfigureAwait(false);
            foreach (var entry in _endpoints.Values)
            {
                await _journal.RecordAsync(new WebhookProgressSaved(entry.Endpoint.Id, entry.Endpoint.Progress), CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            _changes.Release();
        }

        await _journal.DisposeAsync().ConfigureAwait(false);
        _sender.Dispose();
    }

    public IReadOnlyList<WebhookEndpointView> List()
    {
        lock (_endpoints)
        {
            return [.. _endpoints.Values.OrderBy(e => e.Endpoint.CreatedAt).Select(View)];
        }
    }

    public WebhookEndpointView? Find(string id)
    {
        lock (_endpoints)
        {
            return _endpoints.TryGetValue(id, out var entry) ? View(entry) : null;
        }
    }

    /// <summary>
    /// Stores a new endpoint and starts delivering it. It goes into <paramref name="partition"/>, which this node must
    /// hold (the id is drawn again until it hashes there), or, without one, into any partition this node holds.
    /// </summary>
    public async Task<WebhookEndpointView> CreateAsync(WebhookEndpoint endpoint, CancellationToken cancellationToken, int? partition = null)
    {
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int target;
            lock (_endpoints)
            {
                // Without a partition (the hub's own endpoints), the id's own one if it is served here, else any served here.
                target = partition ?? (_ready.Contains(PartitionOf(endpoint.Id)) ? PartitionOf(endpoint.Id)
                    : _ready.Count > 0 ? _ready.ElementAt(Random.Shared.Next(_ready.Count)) : -1);
                if (!_ready.Contains(target))
                {
                    throw PartitionMoving();
                }
            }

            while (PartitionOf(endpoint.Id) != target)
            {
                endpoint = endpoint with { Id = NewEndpointId() };
            }

            // With partitions on several nodes this node sees only its own endpoints; the store has them all.
            var count = _partitions.IsShared ? (await _store.LoadAsync(cancellationToken).ConfigureAwait(false)).Endpoints.Count : _endpoints.Count;
            if (count >= _options.CurrentValue.MaxEndpoints)
            {
                throw SwitchboardException.Conflict("too-many-webhooks", "Too many webhook endpoints",
                    $"The hub already has {count} webhook endpoints, the most allowed (Switchboard:Webhooks:MaxEndpoints).");
            }

            await _journal.CommitAsync([new WebhookEndpointSaved(endpoint)], cancellationToken).ConfigureAwait(false);
            var entry = new Entry(endpoint, [], target);
            lock (_endpoints)
            {
                _endpoints[endpoint.Id] = entry;
            }

            StartWorker(entry);
            LogCreated(_logger, endpoint.Id, new Uri(endpoint.Url).GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)); // never credentials in the URL
            return View(entry);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>
    /// Changes an endpoint: its worker stops, <paramref name="change"/> gets the endpoint (with the handed-over
    /// progress) and its pending deliveries and returns the new ones plus any extra changes to store, and a worker
    /// starts again if the endpoint is active. Null when there is no such endpoint.
    /// </summary>
    public async Task<WebhookEndpointView?> ChangeAsync(string id, Func<WebhookEndpoint, IReadOnlyList<WebhookDelivery>, ValueTask<Change>> change, CancellationToken cancellationToken, WebhookEndpointWorker? onlyWhileRunBy = null)
    {
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_endpoints.TryGetValue(id, out var entry) || (onlyWhileRunBy is not null && entry.Worker != onlyWhileRunBy))
            {
                return null;
            }

            await StopWorkerAsync(entry, ChangeGrace).ConfigureAwait(false);
            try
            {
                var result = await change(entry.Endpoint, entry.Pending).ConfigureAwait(false);
                var updated = result.Endpoint with { UpdatedAt = _time.GetUtcNow() };
                await _journal.CommitAsync(
                    [new WebhookEndpointSaved(updated), new WebhookProgressSaved(id, updated.Progress), .. result.Extra],
                    CancellationToken.None).ConfigureAwait(false);
                entry.Endpoint = updated;
                entry.Pending = result.Pending;
            }
            finally
            {
                StartWorker(entry); // also after a refused change: the endpoint carries on as it was
            }

            return View(entry);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_endpoints.TryGetValue(id, out var entry))
            {
                return false;
            }

            await StopWorkerAsync(entry, ChangeGrace).ConfigureAwait(false);
            try
            {
                await _journal.CommitAsync([new WebhookEndpointDeleted(id)], CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                // A refused delete (a full disk) leaves the endpoint stored and listed, so it must keep delivering:
                // without its worker it would stay "active" and silently receive nothing until a restart.
                StartWorker(entry);
                throw;
            }

            lock (_endpoints)
            {
                _endpoints.Remove(id);
            }

            return true;
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Sends a <c>switchboard.ping</c> straight to the endpoint, outside the log, and records the attempt.</summary>
    public async Task<WebhookAttempt?> PingAsync(string id, CancellationToken cancellationToken)
    {
        var endpoint = Find(id)?.Endpoint;
        if (endpoint is null)
        {
            return null;
        }

        var now = _time.GetUtcNow();
        var body = PingBody(endpoint.Id, now);
        var result = await _sender.SendAsync(endpoint, $"msg_ping_{Guid.NewGuid():N}", body, cancellationToken).ConfigureAwait(false);
        var attempt = new WebhookAttempt(0, id, 0, 1, now, result.Succeeded, result.StatusCode, result.Latency.TotalMilliseconds, result.Error, result.ResponseBody);
        var added = new WebhookAttemptAdded(attempt);
        await _journal.CommitAsync([added], cancellationToken).ConfigureAwait(false);
        // The store numbers attempts; answer with the number the attempt log shows, not the 0 it was queued with.
        return attempt with { Id = added.AssignedId };
    }

    /// <summary>Waits until every change recorded so far is stored (the attempt log reads the store).</summary>
    public Task FlushAsync(CancellationToken cancellationToken) => _journal.CommitAsync([], cancellationToken);

    private static byte[] PingBody(string endpointId, DateTimeOffset now)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "switchboard.ping");
            writer.WriteString("timestamp", Switchboard.Events.WireTime.Format(now));
            writer.WriteStartObject("data");
            writer.WriteString("endpointId", endpointId);
            writer.WriteString("message", "A test delivery from Switchboard.");
            writer.WriteEndObject();
            writer.WriteNumber("seq", 0);
            writer.WriteString("topic", SystemTopic);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Disables an endpoint on the worker's word (410 Gone, or failing too long) and tells operators on the system topic.</summary>
    private async Task DisableAsync(WebhookEndpointWorker worker, string reason)
    {
        try
        {
            var id = worker.Endpoint.Id;
            // Only while the asking worker still runs the endpoint: otherwise an operator acted in between.
            var view = await ChangeAsync(id, (endpoint, pending) => ValueTask.FromResult(new Change(
                endpoint with { Status = WebhookStatus.Disabled, DisabledReason = reason }, pending)),
                CancellationToken.None, onlyWhileRunBy: worker).ConfigureAwait(false);
            if (view is null)
            {
                return;
            }

            LogDisabled(_logger, id, reason);
            var data = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
            {
                ["endpointId"] = id,
                ["url"] = new Uri(view.Endpoint.Url).GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped),
                ["reason"] = reason,
                ["disabledAt"] = Switchboard.Events.WireTime.Format(_time.GetUtcNow()),
            });
            await _log.AppendAsync([new EventDraft(SystemTopic, "switchboard.webhook.disabled", data)]).ConfigureAwait(false);
            _metrics.Published(1);
        }
        catch (Exception ex)
        {
            LogDisableFailed(_logger, worker.Endpoint.Id, ex);
        }
    }

    private void StartWorker(Entry entry)
    {
        if (entry.Endpoint.Status != WebhookStatus.Active || entry.Worker is not null)
        {
            return;
        }

        var worker = new WebhookEndpointWorker(entry.Endpoint, entry.Pending, _runtime);
        entry.Worker = worker;
        worker.Start();
    }

    private static async Task StopWorkerAsync(Entry entry, TimeSpan grace)
    {
        if (entry.Worker is not { } worker)
        {
            return;
        }

        var state = await worker.StopAsync(grace).ConfigureAwait(false);
        entry.Worker = null;
        entry.Endpoint = entry.Endpoint with { Progress = state.Progress };
        entry.Pending = state.PendingDeliveries;
    }

    private static WebhookEndpointView View(Entry entry)
    {
        var live = entry.Worker?.Status();
        var endpoint = live is null ? entry.Endpoint : entry.Endpoint with { Progress = live.Progress };
        return new WebhookEndpointView(endpoint, live, entry.Pending.Count);
    }

    /// <summary>What a change produced.</summary>
    public sealed record Change(WebhookEndpoint Endpoint, IReadOnlyList<WebhookDelivery> Pending, IReadOnlyList<WebhookChange>? ExtraChanges = null)
    {
        public IReadOnlyList<WebhookChange> Extra => ExtraChanges ?? [];
    }

    /// <summary>The answer while the partition an endpoint falls into is changing nodes.</summary>
    public static SwitchboardException PartitionMoving() => SwitchboardException.Unavailable("webhooks-unavailable", "Webhook delivery is changing nodes",
        "The node that delivers this webhook endpoint is changing (a node joined, left or is loading it); retry shortly.", TimeSpan.FromSeconds(2));

    private sealed class Entry(WebhookEndpoint endpoint, IReadOnlyList<WebhookDelivery> pending, int partition)
    {
        public int Partition { get; } = partition;

        public WebhookEndpoint Endpoint { get; set; } = endpoint;

        public IReadOnlyList<WebhookDelivery> Pending { get; set; } = pending;

        public WebhookEndpointWorker? Worker { get; set; }
    }

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Webhooks: {Endpoints} endpoint(s) loaded with {Pending} pending retries, from {Partitions} partition(s)")]
    private static partial void LogLoaded(ILogger logger, int endpoints, int pending, int partitions);

    [LoggerMessage(EventId = 406, Level = LogLevel.Error, Message = "Webhooks: loading gained partitions failed; retrying in a second")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 407, Level = LogLevel.Error, Message = "Webhooks: storing the progress of partition {Partition} while giving it up failed; its next holder may repeat some deliveries")]
    private static partial void LogResignFailed(ILogger logger, int partition, Exception exception);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Webhook {EndpointId} created for {Url}")]
    private static partial void LogCreated(ILogger logger, string endpointId, string url);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Webhook {EndpointId} disabled: {Reason}")]
    private static partial void LogDisabled(ILogger logger, string endpointId, string reason);

    [LoggerMessage(EventId = 404, Level = LogLevel.Error, Message = "Webhook {EndpointId}: disabling failed")]
    private static partial void LogDisableFailed(ILogger logger, string endpointId, Exception exception);

    [LoggerMessage(EventId = 405, Level = LogLevel.Warning, Message = "Trimming the webhook attempt log failed; retrying in a minute")]
    private static partial void LogTrimFailed(ILogger logger, Exception exception);
}
