using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Switchboard.Bench;

internal sealed record WebhookOptions(
    Uri BaseUrl,
    int Endpoints,
    string Topology,
    string Topic,
    double Rate,
    int MaxOutstanding,
    int BatchSize,
    int Publishers,
    double DurationSeconds,
    double WarmupSeconds,
    double DrainSeconds,
    int ReceiverDelayMs,
    int ReceiverPorts,
    int? MaxInFlight,
    int VerifyEvery,
    int? ServerPid,
    TimeSpan RequestTimeout)
{
    public const string Mode = "webhooks";

    /// <summary>Every endpoint subscribes to the one topic, so each event is one delivery per endpoint.</summary>
    public const string Shared = "shared";

    /// <summary>Endpoint i subscribes to its own topic <c>{topic}.{i}</c>; events go round-robin, one delivery each.</summary>
    public const string PerEndpoint = "per-endpoint";

    public bool IsShared => Topology == Shared;

    /// <summary>Deliveries one published event causes.</summary>
    public int FanOut => IsShared ? Endpoints : 1;

    public static WebhookOptions From(CliArgs args)
    {
        var endpoints = args.GetInt("endpoints", 100, 1, 10_000);
        var topology = args.GetString("topology", Shared);
        if (topology is not (Shared or PerEndpoint))
        {
            throw new CliException($"--topology: expected '{Shared}' or '{PerEndpoint}', got '{topology}'");
        }

        var o = new WebhookOptions(
            args.GetBaseUrl(),
            endpoints,
            topology,
            args.GetString("topic", "bench.wh"),
            args.GetDouble("rate", 0, 0, 1_000_000),
            args.GetInt("max-outstanding", 0, 0, 10_000_000),
            args.GetInt("batch", 100, 1, 1000),
            args.GetInt("publishers", 4, 1, 64),
            args.GetDouble("duration", 10, 0.1, 3600),
            args.GetDouble("warmup", 2, 0, 600),
            args.GetDouble("drain", 30, 0, 600),
            args.GetInt("receiver-delay-ms", 0, 0, 60_000),
            args.GetInt("receiver-ports", 0, 0, 10_000),
            args.Has("max-in-flight") ? args.GetInt("max-in-flight", 10, 1, 1000) : null,
            args.GetInt("verify-every", 1, 1, 1_000_000),
            args.GetOptionalInt("server-pid"),
            TimeSpan.FromSeconds(args.GetDouble("request-timeout", 30, 0.1, 600)));
        // Defaults that depend on other options: one port per endpoint (each endpoint a receiver of its own, as
        // distinct customers would be); 20 deliveries queued per endpoint in the closed-loop mode.
        return o with
        {
            ReceiverPorts = o.ReceiverPorts == 0 ? o.Endpoints : Math.Min(o.ReceiverPorts, o.Endpoints),
            MaxOutstanding = o.MaxOutstanding == 0 ? o.Endpoints * 20 : o.MaxOutstanding,
        };
    }
}

internal sealed record WebhookReport(
    RunInfo Run,
    string Topology,
    string Topic,
    bool InlineSocketCompletions,
    int Endpoints,
    int ReceiverPorts,
    int ReceiverDelayMs,
    int? MaxInFlight,
    double TargetRate,
    int MaxOutstanding,
    int Publishers,
    double WarmupSeconds,
    double DurationSeconds,
    double WindowSeconds,
    long Batches,
    long Published,
    double PublishedPerSecond,
    long PublishErrors,
    long ExpectedDeliveries,
    long Delivered,
    long Lost,
    double LossPercent,
    long Duplicates,
    long DeliveredInWindow,
    double DeliveriesPerSecond,
    long ReceivedTotal,
    long MinDeliveredPerEndpoint,
    long MaxDeliveredPerEndpoint,
    long SignaturesVerified,
    long SignaturesInvalid,
    bool Drained,
    double DrainSeconds,
    LatencySummary DeliveryLatency,
    LatencySummary PublishAckLatency,
    CpuUsage? Cpu,
    double? BenchCpuMicrosPerDelivery,
    double? ServerCpuMicrosPerDelivery,
    long? ServerDelivered,
    long? ServerFailed,
    long? ServerPending,
    Dictionary<string, long> ErrorMessages);

