using System.Globalization;
using System.Diagnostics;

namespace Switchboard.Bench;

internal sealed record FanoutOptions(
    string Mode,
    Uri BaseUrl,
    string Topic,
    int Subscribers,
    int Publishers,
    double Rate,
    double DurationSeconds,
    double WarmupSeconds,
    double DrainSeconds,
    double ConnectTimeoutSeconds,
    int ConnectConcurrency,
    int PayloadBytes,
    string Client,
    int? ServerPid,
    TimeSpan RequestTimeout,
    bool IdleMemory = false,
    double IdleSeconds = 0,
    int ReceiveBufferBytes = 0,
    IReadOnlyList<Uri>? Nodes = null,
    string TopicMode = "one",
    string TopicPrefix = "user.",
    int IdleSubscribers = 0,
    string Protocol = "switchboard",
    string? Path = null,
    int ShardIndex = 0,
    int ShardCount = 1,
    long? PublishAtUnixMs = null)
{
    public const string SseMode = "fanout";
    public const string WebSocketMode = "ws-fanout";

    /// <summary>WebSocket (switchboard.v1) subscribers instead of SSE streams.</summary>
    public bool IsWebSocket => Mode == WebSocketMode;

    /// <summary>Parses either mode; options that only one mode has are unknown to the other.</summary>
    public static FanoutOptions From(CliArgs args)
    {
        var ws = args.Mode == WebSocketMode;
        var options = new FanoutOptions(
            ws ? WebSocketMode : SseMode,
            args.GetBaseUrl(),
            args.GetString("topic", ws ? "chat.bench" : "bench.fan"),
            args.GetInt("subscribers", 1000, 1, 100_000),
            args.GetInt("publishers", 4, 1, 1024),
            args.GetDouble("rate", 200, 0, 10_000_000),
            args.GetDouble("duration", 10, 0.1, 3600),
            args.GetDouble("warmup", 1, 0, 600),
            args.GetDouble("drain", 10, 0, 600),
            args.GetDouble("connect-timeout", 60, 1, 600),
            args.GetInt("connect-concurrency", 64, 1, 10_000),
            args.GetInt("payload-bytes", 0, 0, 1024 * 1024),
            ParseClient(args.GetString("client", "raw"), ws),
            args.GetOptionalInt("server-pid"),
            TimeSpan.FromSeconds(args.GetDouble("request-timeout", 30, 0.1, 600)));
        // With --nodes, subscriber i connects to node i mod n while publishers use --url: most events cross nodes.
        options = options with { Nodes = args.GetNodeUrls(options.BaseUrl) };
        // distinct: subscriber i on its own topic <prefix><i>, each event to one random subscriber's topic.
        var topicMode = args.GetString("topic-mode", "one");
        if (topicMode is not ("one" or "distinct"))
        {
            throw new CliException($"--topic-mode: expected 'one' or 'distinct', got '{topicMode}'");
        }

        var shard = args.GetString("shard", "0/1").Split('/');
        if (shard.Length != 2 || !int.TryParse(shard[0], out var shardIndex) || !int.TryParse(shard[1], out var shardCount)
            || shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount)
        {
            throw new CliException("--shard: expected K/M with 0 <= K < M");
        }

        var publishAt = args.GetString("publish-at", "");
        options = options with
        {
            TopicMode = topicMode,
            TopicPrefix = args.GetString("topic-prefix", "user."),
            IdleSubscribers = args.GetInt("idle-subscribers", 0, 0, 100_000),
            ShardIndex = shardIndex,
            ShardCount = shardCount,
            PublishAtUnixMs = publishAt.Length == 0 ? null : long.Parse(publishAt, CultureInfo.InvariantCulture),
            IdleMemory = args.GetFlag("idle-memory"),
            IdleSeconds = args.GetDouble("idle-seconds", 5, 0, 600),
        };
        if (!ws)
        {
            if (options.IdleMemory && options.ServerPid is null)
            {
                throw new CliException("--idle-memory needs --server-pid (the server's RSS is read from /proc/<pid>/status)");
            }

            return options;
        }

        var protocol = args.GetString("protocol", "switchboard");
        if (protocol is not ("switchboard" or "signalr"))
        {
            throw new CliException($"--protocol: expected 'switchboard' or 'signalr', got '{protocol}'");
        }

        options = options with
        {
            ReceiveBufferBytes = args.GetInt("receive-buffer", 8192, 256, 16 * 1024 * 1024),
            Protocol = protocol,
            Path = args.GetString("path", protocol == "signalr" ? "hub" : "v1/ws"),
        };
        if (options.IdleMemory && options.ServerPid is null)
        {
            throw new CliException("--idle-memory needs --server-pid (the server's RSS is read from /proc/<pid>/status)");
        }

        return options;
    }

    private static string ParseClient(string value, bool ws) => (ws, value) switch
    {
        (false, "raw" or "http" or "longpoll") or (true, "raw" or "clientws") => value,
        (false, _) => throw new CliException($"--client: expected 'raw', 'http' or 'longpoll', got '{value}'"),
        (true, _) => throw new CliException($"--client: expected 'raw' or 'clientws', got '{value}'"),
    };
}

