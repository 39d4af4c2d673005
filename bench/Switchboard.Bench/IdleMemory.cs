using System.Diagnostics;
using System.Globalization;

namespace Switchboard.Bench;

/// <summary>Server memory cost of idle WebSocket connections (ws-fanout --idle-memory).</summary>
internal sealed record IdleMemoryReport(
    int Connections,
    double IdleSeconds,
    int WarmupConnections,
    long RssBeforeKiB,
    long RssAfterIdleKiB,
    long? RssAfterGcKiB,
    double RssPerConnectionKiB,
    double? RssPerConnectionAfterGcKiB,
    long RssAnonBeforeKiB,
    long RssAnonAfterIdleKiB,
    double? ManagedHeapBeforeMB,
    double? ManagedHeapAfterMB,
    double? ManagedHeapPerConnectionKiB,
    int ThreadsBefore,
    int ThreadsAfter,
    long? KernelTcpMemoryBeforeKiB,
    long? KernelTcpMemoryAfterKiB,
    string? Note)
{
    /// <summary>Server CPU (cores) over the idle wait, all connections open and nothing published.</summary>
    public double? IdleServerCores { get; init; }

    /// <summary>Connections open at the midpoint measurement (the first half), when there was one.</summary>
    public int? MidConnections { get; init; }

    /// <summary>RSS after a forced GC at the midpoint.</summary>
    public long? RssMidAfterGcKiB { get; init; }

    /// <summary>
    /// (RSS after GC at the end − at the midpoint) / the connections opened in between: the cost of one more
    /// connection, without the one-time costs the baseline figure spreads over all of them.
    /// </summary>
    public double? MarginalRssPerConnectionAfterGcKiB { get; init; }

    /// <summary>The managed heap's growth per connection between the midpoint and the end, both after a forced GC.</summary>
    public double? MarginalManagedHeapPerConnectionKiB { get; init; }
}

/// <summary>
/// Procedure: warm the server up with a few connections and events, force a full GC and wait for a
/// stable RSS (baseline); open the first half of the N subscribers, let them idle, force a GC and read RSS
/// (the midpoint); then, once all N are open and idle, read RSS again ((after - before) / N), force another
/// GC and read it once more plus the managed heap. The marginal figure, (end - midpoint) / (N - N/2), is the
/// cost of one more connection. Forced GCs go through the diagnostics IPC (see <see cref="ServerProbe"/>); without it
/// the numbers are RSS only.
/// </summary>
internal sealed class IdleMemoryProbe(int pid)
{
    private const int SampleMillis = 200;

    private ProcMemory _before;
    private double? _heapBefore;
    private (int Connections, long RssKiB, double? HeapMB)? _mid;
    private long? _kernelBefore;
    private readonly List<string> _notes = [];

    public async Task MeasureBaselineAsync(CancellationToken ct)
    {
        var (heap, problem) = await ServerProbe.CollectGarbageAndReadHeapAsync(pid, ct);
        Note(problem);
        _heapBefore = heap;
        _before = await SettleAsync(ct);
        _kernelBefore = ServerProbe.KernelTcpMemoryKiB();
        Progress($"idle-memory: baseline RSS {_before.RssKiB / 1024.0:0.0} MiB, managed heap {Mb(heap)} (after a forced GC), {_before.Threads} threads");
    }

    /// <summary>
    /// The first half's point: the same idle wait as at the end (so its heartbeats have run), a forced GC, a settled RSS.
    /// </summary>
    public async Task MeasureMidpointAsync(int connections, double idleSeconds, CancellationToken ct)
    {
        Progress($"idle-memory: midpoint, {connections} connection(s) open; idling {idleSeconds}s");
        await Task.Delay(TimeSpan.FromSeconds(idleSeconds), ct);
        var (heap, problem) = await ServerProbe.CollectGarbageAndReadHeapAsync(pid, ct);
        Note(problem);
        if (problem is null)
        {
            _mid = (connections, (await SettleAsync(ct)).RssKiB, heap);
            Progress($"idle-memory: midpoint RSS {_mid.Value.RssKiB / 1024.0:0.0} MiB after GC, managed heap {Mb(heap)}");
        }
    }