/// <summary>
/// Webhook delivery throughput: the bench runs the receiver (Kestrel on loopback), registers N endpoints on
/// the hub pointing at it, publishes batches stamped with Stopwatch.GetTimestamp() in <c>data.t</c>, and
/// counts what arrives: deliveries/s inside the window, publish-to-receive latency, every expected
/// (endpoint, seq) pair received at least once, duplicates, and the Standard Webhooks signature of each POST.
/// </summary>
internal static class WebhookBenchmark
{
    /// <summary>One event published inside the window: its seq and, per-endpoint topology, its endpoint.</summary>
    private readonly record struct Published(long Seq, int Endpoint);

    /// <summary>State the publisher loops share: counters change with Interlocked, the list under its own lock.</summary>
    private sealed class Publisher(int loops)
    {
        /// <summary>One recorder per loop (recorders are single-writer).</summary>
        public LatencyRecorder[] AckLatencies { get; } = [.. Enumerable.Range(0, loops).Select(_ => new LatencyRecorder(4096))];

        public List<Published> InWindow { get; } = [];

        /// <summary>Events handed to a batch so far (a failed batch gives its events back).</summary>
        public long Sent;
        public long Batches;
    }

    public static async Task<WebhookReport> RunAsync(WebhookOptions o, CancellationToken cancellationToken)
    {
        var run = RunInfo.Capture(WebhookOptions.Mode, o.BaseUrl);
        var window = new MeasurementWindow();
        var errors = new ErrorTally();
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        runCts.CancelAfter(TimeSpan.FromSeconds(120 + o.WarmupSeconds + o.DurationSeconds + o.DrainSeconds) + o.RequestTimeout);
        var ct = runCts.Token;

        var expectedPerEndpoint = o.Rate > 0 ? (int)Math.Min(o.Rate * o.FanOut / o.Endpoints * (o.DurationSeconds + 1), 1 << 20) : 4096;
        await using var receiver = await WebhookReceiver.StartAsync(o.Endpoints, o.ReceiverPorts, TimeSpan.FromMilliseconds(o.ReceiverDelayMs),
            o.VerifyEvery, window, expectedPerEndpoint, ct);
        Progress($"webhooks: receiver on {receiver.Addresses.Count} port(s) ({receiver.Addresses[0]}...), delay {o.ReceiverDelayMs} ms");

        using var client = BenchHttp.CreateClient(8, o.RequestTimeout);
        var ids = new string?[o.Endpoints];
        try
        {
            await RegisterAsync(o, client, receiver, ids, ct);
            return await MeasureAsync(o, run, client, receiver, ids, window, errors, ct);
        }
        finally
        {
            await DeleteAsync(o, client, ids);
        }
    }

    private static async Task RegisterAsync(WebhookOptions o, HttpClient client, WebhookReceiver receiver, string?[] ids, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var uri = new Uri(o.BaseUrl, "v1/webhooks");
        await Parallel.ForEachAsync(Enumerable.Range(0, o.Endpoints), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, token) =>
        {
            var url = $"{receiver.Addresses[i % receiver.Addresses.Count]}/hook/{i}";
            var topic = o.IsShared ? o.Topic : $"{o.Topic}.{i}";
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("url", url);
                writer.WriteStartArray("topics");
                writer.WriteStringValue(topic);
                writer.WriteEndArray();
                writer.WriteString("after", "latest");
                writer.WriteString("description", "Switchboard.Bench webhooks");
                if (o.MaxInFlight is { } maxInFlight)
                {
                    writer.WriteNumber("maxInFlight", maxInFlight);
                }

                writer.WriteEndObject();
            }

            using var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync(uri, content, token);
            var text = await response.Content.ReadAsStringAsync(token);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                var hint = text.Contains("refused", StringComparison.OrdinalIgnoreCase) || text.Contains("http", StringComparison.OrdinalIgnoreCase)
                    ? " (loopback receivers need the server started with Switchboard__Webhooks__AllowedNetworks__0=127.0.0.0/8 and Switchboard__Webhooks__AllowHttp=true)"
                    : string.Empty;
                throw new InvalidOperationException($"registering webhook {i} failed: HTTP {(int)response.StatusCode}: {text}{hint}");
            }

