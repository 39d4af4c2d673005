using System.Net;
using System.Net.Sockets;

namespace Switchboard.Bench;

internal static class Program
{
    private const string Usage = """
        Switchboard load tool (talks to a running server over HTTP only).

        usage:
          Switchboard.Bench publish --url U [--publishers N=1] [--duration S=10] [--warmup S=2]
                                    [--payload-bytes B=64] [--topic T=bench.pub] [--request-timeout S=30]
                                    [--nodes URL,URL (more nodes of the same hub: publisher i uses node i mod n)]
                                    [--health true (send GET /v1/health instead: the reference for a publish)]
          Switchboard.Bench fanout  --url U [--subscribers N=1000] [--rate R=200 (0 = max)] [--publishers P=4]
                                    [--duration S=10] [--warmup S=1] [--drain S=10] [--payload-bytes B=0]
                                    [--connect-timeout S=60] [--connect-concurrency C=64] [--topic T=bench.fan]
                                    [--client raw|http|longpoll (raw: socket + push parser; http: HttpClient + SseParser;
                                     longpoll: held GET /v1/events?wait= in a loop)]
                                    [--nodes URL,URL (more nodes of the same hub: subscriber i uses node i mod n; publishers --url)]
          Switchboard.Bench ws-fanout --url U [--subscribers N=1000] [--rate R=200 (0 = max)] [--publishers P=4]
                                    [--duration S=10] [--warmup S=1] [--drain S=10] [--payload-bytes B=0]
                                    [--connect-timeout S=60] [--connect-concurrency C=64] [--topic T=chat.bench]
                                    [--client raw|clientws (raw: socket + frame parser; clientws: ClientWebSocket)]
                                    [--receive-buffer B=8192] [--idle-memory [--idle-seconds S=5]] (needs --server-pid)
          Switchboard.Bench webhooks --url U [--endpoints N=100] [--topology shared|per-endpoint] [--topic T=bench.wh]
                                    [--rate R=0 (events/s; 0 = keep --max-outstanding deliveries queued)]
                                    [--max-outstanding D=endpoints*20] [--batch B=100] [--publishers P=4] [--duration S=10] [--warmup S=2]
                                    [--drain S=30] [--receiver-delay-ms MS=0] [--receiver-ports P=endpoints]
                                    [--max-in-flight M (server default)] [--verify-every K=1]
                                    (the server must allow loopback http targets: Switchboard__Webhooks__AllowedNetworks__0=127.0.0.0/8,
                                     Switchboard__Webhooks__AllowHttp=true)
          Switchboard.Bench jobs    --url U [--workers W=8] [--submitters S=4] [--max-outstanding M=64] [--type T=bench.noop]
                                    [--claim-wait S=30] [--duration S=10] [--warmup S=2] [--drain S=30]
                                    [--verify-sample N=0 (0 = read back every job)] [--request-timeout S=75]
          Switchboard.Bench config-herd --url U [--pollers N=5000] [--app A=bench-herd] [--wait S=60] [--settle S=3]
                                    [--answer-timeout S=30] [--connect-concurrency C=64]
          Switchboard.Bench selftest      check argument parsing, percentiles, SSE and WebSocket parsing offline
          Switchboard.Bench server-memory --server-pid PID   print a server's RSS, force a GC, print its managed heap
          Switchboard.Bench free-port     print a free loopback TCP port (used by bench/run.sh)

        common: [--results-dir DIR] (default: <repo>/bench/results); results are written as <mode>-<utc>.json
                [--server-pid PID] also report the server's CPU use during the window (and, for
                ws-fanout --idle-memory, its RSS per idle connection)
        """;

