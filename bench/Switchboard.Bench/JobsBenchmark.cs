using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Switchboard.Bench;

internal sealed record JobsOptions(
    Uri BaseUrl,
    string Type,
    int Workers,
    int Submitters,
    int MaxOutstanding,
    int ClaimWaitSeconds,
    double DurationSeconds,
    double WarmupSeconds,
    double DrainSeconds,
    int VerifySample,
    int? ServerPid,
    TimeSpan RequestTimeout,
    bool CompleteWithClaim,
    double Rate)
{
    public const string Mode = "jobs";

    public static JobsOptions From(CliArgs args) => new(
        args.GetBaseUrl(),
        args.GetString("type", "bench.noop"),
        args.GetInt("workers", 8, 1, 1024),
        args.GetInt("submitters", 4, 1, 256),
        args.GetInt("max-outstanding", 64, 1, 1_000_000),
        args.GetInt("claim-wait", 30, 0, 60),
        args.GetDouble("duration", 10, 0.1, 3600),
        args.GetDouble("warmup", 2, 0, 600),
        args.GetDouble("drain", 30, 0, 600),
        args.GetInt("verify-sample", 0, 0, 10_000_000),
        args.GetOptionalInt("server-pid"),
        TimeSpan.FromSeconds(args.GetDouble("request-timeout", 75, 1, 600)),
        args.GetString("worker-loop", "combined") switch
        {
            "combined" => true,
            "separate" => false,
            var other => throw new ArgumentException($"--worker-loop must be combined or separate, not {other}"),
        },
        args.GetDouble("rate", 0, 0, 1_000_000));
}

internal sealed record JobsReport(
    RunInfo Run,
    string Type,
    bool InlineSocketCompletions,
    string WorkerLoop,
    int Workers,
    int Submitters,
    int MaxOutstanding,
    double OfferedRate,
    double WarmupSeconds,
    double DurationSeconds,
    double WindowSeconds,
    long Submitted,
    long SubmitErrors,
    long CompletedInWindow,
    double CompletedPerSecond,
    long Completed,
    long NeverCompleted,
    long CompletedMoreThanOnce,
    long ClaimsEmpty,
    long WorkerErrors,
    bool Drained,
    double DrainSeconds,
    long Verified,
    long VerifiedSucceeded,
    long VerifiedBadStatus,
    long VerifiedRetried,
    LatencySummary SubmitToCompleteLatency,
    LatencySummary SubmitLatency,
    LatencySummary SendLateness,
    LatencySummary ClaimLatency,
    LatencySummary CompleteLatency,
    CpuUsage? Cpu,
    double? ServerCpuMicrosPerJob,
    Dictionary<string, long> ErrorMessages);

/// <summary>
/// End-to-end job throughput: submitter loops POST /v1/jobs (at most the max-outstanding option's jobs submitted but not
/// completed), worker loops claim with a long poll and complete at once (no-op work). Each job's input carries
/// the submitter's Stopwatch timestamp, so the worker measures submit-to-complete latency when its complete is
/// answered. After the drain every submitted id must have been completed exactly once, and the hub's own view
/// of (a sample of) them is read back: status succeeded, one attempt.
/// </summary>
internal static class JobsBenchmark
{
    private sealed class State(JobsOptions o)
    {
        public SemaphoreSlim Outstanding { get; } = new(o.MaxOutstanding, o.MaxOutstanding);

        /// <summary>Submitted job id to the number of completes the hub answered 200 for it.</summary>
        public ConcurrentDictionary<string, int> Jobs { get; } = new(StringComparer.Ordinal);

        public LatencyRecorder[] SubmitLatency { get; } = [.. Enumerable.Range(0, o.Submitters).Select(_ => new LatencyRecorder(8192))];

        /// <summary>With --rate: how late each submit went out after it was due (the bench's own scheduling, not the hub).</summary>
        public LatencyRecorder[] SendLateness { get; } = [.. Enumerable.Range(0, o.Submitters).Select(_ => new LatencyRecorder(8192))];

        public LatencyRecorder[] EndToEnd { get; } = [.. Enumerable.Range(0, o.Workers).Select(_ => new LatencyRecorder(8192))];

        public LatencyRecorder[] ClaimLatency { get; } = [.. Enumerable.Range(0, o.Workers).Select(_ => new LatencyRecorder(8192))];