            using var created = JsonDocument.Parse(text);
            ids[i] = created.RootElement.GetProperty("id").GetString();
            receiver.Endpoints[i].Signature = new WebhookSignature(created.RootElement.GetProperty("secret").GetString()!);
        });
        Progress($"webhooks: registered {o.Endpoints} endpoint(s) ({o.Topology} topology, topic {o.Topic}{(o.IsShared ? string.Empty : ".<i>")}) in {watch.Elapsed.TotalSeconds:0.00}s");
    }

    private static async Task<WebhookReport> MeasureAsync(WebhookOptions o, RunInfo run, HttpClient client, WebhookReceiver receiver, string?[] ids,
        MeasurementWindow window, ErrorTally errors, CancellationToken ct)
    {
        var endpoints = receiver.Endpoints;
        var start = Stopwatch.GetTimestamp();
        window.Open(
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds),
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds + o.DurationSeconds));
        Progress(o.Rate > 0
            ? $"webhooks: publishing {o.Rate}/s events ({o.Rate * o.FanOut}/s deliveries offered) in batches, warmup {o.WarmupSeconds}s, measure {o.DurationSeconds}s"
            : $"webhooks: publishing as fast as deliveries arrive, at most {o.MaxOutstanding} deliveries outstanding, warmup {o.WarmupSeconds}s, measure {o.DurationSeconds}s");
        var cpuTask = CpuSampler.MeasureAsync(window, o.ServerPid, ct);
        var publisher = new Publisher(o.Publishers);
        await Task.WhenAll(Enumerable.Range(0, o.Publishers).Select(i => Task.Run(
            () => PublishLoopAsync(i, o, client, endpoints, window, publisher, errors, ct), CancellationToken.None)));
        var cpu = await cpuTask;
        var publishErrors = errors.Total;

        // Drain: wait until every (endpoint, event) pair published in the window has arrived, bounded by --drain.
        var expected = publisher.InWindow.Count * (long)o.FanOut;
        var drainWatch = Stopwatch.StartNew();
        while (endpoints.Sum(e => Volatile.Read(ref e.FirstReceiptsForWindow)) < expected && drainWatch.Elapsed.TotalSeconds < o.DrainSeconds && !ct.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None);
        }

        var drainSeconds = drainWatch.Elapsed.TotalSeconds;
        Progress($"webhooks: drained {endpoints.Sum(e => Volatile.Read(ref e.FirstReceiptsForWindow))}/{expected} in {drainSeconds:0.00}s");
        var (serverDelivered, serverFailed, serverPending) = await ServerCountsAsync(o, client, ids, errors, ct);

        // Exact loss check: every expected pair must be in its endpoint's map (read under each endpoint's lock).
        long lost = 0;
        var perEndpoint = new long[o.Endpoints];
        for (var i = 0; i < endpoints.Count; i++)
        {
            lock (endpoints[i].Lock)
            {
                var counts = endpoints[i].CountsBySeq;
                foreach (var p in publisher.InWindow)
                {
                    if (!o.IsShared && p.Endpoint != i)
                    {
                        continue;
                    }

                    if (counts.ContainsKey(p.Seq))
                    {
                        perEndpoint[i]++;
                    }
                    else
                    {
                        lost++;
                    }
                }
            }
        }

        foreach (var (message, count) in receiver.Errors.Snapshot())
        {
            errors.Add("receiver: " + message, count);
        }

        long duplicates = 0, inWindow = 0, total = 0, verified = 0, invalid = 0;
        var samples = new List<long[]>(endpoints.Count);
        foreach (var e in endpoints)
        {
            // Handlers may still be running for late duplicates, so everything is read under the endpoint's lock.
            lock (e.Lock)
            {
                duplicates += e.Duplicates;
                inWindow += e.ReceivedInWindow;
                total += e.ReceivedTotal;
                verified += e.Verified;
                invalid += e.Invalid;
                var copy = new long[e.Latencies.Count];
                e.Latencies.CopyTo(copy, 0);
                samples.Add(copy);
            }
        }

        var latency = LatencySummary.FromTicks([.. samples.SelectMany(x => x)]);
        var seconds = window.Seconds;
        var delivered = expected - lost;
        return new WebhookReport(
            run,
            o.Topology,
            o.Topic,
            BenchHttp.InlineSocketCompletions,
            o.Endpoints,
            o.ReceiverPorts,
            o.ReceiverDelayMs,
            o.MaxInFlight,
            o.Rate,
            o.MaxOutstanding,
            o.Publishers,
            o.WarmupSeconds,
            o.DurationSeconds,
            Math.Round(seconds, 3),
            publisher.Batches,
            publisher.InWindow.Count,
            Math.Round(publisher.InWindow.Count / seconds, 1),
            publishErrors,
            expected,
            delivered,
            lost,
            expected == 0 ? 0 : Math.Round(100.0 * lost / expected, 4),
            duplicates,
            inWindow,
            Math.Round(inWindow / seconds, 1),
            total,
            perEndpoint.Length == 0 ? 0 : perEndpoint.Min(),
            perEndpoint.Length == 0 ? 0 : perEndpoint.Max(),
            verified,
            invalid,
            lost == 0,
            Math.Round(drainSeconds, 3),
            latency,
            LatencySummary.FromRecorders(publisher.AckLatencies),
            cpu,
            cpu is null || inWindow == 0 ? null : Math.Round(cpu.BenchCores * seconds * 1e6 / inWindow, 2),
            cpu?.ServerCores is not { } serverCores || inWindow == 0 ? null : Math.Round(serverCores * seconds * 1e6 / inWindow, 2),
            serverDelivered,
            serverFailed,
            serverPending,
            errors.Snapshot());
    }

    /// <summary>
    /// Loops posting batches to <c>POST /v1/events</c>, several at once so one slow ack does not leave the hub idle.
    /// With a rate, batches follow the schedule (event k is due at start + k/rate; whatever is due goes in one
    /// batch, checked every 5 ms). Without one, they keep at most the max-outstanding option's count of deliveries published (or being
    /// published) but not yet received, so the hub always has work queued and latency stays bounded.
    /// </summary>
    private static async Task PublishLoopAsync(int index, WebhookOptions o, HttpClient client, IReadOnlyList<ReceivedDeliveries> endpoints, MeasurementWindow window,
        Publisher publisher, ErrorTally errors, CancellationToken ct)
    {
        var uri = new Uri(o.BaseUrl, "v1/events");
        var start = Stopwatch.GetTimestamp();
        var seqs = new List<long>(1000);
        var tick = TimeSpan.FromMilliseconds(o.Rate > 0 ? 5 : 1);
        try
        {
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                if (now >= window.End)
                {
                    return;
                }

                int count;
                if (o.Rate > 0)
                {
                    var due = (long)((now - start) * o.Rate / Stopwatch.Frequency) + 1;
                    count = (int)Math.Min(due - Volatile.Read(ref publisher.Sent), o.BatchSize);
                }
                else
                {
                    long received = 0;
                    foreach (var e in endpoints)
                    {
                        received += Volatile.Read(ref e.ReceivedTotal) - Volatile.Read(ref e.Duplicates);
                    }

                    var outstanding = Volatile.Read(ref publisher.Sent) * o.FanOut - received;
                    count = (int)Math.Min((o.MaxOutstanding - outstanding) / o.FanOut, o.BatchSize);
                }

                if (count <= 0)
                {
                    await Task.Delay(tick, ct);
                    continue;
                }

                // Loops may race past the limit by a batch each; the next round corrects it.
                var first = Interlocked.Add(ref publisher.Sent, count) - count;
                var sent = Stopwatch.GetTimestamp();
                var body = BatchBody(o, first, count, sent);
                seqs.Clear();
                var outcome = await PostBatchAsync(client, uri, body, seqs, ct);
                var acked = Stopwatch.GetTimestamp();
                if (!outcome.Ok || seqs.Count != count)
                {
                    Interlocked.Add(ref publisher.Sent, -count);
                    errors.Add(outcome.Error ?? $"batch of {count} acknowledged {seqs.Count} events");
                    await Task.Delay(10, ct);
                    continue;
                }

                Interlocked.Increment(ref publisher.Batches);
                if (window.Contains(sent))
                {
                    publisher.AckLatencies[index].Record(acked - sent);
                    lock (publisher.InWindow)
                    {
                        for (var k = 0; k < count; k++)
                        {
                            publisher.InWindow.Add(new Published(seqs[k], o.IsShared ? -1 : (int)((first + k) % o.Endpoints)));
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Run deadline or Ctrl+C.
        }
    }

    /// <summary>A batch of <paramref name="count"/> events; per-endpoint topology sends event k to topic {topic}.{k mod N}.</summary>
    private static byte[] BatchBody(WebhookOptions o, long first, int count, long sent)
    {
        var builder = new StringBuilder(count * 64);
        builder.Append('[');
        for (var k = 0; k < count; k++)
        {
            if (k > 0)
            {
                builder.Append(',');
            }

            var topic = o.IsShared ? o.Topic : $"{o.Topic}.{(first + k) % o.Endpoints}";
            builder.Append(CultureInfo.InvariantCulture, $"{{\"topic\":\"{topic}\",\"type\":\"bench\",\"data\":{{\"t\":{sent}}}}}");
        }

        builder.Append(']');
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    /// <summary>POSTs a batch and collects the seqs of the 201's <c>{"events":[{"seq":...},...]}</c> in order.</summary>
    private static async Task<PostOutcome> PostBatchAsync(HttpClient client, Uri uri, byte[] body, List<long> seqs, CancellationToken ct)
    {
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync(uri, content, ct);
            var bytes = await response.Content.ReadAsByteArrayAsync(ct);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                return new PostOutcome(false, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            ReadSeqs(bytes, seqs);
            return new PostOutcome(true, null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new PostOutcome(false, "request timed out");
        }
        catch (HttpRequestException ex)
        {
            return new PostOutcome(false, $"{ex.HttpRequestError}: {ex.Message}");
        }
        catch (JsonException ex)
        {
            return new PostOutcome(false, $"unreadable batch answer: {ex.Message}");
        }
    }

    internal static void ReadSeqs(ReadOnlySpan<byte> json, List<long> seqs)
    {
        // Root object (depth 0) -> "events" array -> event objects (depth 2) -> their properties (depth 3).
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 3 && reader.ValueTextEquals("seq"u8)
                && reader.Read() && reader.TokenType == JsonTokenType.Number)
            {
                seqs.Add(reader.GetInt64());
            }
        }
    }

    /// <summary>The hub's own view, summed over the endpoints: delivered, failed and pending counts.</summary>
    private static async Task<(long?, long?, long?)> ServerCountsAsync(WebhookOptions o, HttpClient client, string?[] ids, ErrorTally errors, CancellationToken ct)
    {
        long delivered = 0, failed = 0, pending = 0;
        try
        {
            foreach (var id in ids)
            {
                using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri(o.BaseUrl, $"v1/webhooks/{id}"), ct));
                var counts = document.RootElement.GetProperty("counts");
                delivered += counts.GetProperty("delivered").GetInt64();
                failed += counts.GetProperty("failed").GetInt64();
                pending += counts.GetProperty("pending").GetInt64();
            }

            return (delivered, failed, pending);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException)
        {
            errors.Add($"reading the endpoints' counts: {ex.Message}");
            return (null, null, null);
        }
    }

    /// <summary>Removes the endpoints again, so a later run on the same server does not deliver to a receiver that is gone.</summary>
    private static async Task DeleteAsync(WebhookOptions o, HttpClient client, string?[] ids)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var failures = 0;
        await Parallel.ForEachAsync(ids.Where(id => id is not null), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = timeout.Token }, async (id, token) =>
        {
            try
            {
                using var response = await client.DeleteAsync(new Uri(o.BaseUrl, $"v1/webhooks/{id}"), token);
                if (response.StatusCode != HttpStatusCode.NoContent)
                {
                    Interlocked.Increment(ref failures);
                }
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref failures);
            }
        });
        if (failures > 0)
        {
            Progress($"webhooks: {failures} endpoint(s) could not be deleted; the hub keeps delivering to them");
        }
    }

    public static void Print(WebhookReport r, TextWriter output)
    {
        var load = (r.TargetRate > 0 ? $"{r.TargetRate}/s events" : $"max rate (<= {r.MaxOutstanding} outstanding)") + $", {r.Publishers} batch publisher(s)";
        var table = new ConsoleTable($"webhooks: {r.Endpoints} endpoint(s), {r.Topology} topology, receiver {(r.ReceiverDelayMs > 0 ? $"{r.ReceiverDelayMs} ms" : "instant")} on {r.ReceiverPorts} port(s), {load}, {r.DurationSeconds}s (+{r.WarmupSeconds}s warmup) -> {r.Run.Url}")
            .Add("max in flight per endpoint", r.MaxInFlight is { } m ? m.ToString(CultureInfo.InvariantCulture) : "server default")
            .Add("window s", r.WindowSeconds, 2)
            .Add("batches", r.Batches)
            .Add("published", r.Published)
            .Add("published/s", r.PublishedPerSecond, 1)
            .Add("publish errors", r.PublishErrors)
            .Add("expected deliveries", r.ExpectedDeliveries)
            .Add("delivered (distinct)", r.Delivered)
            .Add("lost", r.Lost)
            .Add("loss %", r.LossPercent, 4)
            .Add("duplicates", r.Duplicates)
            .Add("delivered in window", r.DeliveredInWindow)
            .Add("deliveries/s", r.DeliveriesPerSecond, 0)
            .Add("per-endpoint min/max", $"{r.MinDeliveredPerEndpoint:N0} / {r.MaxDeliveredPerEndpoint:N0}")
            .Add("signatures verified / invalid", $"{r.SignaturesVerified:N0} / {r.SignaturesInvalid:N0}")
            .Add("drain s", $"{r.DrainSeconds:0.00}{(r.Drained ? string.Empty : " (incomplete)")}")
            .AddLatency("delivery", r.DeliveryLatency)
            .AddLatency("batch ack", r.PublishAckLatency)
            .AddCpu(r.Cpu)
            .Add("bench cpu us/delivery", r.BenchCpuMicrosPerDelivery is { } b ? b.ToString("0.00", CultureInfo.InvariantCulture) : "-")
            .Add("server cpu us/delivery", r.ServerCpuMicrosPerDelivery is { } s ? s.ToString("0.00", CultureInfo.InvariantCulture) : "-")
            .Add("hub counts delivered/failed/pending", r.ServerDelivered is null ? "-" : $"{r.ServerDelivered:N0} / {r.ServerFailed:N0} / {r.ServerPending:N0}");
        table.Write(output);
        if (r.TargetRate > 0 && r.PublishedPerSecond < 0.95 * r.TargetRate)
        {
            output.WriteLine($"  warning: published {r.PublishedPerSecond:0.#}/s of the {r.TargetRate:0.#}/s target (batch acks too slow)");
        }

        foreach (var (message, count) in r.ErrorMessages)
        {
            output.WriteLine($"  error x{count}: {message}");
        }
    }

    private static void Progress(string message) => PublishBenchmark.Progress(message);
}