    public async Task<IdleMemoryReport> MeasureIdleAsync(int connections, double idleSeconds, int warmupConnections, CancellationToken ct)
    {
        Progress($"idle-memory: {connections} connection(s) open; idling {idleSeconds}s");
        var cpuStart = ServerProbe.ReadCpuTime(pid);
        var idleWatch = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(idleSeconds), ct);
        var cpuEnd = ServerProbe.ReadCpuTime(pid);
        double? idleCores = cpuStart is { } c0 && cpuEnd is { } c1 && idleSeconds > 0
            ? Math.Round((c1 - c0).TotalSeconds / idleWatch.Elapsed.TotalSeconds, 4) : null;
        var idle = await SettleAsync(ct);
        var kernelAfter = ServerProbe.KernelTcpMemoryKiB();
        var (heapAfter, problem) = await ServerProbe.CollectGarbageAndReadHeapAsync(pid, ct);
        Note(problem);
        ProcMemory? afterGc = problem is null ? await SettleAsync(ct) : null;

        double PerConnection(long after) => Math.Round((after - _before.RssKiB) / (double)connections, 2);
        var report = new IdleMemoryReport(
            connections,
            idleSeconds,
            warmupConnections,
            _before.RssKiB,
            idle.RssKiB,
            afterGc?.RssKiB,
            PerConnection(idle.RssKiB),
            afterGc is { } gc ? PerConnection(gc.RssKiB) : null,
            _before.RssAnonKiB,
            idle.RssAnonKiB,
            _heapBefore,
            heapAfter,
            _heapBefore is { } h0 && heapAfter is { } h1 ? Math.Round((h1 - h0) * 1e6 / 1024 / connections, 2) : null,
            _before.Threads,
            idle.Threads,
            _kernelBefore,
            kernelAfter,
            _notes.Count == 0 ? null : string.Join("; ", _notes.Distinct()))
        {
            IdleServerCores = idleCores,
        };
        if (_mid is { } mid && afterGc is { } end && connections > mid.Connections)
        {
            var added = connections - mid.Connections;
            report = report with
            {
                MidConnections = mid.Connections,
                RssMidAfterGcKiB = mid.RssKiB,
                MarginalRssPerConnectionAfterGcKiB = Math.Round((end.RssKiB - mid.RssKiB) / (double)added, 2),
                MarginalManagedHeapPerConnectionKiB = mid.HeapMB is { } m0 && heapAfter is { } m1 ? Math.Round((m1 - m0) * 1e6 / 1024 / added, 2) : null,
            };
        }

        Progress(string.Create(CultureInfo.InvariantCulture,
            $"idle-memory: RSS {idle.RssKiB / 1024.0:0.0} MiB idle, {afterGc?.RssKiB / 1024.0:0.0} MiB after GC; {report.RssPerConnectionKiB:0.00} KiB/connection (idle), {report.MarginalRssPerConnectionAfterGcKiB:0.00} KiB marginal after GC, managed heap {Mb(heapAfter)}, idle cpu {idleCores:0.000} cores"));
        return report;
    }

    /// <summary>Samples RSS until the last 2 s vary by at most 1% (or 256 KiB), at most 15 s; returns the last sample.</summary>
    private async Task<ProcMemory> SettleAsync(CancellationToken ct)
    {
        var window = new Queue<long>();
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var m = ServerProbe.ReadMemory(pid) ?? throw new InvalidOperationException($"cannot read /proc/{pid}/status (server gone?)");
            window.Enqueue(m.RssKiB);
            if (window.Count > 2000 / SampleMillis)
            {
                window.Dequeue();
                var spread = window.Max() - window.Min();
                if (spread <= Math.Max(256, m.RssKiB / 100))
                {
                    return m;
                }
            }

            if (watch.Elapsed.TotalSeconds > 15)
            {
                Note("RSS did not settle within 15 s; took the last sample");
                return m;
            }

            await Task.Delay(SampleMillis, ct);
        }
    }

    private void Note(string? problem)
    {
        if (problem is not null)
        {
            _notes.Add(problem);
            Progress("idle-memory: " + problem);
        }
    }

    private static string Mb(double? mb) => mb is { } v ? v.ToString("0.0 MB", CultureInfo.InvariantCulture) : "n/a";

    private static void Progress(string message) => PublishBenchmark.Progress(message);
}