        public LatencyRecorder[] CompleteLatency { get; } = [.. Enumerable.Range(0, o.Workers).Select(_ => new LatencyRecorder(8192))];

        public long Submitted;
        public long Completed;
        public long CompletedInWindow;
        public long ClaimsEmpty;
        public long WorkerErrors;
        public long SubmitErrors;
    }

    public static async Task<JobsReport> RunAsync(JobsOptions o, CancellationToken cancellationToken)
    {
        var run = RunInfo.Capture(JobsOptions.Mode, o.BaseUrl);
        var errors = new ErrorTally();
        var window = new MeasurementWindow();
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        runCts.CancelAfter(TimeSpan.FromSeconds(o.WarmupSeconds + o.DurationSeconds + o.DrainSeconds + 120) + o.RequestTimeout);
        using var workersCts = CancellationTokenSource.CreateLinkedTokenSource(runCts.Token);
        using var client = BenchHttp.CreateClient(o.Workers + o.Submitters + 8, o.RequestTimeout);
        var state = new State(o);

        var start = Stopwatch.GetTimestamp();
        window.Open(
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds),
            start + MeasurementWindow.SecondsToTicks(o.WarmupSeconds + o.DurationSeconds));
        Progress($"jobs: {o.Submitters} submitter(s), {o.Workers} worker(s) on type {o.Type}, at most {o.MaxOutstanding} outstanding, warmup {o.WarmupSeconds}s, measure {o.DurationSeconds}s");
        var cpuTask = CpuSampler.MeasureAsync(window, o.ServerPid, runCts.Token);
        var workers = Enumerable.Range(0, o.Workers)
            .Select(i => Task.Run(() => WorkerLoopAsync(i, o, client, state, window, errors, workersCts.Token), CancellationToken.None))
            .ToArray();
        await Task.WhenAll(Enumerable.Range(0, o.Submitters)
            .Select(i => Task.Run(() => SubmitLoopAsync(i, o, client, state, window, errors, runCts.Token), CancellationToken.None)));
        var cpu = await cpuTask;