/// <summary>
/// Fan-out over SSE ("fanout") or WebSocket ("ws-fanout"): N subscribers on one topic, paced HTTP
/// publishers stamping each event with Stopwatch.GetTimestamp() so every delivery yields a
/// publish-to-receive latency (same process, same clock).
/// </summary>
internal static class FanoutBenchmark
{
    private sealed class Publisher
    {
        public LatencyRecorder AckLatencies { get; } = new(4096);

        public long PublishedInWindow { get; set; }
    }

    /// <summary>Warm-up connections opened (and closed) before the idle-memory baseline.</summary>
    private const int IdleMemoryWarmupConnections = 100;

    public static async Task<FanoutReport> RunAsync(FanoutOptions o, CancellationToken cancellationToken)
    {
        var run = RunInfo.Capture(o.Mode, o.BaseUrl);
        var publishUri = BenchHttp.PublishUri(o.BaseUrl, o.Topic);
        var padding = new string('x', o.PayloadBytes);
        var errors = new ErrorTally();
        var window = new MeasurementWindow();

        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var budget = o.ConnectTimeoutSeconds + o.WarmupSeconds + o.DurationSeconds + o.DrainSeconds + 30
            + (o.IdleMemory ? 180 + 2 * o.IdleSeconds : 0);
        runCts.CancelAfter(TimeSpan.FromSeconds(budget) + o.RequestTimeout);
        var ct = runCts.Token;

        // Separate handlers: 1,000 long-lived stream connections must not occupy the publishers' pool.
        using var streamClient = BenchHttp.CreateClient(o.Subscribers + 8, Timeout.InfiniteTimeSpan);
        using var wsInvoker = o.IsWebSocket && o.Client == "clientws" ? ClientWebSocketSubscriber.CreateInvoker() : null;
        using var publishClient = BenchHttp.CreateClient(o.Publishers, o.RequestTimeout);

        IdleMemoryProbe? probe = null;
        if (o.IdleMemory)
        {
            probe = new IdleMemoryProbe(o.ServerPid!.Value);
            await WarmUpServerAsync(o, streamClient, wsInvoker, publishClient, publishUri, ct);
            await probe.MeasureBaselineAsync(ct);
        }

        // Size each subscriber's first latency chunk for the expected event count (bounded inside the recorder).
        var expectedPerSubscriber = o.Rate > 0 ? (int)Math.Min(o.Rate * (o.DurationSeconds + 1), int.MaxValue) : 0;
        if (o.TopicMode == "distinct")
        {
            expectedPerSubscriber = 0;
        }

        // This process's share (--shard K/M): global subscriber indices i with i mod M == K.
        var hotIndices = Enumerable.Range(0, o.Subscribers).Where(i => i % o.ShardCount == o.ShardIndex).ToArray();
        var idleIndices = Enumerable.Range(0, o.IdleSubscribers).Where(i => i % o.ShardCount == o.ShardIndex).ToArray();
        var subscribers = CreateSubscribers(o, hotIndices.Select(i => (i, HotTopic(o, i))), streamClient, wsInvoker, window, expectedPerSubscriber)
            .Concat(CreateSubscribers(o, idleIndices.Select(i => (o.Subscribers + i, $"idle.{i}")), streamClient, wsInvoker, new MeasurementWindow(), 0))
            .ToArray();
        try
        {
            return await RunWithSubscribersAsync(o, run, subscribers, hotIndices.Length, publishClient, publishUri, padding, errors, window, probe, ct);
        }
        finally
        {
            foreach (var s in subscribers)
            {
                s.Dispose();
            }
        }
    }