    public static async Task<int> Main(string[] args)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // First Ctrl+C stops the run gracefully (partial results); a second one kills the process.
            e.Cancel = !cts.IsCancellationRequested;
            cts.Cancel();
        };

        try
        {
            var cli = CliArgs.Parse(args);
            switch (cli.Mode)
            {
                case "help":
                    Console.WriteLine(Usage);
                    return 0;

                case "publish":
                {
                    EnableInlineSocketCompletions();
                    var options = PublishOptions.From(cli);
                    var dir = cli.GetString("results-dir", ResultsWriter.DefaultDirectory());
                    cli.EnsureNoUnknownOptions();
                    var report = await PublishBenchmark.RunAsync(options, cts.Token);
                    PublishBenchmark.Print(report, Console.Out);
                    var path = await ResultsWriter.WriteAsync(dir, "publish", report, BenchJsonContext.Default.PublishReport, CancellationToken.None);
                    Console.WriteLine($"results: {path}");
                    // A run where nothing was acked is a failed benchmark, not a zero result.
                    return report.Events > 0 ? 0 : 1;
                }

                case FanoutOptions.SseMode or FanoutOptions.WebSocketMode:
                {
                    EnableInlineSocketCompletions();
                    var options = FanoutOptions.From(cli);
                    var dir = cli.GetString("results-dir", ResultsWriter.DefaultDirectory());
                    cli.EnsureNoUnknownOptions();
                    var report = await FanoutBenchmark.RunAsync(options, cts.Token);
                    FanoutBenchmark.Print(report, Console.Out);
                    var path = await ResultsWriter.WriteAsync(dir, options.Mode, report, BenchJsonContext.Default.FanoutReport, CancellationToken.None);
                    Console.WriteLine($"results: {path}");
                    return report.Delivered > 0 ? 0 : 1;
                }

                case WebhookOptions.Mode:
                {
                    EnableInlineSocketCompletions();
                    var options = WebhookOptions.From(cli);
                    var dir = cli.GetString("results-dir", ResultsWriter.DefaultDirectory());
                    cli.EnsureNoUnknownOptions();
                    var report = await WebhookBenchmark.RunAsync(options, cts.Token);
                    WebhookBenchmark.Print(report, Console.Out);
                    var path = await ResultsWriter.WriteAsync(dir, WebhookOptions.Mode, report, BenchJsonContext.Default.WebhookReport, CancellationToken.None);
                    Console.WriteLine($"results: {path}");
                    return report.DeliveredInWindow > 0 && report.SignaturesInvalid == 0 ? 0 : 1;
                }

                case JobsOptions.Mode:
                {
                    EnableInlineSocketCompletions();
                    var options = JobsOptions.From(cli);
                    var dir = cli.GetString("results-dir", ResultsWriter.DefaultDirectory());
                    cli.EnsureNoUnknownOptions();
                    var report = await JobsBenchmark.RunAsync(options, cts.Token);
                    JobsBenchmark.Print(report, Console.Out);
                    var path = await ResultsWriter.WriteAsync(dir, JobsOptions.Mode, report, BenchJsonContext.Default.JobsReport, CancellationToken.None);
                    Console.WriteLine($"results: {path}");
                    // Lost or doubly completed jobs fail the run, as does one where nothing completed.
                    return report.CompletedInWindow > 0 && report.NeverCompleted == 0 && report.CompletedMoreThanOnce == 0
                        && report.VerifiedBadStatus == 0 ? 0 : 1;
                }

                case ConfigHerdOptions.Mode:
                {
                    EnableInlineSocketCompletions();
                    var options = ConfigHerdOptions.From(cli);
                    var dir = cli.GetString("results-dir", ResultsWriter.DefaultDirectory());
                    cli.EnsureNoUnknownOptions();
                    var report = await ConfigHerdBenchmark.RunAsync(options, cts.Token);
                    ConfigHerdBenchmark.Print(report, Console.Out);
                    var path = await ResultsWriter.WriteAsync(dir, ConfigHerdOptions.Mode, report, BenchJsonContext.Default.ConfigHerdReport, CancellationToken.None);
                    Console.WriteLine($"results: {path}");
                    // Every poller must get the new version; the 2 s target is reported, not enforced.
                    return report.AnsweredNewVersion == report.Pollers ? 0 : 1;
                }

                case "selftest":
                    cli.EnsureNoUnknownOptions();
                    return await SelfTest.RunAsync(cts.Token);

                case "server-memory":
                {
                    // Spot check of a running server: RSS from /proc, then a forced GC and the managed heap.
                    var pid = cli.GetOptionalInt("server-pid") ?? throw new CliException("server-memory needs --server-pid");
                    cli.EnsureNoUnknownOptions();
                    var before = ServerProbe.ReadMemory(pid) ?? throw new InvalidOperationException($"cannot read /proc/{pid}/status");
                    var (heap, problem) = await ServerProbe.CollectGarbageAndReadHeapAsync(pid, cts.Token);
                    await Task.Delay(1000, cts.Token);
                    var after = ServerProbe.ReadMemory(pid);
                    Console.WriteLine($"server {pid}: RSS {before.RssKiB} KiB (anon {before.RssAnonKiB} KiB), {before.Threads} threads; "
                        + $"after a forced GC: RSS {after?.RssKiB} KiB, managed heap {(heap is { } h ? $"{h:0.0} MB" : problem)}");
                    return heap is null ? 1 : 0;
                }

                case "free-port":
                    cli.EnsureNoUnknownOptions();
                    Console.WriteLine(FreeLoopbackPort());
                    return 0;

                default:
                    throw new CliException($"unknown mode '{cli.Mode}'");
            }
        }
        catch (CliException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}\n\n{Usage}");
            return 2;
        }
        catch (InvalidOperationException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or the run's own deadline before any result existed.
            await Console.Error.WriteLineAsync("cancelled before a result was produced");
            return 130;
        }
    }

    /// <summary>
    /// Runs socket continuations on the runtime's epoll threads instead of hopping to the thread
    /// pool. Every continuation here is short and non-blocking, so the hop is pure overhead, and on
    /// this 2-core VM the pool's spin-waiting between hops cost more CPU than the work itself
    /// (publish x1: ~0.85 cores of bench CPU without, ~0.3 with) — CPU taken from the server being
    /// measured. The runtime reads the variable once, at the first async socket operation, so it is
    /// set before any connection exists. An explicit setting from the caller wins.
    /// </summary>
    private static void EnableInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(BenchHttp.InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(BenchHttp.InlineCompletionsVariable, "1");
        }
    }

    /// <summary>Binds port 0 and releases it; racy in theory, fine for picking a bench server port.</summary>
    internal static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