        // Drain: every submitted job must come back through a worker.
        var drain = Stopwatch.StartNew();
        while (Interlocked.Read(ref state.Completed) < Interlocked.Read(ref state.Submitted) && drain.Elapsed.TotalSeconds < o.DrainSeconds && !runCts.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None);
        }

        var drained = Interlocked.Read(ref state.Completed) >= Interlocked.Read(ref state.Submitted);
        var drainSeconds = drain.Elapsed.TotalSeconds;
        Progress($"jobs: {Interlocked.Read(ref state.Completed)}/{Interlocked.Read(ref state.Submitted)} completed after a {drainSeconds:0.00}s drain");
        // Give a late duplicate claim a moment to show up before the workers stop.
        await Task.Delay(500, CancellationToken.None);
        await workersCts.CancelAsync();
        await Task.WhenAll(workers);

        long never = 0, twice = 0;
        foreach (var count in state.Jobs.Values)
        {
            if (count == 0)
            {
                never++;
            }
            else if (count > 1)
            {
                twice++;
            }
        }

        var (verified, succeeded, badStatus, retried) = await VerifyAsync(o, client, state, errors, runCts.Token);
        var seconds = window.Seconds;
        var inWindow = Interlocked.Read(ref state.CompletedInWindow);
        return new JobsReport(
            run,
            o.Type,
            BenchHttp.InlineSocketCompletions,
            o.CompleteWithClaim ? "combined" : "separate",
            o.Workers,
            o.Submitters,
            o.MaxOutstanding,
            o.Rate,
            o.WarmupSeconds,
            o.DurationSeconds,
            Math.Round(seconds, 3),
            Interlocked.Read(ref state.Submitted),
            Interlocked.Read(ref state.SubmitErrors),
            inWindow,
            Math.Round(inWindow / seconds, 1),
            Interlocked.Read(ref state.Completed),
            never,
            twice,
            Interlocked.Read(ref state.ClaimsEmpty),
            Interlocked.Read(ref state.WorkerErrors),
            drained,
            Math.Round(drainSeconds, 3),
            verified,
            succeeded,
            badStatus,
            retried,
            LatencySummary.FromRecorders(state.EndToEnd),
            LatencySummary.FromRecorders(state.SubmitLatency),
            LatencySummary.FromRecorders(state.SendLateness),
            LatencySummary.FromRecorders(state.ClaimLatency),
            LatencySummary.FromRecorders(state.CompleteLatency),
            cpu,
            cpu?.ServerCores is { } cores && inWindow > 0 ? Math.Round(cores * seconds * 1e6 / inWindow, 1) : null,
            errors.Snapshot());
    }

    private static async Task SubmitLoopAsync(int index, JobsOptions o, HttpClient client, State state, MeasurementWindow window, ErrorTally errors, CancellationToken ct)
    {
        var uri = new Uri(o.BaseUrl, "v1/jobs");
        var n = 0L;
        // With --rate, an open loop: each submitter sends at its share of the rate, whatever the answers take. A job's
        // latency counts from when it went out; how late the bench's own timer sent it is reported on its own, since
        // on these shared cores that lateness is the bench's scheduling (a submit is never held back by the hub: the
        // outstanding cap is far above what a fixed rate keeps in flight).
        var interval = o.Rate > 0 ? Stopwatch.Frequency * o.Submitters / o.Rate : 0;
        var due = (double)Stopwatch.GetTimestamp() + (interval * index / o.Submitters);
        try
        {
            while (Stopwatch.GetTimestamp() < window.End)
            {
                if (interval > 0)
                {
                    due += interval;
                    var ahead = due - Stopwatch.GetTimestamp();
                    if (ahead > 0)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(ahead / Stopwatch.Frequency), ct);
                    }
                }

                await state.Outstanding.WaitAsync(ct);
                if (Stopwatch.GetTimestamp() >= window.End)
                {
                    state.Outstanding.Release();
                    return;
                }

                var sent = Stopwatch.GetTimestamp();
                if (interval > 0 && window.Contains(sent))
                {
                    state.SendLateness[index].Record(Math.Max(0, sent - (long)due));
                }

                var body = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"type\":\"{o.Type}\",\"input\":{{\"t\":{sent},\"submitter\":{index},\"n\":{n++}}}}}"));
                string? id = null;
                string? error = null;
                try
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    using var response = await client.PostAsync(uri, content, ct);
                    var bytes = await response.Content.ReadAsByteArrayAsync(ct);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        using var doc = JsonDocument.Parse(bytes);
                        id = doc.RootElement.GetProperty("id").GetString();
                    }
                    else
                    {
                        error = $"submit: HTTP {(int)response.StatusCode} {Truncate(Encoding.UTF8.GetString(bytes))}";
                    }
                }
                catch (HttpRequestException ex)
                {
                    error = $"submit: {ex.HttpRequestError}: {ex.Message}";
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    error = "submit: request timed out";
                }

                if (id is null)
                {
                    errors.Add(error ?? "submit: no id");
                    Interlocked.Increment(ref state.SubmitErrors);
                    state.Outstanding.Release();
                    await Task.Delay(10, ct);
                    continue;
                }

                // A fast worker may already have completed it: never overwrite its count.
                state.Jobs.TryAdd(id, 0);
                Interlocked.Increment(ref state.Submitted);
                var acked = Stopwatch.GetTimestamp();
                if (window.Contains(acked))
                {
                    state.SubmitLatency[index].Record(acked - sent);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Deadline or Ctrl+C.
        }
    }

    /// <summary>
    /// One worker. With the combined loop (the default) each claim carries the completion of the job claimed before it,
    /// with <c>wait=0</c>, so the completion is answered at once; when that finds the queue empty the worker long-polls
    /// with a plain claim. The separate loop claims, then completes with its own request: three requests per job instead of two.
    /// </summary>
    private static async Task WorkerLoopAsync(int index, JobsOptions o, HttpClient client, State state, MeasurementWindow window, ErrorTally errors, CancellationToken ct)
    {
        var type = Uri.EscapeDataString(o.Type);
        var waitingClaim = new Uri(o.BaseUrl, $"v1/queues/{type}/claim?wait={o.ClaimWaitSeconds}");
        var immediateClaim = new Uri(o.BaseUrl, $"v1/queues/{type}/claim?wait=0");
        var worker = $"bench-{index}";
        var claimBody = Encoding.UTF8.GetBytes($"{{\"worker\":\"{worker}\"}}");
        HeldJob? held = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var sent = Stopwatch.GetTimestamp();
                var completing = held;
                var body = completing is { } c
                    ? Encoding.UTF8.GetBytes($"{{\"worker\":\"{worker}\",\"complete\":{{\"id\":\"{JsonEncodedText.Encode(c.Id)}\",\"leaseId\":\"{JsonEncodedText.Encode(c.LeaseId)}\",\"result\":{{\"ok\":true}}}}}}")
                    : claimBody;
                held = null;
                HeldJob? claimed;
                using (var content = new ByteArrayContent(body))
                {
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    using var response = await client.PostAsync(completing is null ? waitingClaim : immediateClaim, content, ct);
                    var bytes = await response.Content.ReadAsByteArrayAsync(ct);
                    if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.NoContent))
                    {
                        throw new InvalidDataException($"claim: HTTP {(int)response.StatusCode} {Truncate(Encoding.UTF8.GetString(bytes))}");
                    }

                    var answered = Stopwatch.GetTimestamp();
                    if (completing is { } finished)
                    {
                        Finished(index, finished, answered, state, window);
                    }

                    if (response.StatusCode == HttpStatusCode.NoContent)
                    {
                        if (completing is null)
                        {
                            Interlocked.Increment(ref state.ClaimsEmpty);
                        }

                        continue;
                    }

                    using var doc = JsonDocument.Parse(bytes);
                    var job = doc.RootElement.GetProperty("job");
                    claimed = new HeldJob(job.GetProperty("id").GetString()!, doc.RootElement.GetProperty("leaseId").GetString()!,
                        job.GetProperty("input").GetProperty("t").GetInt64(), sent, answered);
                    if (window.Contains(answered))
                    {
                        state.ClaimLatency[index].Record(answered - sent);
                    }
                }

                if (o.CompleteWithClaim)
                {
                    held = claimed;
                    continue;
                }

                await CompleteAsync(index, o, client, claimed, state, window, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidDataException or JsonException or KeyNotFoundException or OperationCanceledException)
            {
                errors.Add(ex is OperationCanceledException ? "worker: request timed out" : $"worker: {ex.Message}");
                Interlocked.Increment(ref state.WorkerErrors);
                try
                {
                    await Task.Delay(10, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        // Stopped while holding a job (only after the drain, so only a job a late duplicate claim gave out): complete it,
        // so the hub's view read back after the run is final.
        if (held is { } last)
        {
            using var stop = new CancellationTokenSource(o.RequestTimeout);
            try
            {
                await CompleteAsync(index, o, client, last, state, window, stop.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidDataException or OperationCanceledException)
            {
                errors.Add($"worker: the last complete failed: {ex.Message}");
                Interlocked.Increment(ref state.WorkerErrors);
            }
        }
    }

    private static async Task CompleteAsync(int index, JobsOptions o, HttpClient client, HeldJob job, State state, MeasurementWindow window, CancellationToken ct)
    {
        var completeBody = Encoding.UTF8.GetBytes($"{{\"leaseId\":\"{JsonEncodedText.Encode(job.LeaseId)}\",\"result\":{{\"ok\":true}}}}");
        using var content = new ByteArrayContent(completeBody);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync(new Uri(o.BaseUrl, $"v1/jobs/{Uri.EscapeDataString(job.Id)}/complete"), content, ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidDataException($"complete: HTTP {(int)response.StatusCode} {Truncate(Encoding.UTF8.GetString(bytes))}");
        }

        var done = Stopwatch.GetTimestamp();
        if (window.Contains(done))
        {
            state.CompleteLatency[index].Record(done - job.Claimed);
        }

        Finished(index, job, done, state, window);
    }

    /// <summary>Counts a job whose completion the hub answered at <paramref name="done"/>.</summary>
    private static void Finished(int index, HeldJob job, long done, State state, MeasurementWindow window)
    {
        state.Jobs.AddOrUpdate(job.Id, 1, (_, n) => n + 1);
        Interlocked.Increment(ref state.Completed);
        state.Outstanding.Release();
        if (window.Contains(done))
        {
            Interlocked.Increment(ref state.CompletedInWindow);
            state.EndToEnd[index].Record(done - job.Submitted);
        }
    }

    /// <summary>A claimed job a worker has not completed yet: its id, lease, submit timestamp, and when its claim was sent and answered.</summary>
    private sealed record HeldJob(string Id, string LeaseId, long Submitted, long ClaimSent, long Claimed);

    /// <summary>Reads every submitted job back (or a random sample of the verify-sample option's size): succeeded, claimed once.</summary>
    private static async Task<(long Verified, long Succeeded, long BadStatus, long Retried)> VerifyAsync(
        JobsOptions o, HttpClient client, State state, ErrorTally errors, CancellationToken ct)
    {
        var ids = state.Jobs.Keys.ToArray();
        if (o.VerifySample > 0 && o.VerifySample < ids.Length)
        {
            Random.Shared.Shuffle(ids);
            ids = ids[..o.VerifySample];
        }

        var watch = Stopwatch.StartNew();
        long verified = 0, succeeded = 0, bad = 0, retried = 0;
        try
        {
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (id, token) =>
            {
                using var response = await client.GetAsync(new Uri(o.BaseUrl, $"v1/jobs/{Uri.EscapeDataString(id)}"), token);
                var bytes = await response.Content.ReadAsByteArrayAsync(token);
                Interlocked.Increment(ref verified);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref bad);
                    errors.Add($"verify: HTTP {(int)response.StatusCode}");
                    return;
                }

                using var doc = JsonDocument.Parse(bytes);
                var status = doc.RootElement.GetProperty("status").GetString();
                if (status == "succeeded")
                {
                    Interlocked.Increment(ref succeeded);
                }
                else
                {
                    Interlocked.Increment(ref bad);
                    errors.Add($"verify: status {status}");
                }

                if (doc.RootElement.GetProperty("attempts").GetInt32() != 1)
                {
                    Interlocked.Increment(ref retried);
                }
            });
        }
        catch (HttpRequestException ex)
        {
            errors.Add($"verify: {ex.Message}");
        }

        Progress($"jobs: read back {verified} job(s) in {watch.Elapsed.TotalSeconds:0.00}s");
        return (verified, succeeded, bad, retried);
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200];

    public static void Print(JobsReport r, TextWriter output)
    {
        var table = new ConsoleTable($"jobs: {r.Workers} worker(s), {r.Submitters} submitter(s), type {r.Type}, at most {r.MaxOutstanding} outstanding, {r.DurationSeconds}s (+{r.WarmupSeconds}s warmup) -> {r.Run.Url}")
            .Add("inline socket completions", r.InlineSocketCompletions ? "yes" : "no")
            .Add("worker loop", r.WorkerLoop == "combined" ? "combined (each claim completes the job before it)" : "separate (claim, then complete)")
            .Add("offered rate", r.OfferedRate > 0 ? $"{r.OfferedRate:0} jobs/s (open loop)" : "closed loop")
            .Add("window s", r.WindowSeconds, 2)
            .Add("completed in window", r.CompletedInWindow)
            .Add("jobs completed/s", r.CompletedPerSecond, 0)
            .Add("submitted (total)", r.Submitted)
            .Add("completed (total)", r.Completed)
            .Add("never completed", r.NeverCompleted)
            .Add("completed more than once", r.CompletedMoreThanOnce)
            .Add("submit errors", r.SubmitErrors)
            .Add("worker errors", r.WorkerErrors)
            .Add("empty claims (204)", r.ClaimsEmpty)
            .Add("drained", r.Drained ? $"yes ({r.DrainSeconds:0.00}s)" : $"NO ({r.DrainSeconds:0.00}s)")
            .Add("read back", r.Verified)
            .Add("read back succeeded", r.VerifiedSucceeded)
            .Add("read back not succeeded", r.VerifiedBadStatus)
            .Add("read back attempts != 1", r.VerifiedRetried)
            .AddLatency("submit->complete", r.SubmitToCompleteLatency)
            .AddLatency("submit ack", r.SubmitLatency)
            .AddLatency("submit sent late by (bench)", r.SendLateness)
            .AddLatency(r.WorkerLoop == "combined" ? "claim (with the completion)" : "claim", r.ClaimLatency)
            .AddLatency("complete", r.CompleteLatency)
            .AddCpu(r.Cpu)
            .Add("server cpu us/job", r.ServerCpuMicrosPerJob is { } us ? us.ToString("0.0", CultureInfo.InvariantCulture) : "-");
        table.Write(output);
        foreach (var (message, count) in r.ErrorMessages)
        {
            output.WriteLine($"  error x{count}: {message}");
        }
    }

    internal static void Progress(string message) =>
        Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
}