    /// <summary>The topic of hot subscriber <paramref name="index"/>: the one topic, or its own in distinct mode.</summary>
    private static string HotTopic(FanoutOptions o, int index) =>
        o.TopicMode == "distinct" ? o.TopicPrefix + index.ToString(CultureInfo.InvariantCulture) : o.Topic;

    private static Subscriber[] CreateSubscribers(FanoutOptions o, int count, HttpClient streamClient, HttpMessageInvoker? wsInvoker, MeasurementWindow window, int expectedPerSubscriber) =>
        CreateSubscribers(o, Enumerable.Range(0, count).Select(i => (i, o.Topic)), streamClient, wsInvoker, window, expectedPerSubscriber);

    private static Subscriber[] CreateSubscribers(FanoutOptions o, IEnumerable<(int Index, string Topic)> specs, HttpClient streamClient, HttpMessageInvoker? wsInvoker, MeasurementWindow window, int expectedPerSubscriber)
    {
        var nodes = o.Nodes is { Count: > 0 } list ? list : [o.BaseUrl];
        return specs
            .Select(s => (Node: nodes[s.Index % nodes.Count], s.Index, s.Topic))
            .Select(s => (o.IsWebSocket, o.Protocol, o.Client) switch
            {
                (false, _, "raw") => (Subscriber)new RawSseSubscriber(BenchHttp.StreamUri(s.Node, s.Topic), window, expectedPerSubscriber),
                (false, _, "longpoll") => new LongPollSubscriber(streamClient, s.Node, s.Topic, window, expectedPerSubscriber),
                (false, _, _) => new SseHttpSubscriber(streamClient, BenchHttp.StreamUri(s.Node, s.Topic), window, expectedPerSubscriber),
                (true, "signalr", _) => new SignalRSubscriber(new Uri(s.Node, o.Path), window, expectedPerSubscriber, s.Topic, o.ReceiveBufferBytes),
                (true, _, "raw") => new RawWebSocketSubscriber(WsUri(s.Node, o, s.Index), window, expectedPerSubscriber, s.Topic, o.ReceiveBufferBytes),
                (true, _, _) => new ClientWebSocketSubscriber(WsUri(s.Node, o, s.Index), wsInvoker!, window, expectedPerSubscriber, s.Topic, o.ReceiveBufferBytes),
            })
            .ToArray();
    }

    private static Uri WsUri(Uri node, FanoutOptions o, int index) =>
        o.Path is null or "v1/ws" ? BenchHttp.WebSocketUri(node, $"bench-{index}") : new Uri(node, $"{o.Path}?name=bench-{index}");

    /// <summary>
    /// Before the idle-memory baseline: open a few subscribers, deliver some events to them and close
    /// them again, so code paths are jitted and pools exist before the baseline is taken.
    /// </summary>
    private static async Task WarmUpServerAsync(FanoutOptions o, HttpClient streamClient, HttpMessageInvoker? wsInvoker, HttpClient publishClient, Uri publishUri, CancellationToken ct)
    {
        const int Events = 20;
        var count = Math.Min(IdleMemoryWarmupConnections, o.Subscribers);
        Progress($"idle-memory: warm-up with {count} connection(s) and {Events} event(s)");
        var warm = CreateSubscribers(o, count, streamClient, wsInvoker, new MeasurementWindow(), 0);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var gate = new SemaphoreSlim(o.ConnectConcurrency);
        var tasks = warm.Select(s => Task.Run(() => s.RunAsync(gate, stop.Token), CancellationToken.None)).ToArray();
        try
        {
            await Task.WhenAll(warm.Select(s => s.Ready)).WaitAsync(TimeSpan.FromSeconds(30), ct);
            for (var i = 0; i < Events; i++)
            {
                var outcome = await BenchHttp.PostAsync(publishClient, publishUri, BenchHttp.TimestampedBody(Stopwatch.GetTimestamp(), string.Empty), ct);
                if (!outcome.Ok)
                {
                    Progress($"idle-memory: warm-up publish failed: {outcome.Error}");
                }
            }

            var watch = Stopwatch.StartNew();
            while (warm.Any(s => s.IsReady && s.ReceivedTotal < Events) && watch.Elapsed.TotalSeconds < 10)
            {
                await Task.Delay(20, ct);
            }
        }
        catch (TimeoutException)
        {
            Progress($"idle-memory: only {warm.Count(s => s.IsReady)}/{count} warm-up connection(s) became ready");
        }
        finally
        {
            stop.Cancel();
            var stopped = Task.WhenAll(tasks);
            if (await Task.WhenAny(stopped, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None)) != stopped)
            {
                Progress("idle-memory: warm-up subscribers did not stop within 10 s");
            }

            foreach (var s in warm)
            {
                s.Dispose();
            }
        }

