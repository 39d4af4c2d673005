using System.Diagnostics;

namespace Switchboard.Bench;

internal sealed record PublishOptions(
    Uri BaseUrl,
    string Topic,
    int Publishers,
    double DurationSeconds,
    double WarmupSeconds,
    int PayloadBytes,
    int? ServerPid,
    TimeSpan RequestTimeout,
    IReadOnlyList<Uri> Nodes,
    bool Health)
{
    public static PublishOptions From(CliArgs args)
    {
        var baseUrl = args.GetBaseUrl();
        return new(
        baseUrl,
        args.GetString("topic", "bench.pub"),
        args.GetInt("publishers", 1, 1, 4096),
        args.GetDouble("duration", 10, 0.1, 3600),
        args.GetDouble("warmup", 2, 0, 600),
        args.GetInt("payload-bytes", 64, 0, 16 * 1024 * 1024),
        args.GetOptionalInt("server-pid"),
        TimeSpan.FromSeconds(args.GetDouble("request-timeout", 30, 0.1, 600)),
        args.GetNodeUrls(baseUrl),
        args.GetFlag("health"));
    }
}

/// <summary>
/// Closed-loop durable-publish throughput: N loops, each awaiting its 201 ack before sending the
/// next event, so events/s equals the server's ack rate at concurrency N.
/// </summary>
internal static class PublishBenchmark
{
    private sealed class Worker
    {
        public LatencyRecorder Latencies { get; } = new(64 * 1024);
    }

    public static async Task<PublishReport> RunAsync(PublishOptions o, CancellationToken cancellationToken)
    {
        var run = RunInfo.Capture("publish", o.BaseUrl);
        // --health sends a bare GET /v1/health from the same client instead: the reference a publish is measured against.
        var uri = o.Health ? new Uri(o.BaseUrl, "/v1/health") : BenchHttp.PublishUri(o.BaseUrl, o.Topic);
        // With --nodes, publisher i publishes to node i mod n: every node of the hub appends.
        var uris = o.Nodes.Select(n => o.Health ? new Uri(n, "/v1/health") : BenchHttp.PublishUri(n, o.Topic)).ToArray();
        var body = BenchHttp.PaddedBody(o.PayloadBytes);
        using var client = BenchHttp.CreateClient(o.Publishers, o.RequestTimeout);
        var errors = new ErrorTally();
        var window = new MeasurementWindow();

        // Hard bound: loops stop sending at the window end; in-flight requests get one request
        // timeout beyond that, then everything is cancelled so the tool always exits by itself.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(o.WarmupSeconds + o.DurationSeconds) + o.RequestTimeout + TimeSpan.FromSeconds(5));

        var start = Stopwatch.GetTimestamp();
        window.Open(
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds),
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds + o.DurationSeconds));
        Progress($"publish: {o.Publishers} publisher(s) -> {uri} warmup {o.WarmupSeconds}s, measure {o.DurationSeconds}s");

        var cpuTask = CpuSampler.MeasureAsync(window, o.ServerPid, deadline.Token);
        var workers = Enumerable.Range(0, o.Publishers).Select(_ => new Worker()).ToArray();
        // Task.Run so the N loops start concurrently instead of each running its first
        // synchronous slice on this thread.
        await Task.WhenAll(workers.Select((w, i) => Task.Run(() => LoopAsync(client, uris[i % uris.Length], o.Health ? null : body, window, w, errors, deadline.Token), CancellationToken.None)));

        var cpu = await cpuTask;
        var latency = LatencySummary.FromRecorders(workers.Select(w => w.Latencies));
        var seconds = window.Seconds;
        return new PublishReport(
            run,
            o.Health ? "GET /v1/health" : o.Topic,
            BenchHttp.InlineSocketCompletions,
            o.Publishers,
            o.WarmupSeconds,
            o.DurationSeconds,
            o.PayloadBytes,
            Math.Round(seconds, 3),
            latency.Count,
            Math.Round(latency.Count / seconds, 1),
            errors.Total,
            latency,
            cpu,
            errors.Snapshot());
    }

    private static async Task LoopAsync(HttpClient client, Uri uri, byte[]? body, MeasurementWindow window, Worker worker, ErrorTally errors, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var sent = Stopwatch.GetTimestamp();
                if (sent >= window.End)
                {
                    return;
                }

                var outcome = body is null ? await BenchHttp.GetOkAsync(client, uri, ct) : await BenchHttp.PostAsync(client, uri, body, ct);
                var acked = Stopwatch.GetTimestamp();
                // Throughput counts acks completed inside the window, the usual closed-loop definition.
                var counted = window.Contains(acked);
                if (outcome.Ok)
                {
                    if (counted)
                    {
                        worker.Latencies.Record(acked - sent);
                    }

                    continue;
                }

                errors.Add(outcome.Error ?? "unknown error");

                // Back off briefly so a down server yields an error count, not a hot spin.
                await Task.Delay(10, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Deadline or Ctrl+C.
        }
    }

    public static void Print(PublishReport r, TextWriter output)
    {
        var table = new ConsoleTable($"publish: {r.Publishers} publisher(s), topic {r.Topic}, {r.PayloadBytes} B padding, {r.DurationSeconds}s (+{r.WarmupSeconds}s warmup) -> {r.Run.Url}")
            .Add("inline socket completions", r.InlineSocketCompletions ? "yes" : "no")
            .Add("window s", r.WindowSeconds, 2)
            .Add("events acked", r.Events)
            .Add("events/s", r.EventsPerSecond, 0)
            .Add("errors", r.Errors)
            .AddLatency("ack", r.AckLatency)
            .AddCpu(r.Cpu);
        table.Write(output);
        foreach (var (message, count) in r.ErrorMessages)
        {
            output.WriteLine($"  error x{count}: {message}");
        }
    }

    internal static void Progress(string message) =>
        Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
}
