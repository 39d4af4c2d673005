using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Switchboard.Bench;

internal sealed record ConfigHerdOptions(
    Uri BaseUrl,
    string App,
    int Pollers,
    int WaitSeconds,
    double SettleSeconds,
    double AnswerTimeoutSeconds,
    int ConnectConcurrency,
    int? ServerPid,
    TimeSpan RequestTimeout)
{
    public const string Mode = "config-herd";

    public static ConfigHerdOptions From(CliArgs args) => new(
        args.GetBaseUrl(),
        args.GetString("app", "bench-herd"),
        args.GetInt("pollers", 5000, 1, 100_000),
        args.GetInt("wait", 60, 1, 3600),
        args.GetDouble("settle", 3, 0, 60),
        args.GetDouble("answer-timeout", 30, 1, 600),
        args.GetInt("connect-concurrency", 64, 1, 4096),
        args.GetOptionalInt("server-pid"),
        TimeSpan.FromSeconds(args.GetDouble("request-timeout", 30, 0.1, 600)));
}

internal sealed record ConfigHerdReport(
    RunInfo Run,
    string App,
    bool InlineSocketCompletions,
    int Pollers,
    int WaitSeconds,
    double SettleSeconds,
    double ConnectSeconds,
    int Held,
    int ConnectErrors,
    int AnsweredBeforeChange,
    long VersionBefore,
    long VersionAfter,
    double PutMs,
    int Answered,
    int AnsweredNewVersion,
    int AnsweredOtherStatus,
    int AnsweredWrongVersion,
    int Unanswered,
    double? FirstMs,
    double? P50Ms,
    double? P90Ms,
    double? P99Ms,
    double? LastMs,
    int AnsweredWithin2s,
    CpuUsage? Cpu,
    Dictionary<string, long> ErrorMessages);

/// <summary>
/// Config long-poll fan-out: N raw-socket pollers hold <c>GET /v1/config/{app}?version=V&amp;wait=W</c>, then one
/// <c>PUT /v1/config/{app}</c> changes the settings, and each poller's answer time is taken from the moment the PUT
/// was sent: first, p50, p99 and last, and whether every poller got the new version.
/// </summary>
internal static class ConfigHerdBenchmark
{
    /// <summary>One held long poll on its own socket; its fields are written by its own receive loop only.</summary>
    private sealed class Poller
    {
        public Socket? Socket;
        public long AnsweredAt;
        public int Status;
        public long Version = -1;
        public string? Error;
    }

    public static async Task<ConfigHerdReport> RunAsync(ConfigHerdOptions o, CancellationToken cancellationToken)
    {
        var run = RunInfo.Capture(ConfigHerdOptions.Mode, o.BaseUrl);
        var errors = new ErrorTally();
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        runCts.CancelAfter(TimeSpan.FromSeconds(o.WaitSeconds + o.AnswerTimeoutSeconds + 180));
        var ct = runCts.Token;
        using var client = BenchHttp.CreateClient(2, o.RequestTimeout);
        var configUri = new Uri(o.BaseUrl, $"v1/config/{Uri.EscapeDataString(o.App)}");

        var before = await PutAsync(client, configUri, "before", ct);
        Progress($"config-herd: {o.App} at version {before.Version}; opening {o.Pollers} long polls (wait={o.WaitSeconds})");

        var pollers = new Poller[o.Pollers];
        var request = Encoding.ASCII.GetBytes(
            $"GET {configUri.PathAndQuery}?version={before.Version}&wait={o.WaitSeconds} HTTP/1.1\r\nHost: {o.BaseUrl.Authority}\r\nAccept: application/json\r\n\r\n");
        var host = o.BaseUrl.Host;
        var port = o.BaseUrl.Port;
        var gate = new SemaphoreSlim(o.ConnectConcurrency, o.ConnectConcurrency);
        var connectWatch = Stopwatch.StartNew();
        var receives = new Task[o.Pollers];
        var connectErrors = 0;
        for (var i = 0; i < o.Pollers; i++)
        {
            await gate.WaitAsync(ct);
            var poller = pollers[i] = new Poller();
            receives[i] = Task.Run(async () =>
            {
                var released = false;
                try
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    poller.Socket = socket;
                    await socket.ConnectAsync(host, port, ct);
                    await socket.SendAsync(request, SocketFlags.None, ct);
                    gate.Release();
                    released = true;
                    await ReceiveAsync(poller, socket, ct);
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException or InvalidDataException or ObjectDisposedException)
                {
                    poller.Error ??= ex is OperationCanceledException or ObjectDisposedException ? "no answer before the bench stopped" : ex.Message;
                    if (!released)
                    {
                        Interlocked.Increment(ref connectErrors);
                    }
                }
                finally
                {
                    if (!released)
                    {
                        gate.Release();
                    }
                }
            }, CancellationToken.None);
        }