        if (warm.FirstOrDefault(s => s.Error is not null)?.Error is { } error)
        {
            Progress($"idle-memory: warm-up subscriber error: {error}");
        }

        // Let the server notice the closed connections and finish their cleanup.
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
    }

    private static async Task<FanoutReport> RunWithSubscribersAsync(
        FanoutOptions o,
        RunInfo run,
        Subscriber[] subscribers,
        int hotCount,
        HttpClient publishClient,
        Uri publishUri,
        string padding,
        ErrorTally errors,
        MeasurementWindow window,
        IdleMemoryProbe? probe,
        CancellationToken ct)
    {
        // Phase 1: subscribe. The gate bounds concurrent connects so the server's accept backlog
        // does not overflow (dropped SYNs would cost a 1 s+ retransmit and skew "ready" time).
        Progress($"{o.Mode}: opening {subscribers.Length} {o.Client}/{o.Protocol} subscriber(s) ({hotCount} hot, topics {(o.TopicMode == "distinct" ? o.TopicPrefix + "<i>" : o.Topic)}; {subscribers.Length - hotCount} idle) shard {o.ShardIndex}/{o.ShardCount}");
        using var gate = new SemaphoreSlim(o.ConnectConcurrency);
        var connectWatch = Stopwatch.StartNew();
        // With --idle-memory the first half opens and idles on its own first: the second half's cost, measured
        // against it, is the marginal cost of a connection, free of one-time costs (code the first heartbeats
        // tier up, pools) that the figure against the baseline divides among the connections.
        var firstHalf = probe is null || subscribers.Length < 2 ? subscribers.Length : subscribers.Length / 2;
        var runTasks = subscribers.Take(firstHalf).Select(s => Task.Run(() => s.RunAsync(gate, ct), CancellationToken.None)).ToList();
        if (firstHalf < subscribers.Length)
        {
            await WaitReadyAsync(subscribers.Take(firstHalf), o, ct);
            await probe!.MeasureMidpointAsync(subscribers.Take(firstHalf).Count(s => s.IsReady), o.IdleSeconds, ct);
            runTasks.AddRange(subscribers.Skip(firstHalf).Select(s => Task.Run(() => s.RunAsync(gate, ct), CancellationToken.None)));
        }

        await WaitReadyAsync(subscribers, o, ct);

        var ready = subscribers.Take(hotCount).Where(s => s.IsReady).ToArray();
        var idleReady = subscribers.Skip(hotCount).Count(s => s.IsReady);
        foreach (var s in subscribers.Where(s => !s.IsReady))
        {
            s.Stop();
        }

        Progress($"{o.Mode}: {ready.Length}/{hotCount} hot and {idleReady}/{subscribers.Length - hotCount} idle subscriber(s) ready after {connectWatch.Elapsed.TotalSeconds:0.00}s");
        if (ready.Length == 0)
        {
            var firstError = subscribers.Select(s => s.Error).FirstOrDefault(e => e is not null) ?? "timed out";
            throw new InvalidOperationException($"no subscriber became ready: {firstError}");
        }

        var idleMemory = probe is null ? null : await probe.MeasureIdleAsync(ready.Length + idleReady, o.IdleSeconds, Math.Min(IdleMemoryWarmupConnections, o.Subscribers), ct);

        // Several load processes (--shard) start publishing at the same wall-clock time.
        if (o.PublishAtUnixMs is { } at)
        {
            var wait = at - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Progress($"{o.Mode}: waiting {wait / 1000.0:0.0}s for --publish-at");
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(wait), ct);
            }
        }

        // Distinct topics: each event goes to the topic of one random ready subscriber.
        Uri[]? topicUris = o.TopicMode == "distinct"
            ? [.. subscribers.Take(hotCount).Select((s, k) => (s, k)).Where(x => x.s.IsReady)
                .Select(x => BenchHttp.PublishUri(o.BaseUrl, HotTopic(o, o.ShardIndex + x.k * o.ShardCount)))]
            : null;

        // Phase 2: publish at the target rate through warmup + measurement.
        var start = Stopwatch.GetTimestamp();
        window.Open(
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds),
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds + o.DurationSeconds));
        Progress($"{o.Mode}: publishing {(o.Rate > 0 ? $"{o.Rate}/s" : "as fast as possible")} with {o.Publishers} publisher(s), warmup {o.WarmupSeconds}s, measure {o.DurationSeconds}s");
        var cpuTask = CpuSampler.MeasureAsync(window, o.ServerPid, ct);
        var publishers = Enumerable.Range(0, o.Publishers).Select(_ => new Publisher()).ToArray();
        await Task.WhenAll(publishers.Select((p, i) => Task.Run(
            () => PublishLoopAsync(i, o, publishClient, publishUri, topicUris, padding, start, window, p, errors, ct), CancellationToken.None)));

        var cpu = await cpuTask;

        // Phase 3: let in-flight deliveries land, bounded by --drain.
        var published = publishers.Sum(p => p.PublishedInWindow);
        var expected = topicUris is null ? published * ready.Length : published;
        var drainWatch = Stopwatch.StartNew();
        while (ready.Sum(s => s.ReceivedForWindow) < expected && drainWatch.Elapsed.TotalSeconds < o.DrainSeconds && !ct.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None);
        }

        var drainSeconds = drainWatch.Elapsed.TotalSeconds;
        var delivered = ready.Sum(s => s.ReceivedForWindow);
        Progress($"{o.Mode}: drained {delivered}/{expected} in {drainSeconds:0.00}s; stopping subscribers");

        // Phase 4: stop and collect. Recorders are read only after their loops have exited.
        foreach (var s in subscribers)
        {
            s.Stop();
        }

        try
        {
            await Task.WhenAll(runTasks).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException("subscribers did not stop within 10 s; latency data would be racy");
        }

        var publishErrors = errors.Total;
        foreach (var s in subscribers.Where(s => !s.IsReady && s.Error is not null))
        {
            errors.Add("subscriber (never ready): " + s.Error);
        }

        foreach (var s in ready.Where(s => s.Error is not null))
        {
            errors.Add("subscriber: " + s.Error);
        }

        var seconds = window.Seconds;
        var deliveredInWindow = ready.Sum(s => s.ReceivedInWindow);
        return new FanoutReport(
            run,
            o.Topic,
            o.Client,
            BenchHttp.InlineSocketCompletions,
            o.Subscribers,
            ready.Length,
            ready.Count(s => s.Error is not null),
            o.Publishers,
            o.Rate,
            o.WarmupSeconds,
            o.DurationSeconds,
            o.PayloadBytes,
            Math.Round(seconds, 3),
            published,
            Math.Round(published / seconds, 1),
            publishErrors,
            expected,
            delivered,
            expected == 0 ? 0 : Math.Round(100.0 * (expected - delivered) / expected, 4),
            deliveredInWindow,
            Math.Round(deliveredInWindow / seconds, 1),
            ready.Min(s => s.ReceivedForWindow),
            ready.Max(s => s.ReceivedForWindow),
            ready.Sum(s => s.ControlFrames),
            delivered >= expected,
            Math.Round(drainSeconds, 3),
            LatencySummary.FromRecorders(ready.Select(s => s.Latencies)),
            LatencySummary.FromRecorders(publishers.Select(p => p.AckLatencies)),
            LatencySummary.FromTicks(ready.Select(s => s.ReadyAfterTicks).ToArray()),
            cpu,
            cpu is null || deliveredInWindow == 0 ? null : Math.Round(cpu.BenchCores * seconds * 1e6 / deliveredInWindow, 2),
            errors.Snapshot(),
            idleMemory)
        {
            TopicMode = o.TopicMode,
            Protocol = o.IsWebSocket ? o.Protocol : "sse",
            IdleSubscribers = subscribers.Length - hotCount,
            IdleSubscribersReady = idleReady,
            Shard = $"{o.ShardIndex}/{o.ShardCount}",
            // Server CPU per published event and deliveries per server core-second (the issue's efficiency unit).
            ServerCpuMicrosPerEvent = cpu?.ServerCores is { } sc && published > 0 ? Math.Round(sc * seconds * 1e6 / published, 1) : null,
            DeliveriesPerServerCoreSecond = cpu?.ServerCores is { } sc2 && sc2 > 0 ? Math.Round(deliveredInWindow / (sc2 * seconds), 0) : null,
        };
    }

    private static async Task PublishLoopAsync(
        int index,
        FanoutOptions o,
        HttpClient client,
        Uri uri,
        Uri[]? topicUris,
        string padding,
        long start,
        MeasurementWindow window,
        Publisher publisher,
        ErrorTally errors,
        CancellationToken ct)
    {
        // Open-loop pacing on a fixed schedule: event k of publisher i is due at
        // start + (k·P + i)/R, so publishers interleave evenly. A publisher that falls behind sends
        // the overdue events back to back (no sleeping) and the average rate still holds; if the
        // server cannot keep up the published count simply comes out below rate × duration.
        var intervalTicks = o.Rate > 0 ? Stopwatch.Frequency / o.Rate : 0;
        var oneMs = Stopwatch.Frequency / 1000;
        try
        {
            for (long k = 0; ; k++)
            {
                if (o.Rate > 0)
                {
                    var due = start + (long)((k * o.Publishers + index) * intervalTicks);
                    if (due >= window.End)
                    {
                        return;
                    }

                    var wait = due - Stopwatch.GetTimestamp();
                    // Timers are ~1 ms granular; sub-millisecond waits are skipped rather than rounded up.
                    if (wait >= oneMs)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency), ct);
                    }
                }

                var sent = Stopwatch.GetTimestamp();
                if (sent >= window.End)
                {
                    return;
                }

                var target = topicUris is null ? uri : topicUris[Random.Shared.Next(topicUris.Length)];
                var outcome = await BenchHttp.PostAsync(client, target, BenchHttp.TimestampedBody(sent, padding), ct);
                var acked = Stopwatch.GetTimestamp();
                if (!outcome.Ok)
                {
                    errors.Add(outcome.Error ?? "unknown error");
                    await Task.Delay(10, ct);
                    continue;
                }

                // Subscribers count an event as "for the window" by the same sent timestamp, so
                // expected and delivered are computed over exactly the same set of events.
                if (window.Contains(sent))
                {
                    publisher.PublishedInWindow++;
                    publisher.AckLatencies.Record(acked - sent);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Run deadline or Ctrl+C.
        }
    }

    public static void Print(FanoutReport r, TextWriter output)
    {
        var rate = r.TargetRate > 0 ? $"{r.TargetRate}/s" : "max rate";
        var table = new ConsoleTable($"{r.Run.Mode}: {r.Subscribers} {r.Client} subscriber(s), {r.Publishers} publisher(s) at {rate}, topic {r.Topic}, {r.DurationSeconds}s (+{r.WarmupSeconds}s warmup) -> {r.Run.Url}")
            .Add("client", $"{r.Client}{(r.InlineSocketCompletions ? ", inline socket completions" : string.Empty)}")
            .Add("subscribers ready", $"{r.SubscribersReady}/{r.Subscribers}")
            .Add("subscriber errors", r.SubscriberErrors)
            .Add("window s", r.WindowSeconds, 2)
            .Add("published", r.Published)
            .Add("published/s", r.PublishedPerSecond, 1)
            .Add("publish errors", r.PublishErrors)
            .Add("expected deliveries", r.ExpectedDeliveries)
            .Add("delivered", r.Delivered)
            .Add("loss %", r.LossPercent, 4)
            .Add("delivered in window", r.DeliveredInWindow)
            .Add("deliveries/s", r.DeliveriesPerSecond, 0)
            .Add("per-subscriber min/max", $"{r.MinDeliveredPerSubscriber:N0} / {r.MaxDeliveredPerSubscriber:N0}")
            .Add("drain s", $"{r.DrainSeconds:0.00}{(r.Drained ? string.Empty : " (timed out)")}")
            .AddLatency("delivery", r.DeliveryLatency)
            .AddLatency("publish ack", r.PublishAckLatency)
            .Add("subscribe p50/max ms", $"{r.SubscribeLatency.P50Ms:0.0} / {r.SubscribeLatency.MaxMs:0.0}")
            .AddCpu(r.Cpu)
            .Add("server cpu us/event", r.ServerCpuMicrosPerEvent is { } ue ? ue.ToString("0.0", CultureInfo.InvariantCulture) : "-")
            .Add("deliveries per server core-s", r.DeliveriesPerServerCoreSecond is { } dc ? dc.ToString("N0", CultureInfo.InvariantCulture) : "-")
            .Add("topics / protocol / shard", $"{r.TopicMode} / {r.Protocol} / {r.Shard}")
            .Add("idle subscribers ready", $"{r.IdleSubscribersReady}/{r.IdleSubscribers}")
            .Add("bench cpu us/delivery", r.BenchCpuMicrosPerDelivery is { } us ? us.ToString("0.00", CultureInfo.InvariantCulture) : "-");
        if (r.IdleMemory is { } m)
        {
            static string KiB(long? v) => v is { } x ? (x / 1024.0).ToString("N1", CultureInfo.InvariantCulture) + " MiB" : "-";
            static string Num(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";
            table.Add("idle: connections", m.Connections)
                .Add("idle: server RSS before / idle / after GC", $"{KiB(m.RssBeforeKiB)} / {KiB(m.RssAfterIdleKiB)} / {KiB(m.RssAfterGcKiB)}")
                .Add("idle: server KiB per connection", Num(m.RssPerConnectionKiB, "0.00"))
                .Add("idle: server KiB per connection after GC", Num(m.RssPerConnectionAfterGcKiB, "0.00"))
                .Add("idle: managed heap before / after MB", $"{Num(m.ManagedHeapBeforeMB, "0.0")} / {Num(m.ManagedHeapAfterMB, "0.0")}")
                .Add("idle: managed heap KiB per connection", Num(m.ManagedHeapPerConnectionKiB, "0.00"))
                .Add("idle: marginal, from connection", m.MidConnections is { } mid ? mid.ToString("N0", CultureInfo.InvariantCulture) : "-")
                .Add("idle: marginal KiB per connection after GC", Num(m.MarginalRssPerConnectionAfterGcKiB, "0.00"))
                .Add("idle: marginal managed heap KiB per connection", Num(m.MarginalManagedHeapPerConnectionKiB, "0.00"))
                .Add("idle: server cpu (cores) while idle", Num(m.IdleServerCores, "0.000"))
                .Add("idle: server threads before / after", $"{m.ThreadsBefore} / {m.ThreadsAfter}")
                .Add("idle: kernel TCP memory before / after", $"{KiB(m.KernelTcpMemoryBeforeKiB)} / {KiB(m.KernelTcpMemoryAfterKiB)}");
        }

        table.Write(output);
        if (r.IdleMemory?.Note is { } note)
        {
            output.WriteLine($"  idle-memory note: {note}");
        }
        if (r.TargetRate > 0 && r.PublishedPerSecond < 0.95 * r.TargetRate)
        {
            // Each publisher waits for its ack, so P publishers cannot exceed P / ack latency events/s;
            // deliveries/s is then capped by publishing, not by fan-out.
            var ceiling = r.PublishAckLatency.MeanMs is > 0 and var mean ? r.Publishers * 1000.0 / mean : double.NaN;
            output.WriteLine(
                $"  warning: published {r.PublishedPerSecond:0.#}/s of the {r.TargetRate:0.#}/s target; {r.Publishers} closed-loop publisher(s) "
                + $"at mean ack {r.PublishAckLatency.MeanMs:0.#} ms top out near {ceiling:0}/s. Raise --publishers to load fan-out harder.");
        }

        foreach (var (message, count) in r.ErrorMessages)
        {
            output.WriteLine($"  error x{count}: {message}");
        }
    }

    /// <summary>Waits until <paramref name="subscribers"/> are ready, at most --connect-timeout; who did not make it is reported later.</summary>
    private static async Task WaitReadyAsync(IEnumerable<Subscriber> subscribers, FanoutOptions o, CancellationToken ct)
    {
        try
        {
            await Task.WhenAll(subscribers.Select(s => s.Ready)).WaitAsync(TimeSpan.FromSeconds(o.ConnectTimeoutSeconds), ct);
        }
        catch (TimeoutException)
        {
            // Measured with whoever made it; the report shows ready < requested.
        }
    }

    private static void Progress(string message) => PublishBenchmark.Progress(message);
}
