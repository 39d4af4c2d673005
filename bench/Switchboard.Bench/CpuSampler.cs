using System.Diagnostics;

namespace Switchboard.Bench;

/// <summary>CPU used during the measurement window, in cores (1.0 = one core fully busy).</summary>
internal sealed record CpuUsage(double BenchCores, double? ServerCores);

/// <summary>
/// Samples process CPU time at the window edges. On a 2-core box the bench competes with the server,
/// so a result is only meaningful alongside how much CPU each side actually got.
/// </summary>
internal static class CpuSampler
{
    public static async Task<CpuUsage?> MeasureAsync(MeasurementWindow window, int? serverPid, CancellationToken ct)
    {
        try
        {
            await DelayUntilAsync(window.Start, ct);
            var wallStart = Stopwatch.GetTimestamp();
            var benchStart = Environment.CpuUsage.TotalTime;
            var serverStart = ServerCpu(serverPid);

            await DelayUntilAsync(window.End, ct);
            var wall = Stopwatch.GetElapsedTime(wallStart).TotalSeconds;
            var bench = (Environment.CpuUsage.TotalTime - benchStart).TotalSeconds;
            var serverEnd = ServerCpu(serverPid);
            double? server = serverStart is { } s0 && serverEnd is { } s1 ? Math.Round((s1 - s0).TotalSeconds / wall, 3) : null;
            return new CpuUsage(Math.Round(bench / wall, 3), server);
        }
        catch (OperationCanceledException)
        {
            return null;
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
            // Server gone or not ours to inspect: report bench CPU only.
            return null;
        }
    }

    private static async Task DelayUntilAsync(long timestamp, CancellationToken ct)
    {
        var remaining = timestamp - Stopwatch.GetTimestamp();
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(remaining / (double)Stopwatch.Frequency), ct);
        }
    }
}