        // Every request is written once the gate is whole again.
        for (var i = 0; i < o.ConnectConcurrency; i++)
        {
            await gate.WaitAsync(ct);
        }

        var connectSeconds = connectWatch.Elapsed.TotalSeconds;
        Progress($"config-herd: {o.Pollers} requests sent in {connectSeconds:0.00}s ({connectErrors} connect errors); settling {o.SettleSeconds}s");
        await Task.Delay(TimeSpan.FromSeconds(o.SettleSeconds), ct);
        var early = pollers.Count(p => Volatile.Read(ref p.AnsweredAt) != 0);
        var held = pollers.Count(p => Volatile.Read(ref p.AnsweredAt) == 0 && p.Error is null);
        if (early > 0)
        {
            Progress($"config-herd: {early} poll(s) answered before the change (should be held)");
        }

        if (connectSeconds + o.SettleSeconds > o.WaitSeconds * 0.8)
        {
            Progress($"config-herd: warning: connecting and settling took {connectSeconds + o.SettleSeconds:0.0}s of the {o.WaitSeconds}s hold");
        }

        // The change. Answers are timed from the moment the PUT is sent.
        var serverCpu0 = ServerCpu(o.ServerPid);
        var benchCpu0 = Environment.CpuUsage.TotalTime;
        var putSent = Stopwatch.GetTimestamp();
        var after = await PutAsync(client, configUri, "after", ct);
        var putMs = Stopwatch.GetElapsedTime(putSent).TotalMilliseconds;
        Progress($"config-herd: PUT answered version {after.Version} in {putMs:0.0} ms; waiting for the answers");

        var deadline = Stopwatch.GetTimestamp() + MeasurementWindow.SecondsToTicks(o.AnswerTimeoutSeconds);
        while (Stopwatch.GetTimestamp() < deadline && pollers.Any(p => Volatile.Read(ref p.AnsweredAt) == 0 && p.Error is null))
        {
            await Task.Delay(10, ct);
        }

        var wall = Stopwatch.GetElapsedTime(putSent).TotalSeconds;
        var serverCpu1 = ServerCpu(o.ServerPid);
        var benchCpu = (Environment.CpuUsage.TotalTime - benchCpu0).TotalSeconds;
        var cpu = new CpuUsage(Math.Round(benchCpu / wall, 3),
            serverCpu0 is { } s0 && serverCpu1 is { } s1 ? Math.Round((s1 - s0).TotalSeconds / wall, 3) : null);

        foreach (var p in pollers)
        {
            p.Socket?.Dispose();
        }

        await Task.WhenAll(receives);

        var latencies = new List<long>(o.Pollers);
        int answered = 0, newVersion = 0, otherStatus = 0, wrongVersion = 0, unanswered = 0;
        foreach (var p in pollers)
        {
            if (p.AnsweredAt == 0)
            {
                unanswered++;
                errors.Add($"unanswered: {p.Error ?? "no answer"}");
                continue;
            }

            if (p.AnsweredAt < putSent)
            {
                errors.Add($"answered before the change: HTTP {p.Status}");
                continue;
            }

            answered++;
            latencies.Add(p.AnsweredAt - putSent);
            if (p.Status != 200)
            {
                otherStatus++;
                errors.Add($"answered HTTP {p.Status}");
            }
            else if (p.Version == after.Version)
            {
                newVersion++;
            }
            else
            {
                wrongVersion++;
                errors.Add($"answered version {p.Version}, expected {after.Version}");
            }
        }

        var ticks = latencies.ToArray();
        Array.Sort(ticks);
        var within2s = ticks.Count(t => t <= MeasurementWindow.SecondsToTicks(2));
        double? Pct(double pct) => ticks.Length == 0 ? null : LatencySummary.ToMs(LatencySummary.Percentile(ticks, pct));
        return new ConfigHerdReport(
            run,
            o.App,
            BenchHttp.InlineSocketCompletions,
            o.Pollers,
            o.WaitSeconds,
            o.SettleSeconds,
            Math.Round(connectSeconds, 3),
            held,
            connectErrors,
            early,
            before.Version,
            after.Version,
            Math.Round(putMs, 3),
            answered,
            newVersion,
            otherStatus,
            wrongVersion,
            unanswered,
            ticks.Length == 0 ? null : LatencySummary.ToMs(ticks[0]),
            Pct(50),
            Pct(90),
            Pct(99),
            ticks.Length == 0 ? null : LatencySummary.ToMs(ticks[^1]),
            within2s,
            cpu,
            errors.Snapshot());
    }

    private readonly record struct PutResult(long Version);

    private static async Task<PutResult> PutAsync(HttpClient client, Uri uri, string phase, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{{\"phase\":\"{phase}\",\"stamp\":{Stopwatch.GetTimestamp()},\"flag\":{{\"rollout\":50}}}}"));
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PutAsync(uri, content, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Created))
        {
            throw new InvalidOperationException($"PUT {uri} failed: HTTP {(int)response.StatusCode}: {text}");
        }

        using var doc = JsonDocument.Parse(text);
        return new PutResult(doc.RootElement.GetProperty("version").GetInt64());
    }

    /// <summary>Reads one HTTP/1.1 response (Content-Length or chunked) and records when it was complete.</summary>
    private static async Task ReceiveAsync(Poller poller, Socket socket, CancellationToken ct)
    {
        var buffer = new byte[4096];
        var used = 0;
        var headerEnd = -1;
        var contentLength = -1;
        var chunked = false;
        while (true)
        {
            if (used == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var n = await socket.ReceiveAsync(buffer.AsMemory(used), SocketFlags.None, ct);
            if (n == 0)
            {
                throw new InvalidDataException(used == 0 ? "server closed the connection without an answer" : "server closed the connection mid-answer");
            }

            used += n;
            if (headerEnd < 0)
            {
                headerEnd = buffer.AsSpan(0, used).IndexOf("\r\n\r\n"u8);
                if (headerEnd < 0)
                {
                    continue;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, headerEnd);
                var lines = head.Split("\r\n");
                var status = lines[0].Split(' ');
                poller.Status = status.Length > 1 && int.TryParse(status[1], CultureInfo.InvariantCulture, out var code) ? code : -1;
                foreach (var line in lines.Skip(1))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0)
                    {
                        continue;
                    }

                    var name = line[..colon].Trim();
                    var value = line[(colon + 1)..].Trim();
                    if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase))
                    {
                        contentLength = int.Parse(value, CultureInfo.InvariantCulture);
                    }
                    else if (name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                    {
                        chunked = true;
                    }
                }

                headerEnd += 4;
                if (!chunked && contentLength < 0)
                {
                    contentLength = 0; // 304 and other bodiless answers
                }
            }

            var complete = chunked
                ? buffer.AsSpan(headerEnd, used - headerEnd).EndsWith("0\r\n\r\n"u8)
                : used - headerEnd >= contentLength;
            if (!complete)
            {
                continue;
            }

            Volatile.Write(ref poller.AnsweredAt, Stopwatch.GetTimestamp());
            var body = Encoding.UTF8.GetString(buffer, headerEnd, used - headerEnd);
            var at = body.IndexOf("\"version\":", StringComparison.Ordinal);
            if (at >= 0)
            {
                var start = at + "\"version\":".Length;
                var end = start;
                while (end < body.Length && char.IsAsciiDigit(body[end]))
                {
                    end++;
                }

                poller.Version = long.Parse(body.AsSpan(start, end - start), CultureInfo.InvariantCulture);
            }

            return;
        }
    }

    private static TimeSpan? ServerCpu(int? pid)
    {
        if (pid is null)
        {
            return null;
        }

        try
        {
            using var process = Process.GetProcessById(pid.Value);
            return process.TotalProcessorTime;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    public static void Print(ConfigHerdReport r, TextWriter output)
    {
        static string Ms(double? v) => v is null ? "-" : v.Value.ToString("0.0", CultureInfo.InvariantCulture);

        var table = new ConsoleTable($"config-herd: {r.Pollers} long polls on {r.App} (wait={r.WaitSeconds}), one PUT -> {r.Run.Url}")
            .Add("inline socket completions", r.InlineSocketCompletions ? "yes" : "no")
            .Add("connect + send s", r.ConnectSeconds, 2)
            .Add("connect errors", r.ConnectErrors)
            .Add("held at the change", r.Held)
            .Add("answered before the change", r.AnsweredBeforeChange)
            .Add("version before -> after", $"{r.VersionBefore} -> {r.VersionAfter}")
            .Add("PUT ms", Ms(r.PutMs))
            .Add("answered", r.Answered)
            .Add("answered with the new version", r.AnsweredNewVersion)
            .Add("answered other status", r.AnsweredOtherStatus)
            .Add("answered wrong version", r.AnsweredWrongVersion)
            .Add("unanswered", r.Unanswered)
            .Add("first ms (from PUT sent)", Ms(r.FirstMs))
            .Add("p50 ms", Ms(r.P50Ms))
            .Add("p90 ms", Ms(r.P90Ms))
            .Add("p99 ms", Ms(r.P99Ms))
            .Add("last ms", Ms(r.LastMs))
            .Add("answered within 2 s", r.AnsweredWithin2s)
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
