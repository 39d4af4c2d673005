using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Switchboard.Bench;

/// <summary>Context every result file carries so numbers from different machines are not compared blindly.</summary>
internal sealed record RunInfo(
    string Mode,
    string Url,
    DateTimeOffset StartedAtUtc,
    int ProcessorCount,
    string Os,
    string Runtime)
{
    public static RunInfo Capture(string mode, Uri url) => new(
        mode,
        url.ToString(),
        DateTimeOffset.UtcNow,
        Environment.ProcessorCount,
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription);
}

internal sealed record PublishReport(
    RunInfo Run,
    string Topic,
    bool InlineSocketCompletions,
    int Publishers,
    double WarmupSeconds,
    double DurationSeconds,
    int PayloadBytes,
    double WindowSeconds,
    long Events,
    double EventsPerSecond,
    long Errors,
    LatencySummary AckLatency,
    CpuUsage? Cpu,
    Dictionary<string, long> ErrorMessages);

internal sealed record FanoutReport(
    RunInfo Run,
    string Topic,
    string Client,
    bool InlineSocketCompletions,
    int Subscribers,
    int SubscribersReady,
    int SubscriberErrors,
    int Publishers,
    double TargetRate,
    double WarmupSeconds,
    double DurationSeconds,
    int PayloadBytes,
    double WindowSeconds,
    long Published,
    double PublishedPerSecond,
    long PublishErrors,
    long ExpectedDeliveries,
    long Delivered,
    double LossPercent,
    long DeliveredInWindow,
    double DeliveriesPerSecond,
    long MinDeliveredPerSubscriber,
    long MaxDeliveredPerSubscriber,
    long ControlFrames,
    bool Drained,
    double DrainSeconds,
    LatencySummary DeliveryLatency,
    LatencySummary PublishAckLatency,
    LatencySummary SubscribeLatency,
    CpuUsage? Cpu,
    double? BenchCpuMicrosPerDelivery,
    Dictionary<string, long> ErrorMessages,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IdleMemoryReport? IdleMemory = null)
{
    public string TopicMode { get; init; } = "one";

    public string Protocol { get; init; } = "switchboard";

    public int IdleSubscribers { get; init; }

    public int IdleSubscribersReady { get; init; }

    public string Shard { get; init; } = "0/1";

    public double? ServerCpuMicrosPerEvent { get; init; }

    public double? DeliveriesPerServerCoreSecond { get; init; }
}

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(PublishReport))]
[JsonSerializable(typeof(FanoutReport))]
[JsonSerializable(typeof(WebhookReport))]
[JsonSerializable(typeof(JobsReport))]
[JsonSerializable(typeof(ConfigHerdReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;

internal static class ResultsWriter
{
    /// <summary>Writes bench/results/&lt;mode&gt;-&lt;utc timestamp&gt;.json and returns its path.</summary>
    public static async Task<string> WriteAsync<T>(string directory, string mode, T report, JsonTypeInfo<T> typeInfo, CancellationToken ct)
    {
        Directory.CreateDirectory(directory);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var path = Path.Combine(directory, $"{mode}-{stamp}.json");
        // Two short runs can finish within the same second; never overwrite an earlier result.
        for (var i = 2; File.Exists(path); i++)
        {
            path = Path.Combine(directory, $"{mode}-{stamp}-{i}.json");
        }

        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, report, typeInfo, ct);
        return path;
    }

    /// <summary>
    /// Default output directory: bench/results of the repo this tool lives in (found by walking up
    /// from the working directory, then from the binary), so results land in the same place however
    /// the tool is launched.
    /// </summary>
    public static string DefaultDirectory()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (Directory.Exists(Path.Combine(dir.FullName, "bench", "Switchboard.Bench")))
                {
                    return Path.Combine(dir.FullName, "bench", "results");
                }
            }
        }

        return Path.Combine(Directory.GetCurrentDirectory(), "bench-results");
    }
}

/// <summary>Two-column plain-text table for stdout.</summary>
internal sealed class ConsoleTable(string title)
{
    private readonly List<(string Name, string Value)> _rows = [];

    public ConsoleTable Add(string name, string value)
    {
        _rows.Add((name, value));
        return this;
    }

    public ConsoleTable Add(string name, long value) => Add(name, value.ToString("N0", CultureInfo.InvariantCulture));

    public ConsoleTable Add(string name, double value, int decimals) =>
        Add(name, value.ToString("N" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));

    public ConsoleTable AddLatency(string prefix, LatencySummary s)
    {
        static string Ms(double? v) => v is null ? "-" : v.Value.ToString("0.000", CultureInfo.InvariantCulture);

        Add($"{prefix} samples", s.Count);
        Add($"{prefix} p50 ms", Ms(s.P50Ms));
        Add($"{prefix} p90 ms", Ms(s.P90Ms));
        Add($"{prefix} p99 ms", Ms(s.P99Ms));
        Add($"{prefix} p99.9 ms", Ms(s.P999Ms));
        Add($"{prefix} max ms", Ms(s.MaxMs));
        return this;
    }

    public ConsoleTable AddCpu(CpuUsage? cpu)
    {
        static string Cores(double? v) => v is null ? "-" : v.Value.ToString("0.00", CultureInfo.InvariantCulture);

        Add("bench cpu (cores)", Cores(cpu?.BenchCores));
        Add("server cpu (cores)", Cores(cpu?.ServerCores));
        return this;
    }

    public void Write(TextWriter output)
    {
        var w1 = Math.Max("metric".Length, _rows.Count == 0 ? 0 : _rows.Max(r => r.Name.Length));
        var w2 = Math.Max("value".Length, _rows.Count == 0 ? 0 : _rows.Max(r => r.Value.Length));
        var rule = $"+-{new string('-', w1)}-+-{new string('-', w2)}-+";
        output.WriteLine();
        output.WriteLine(title);
        output.WriteLine(rule);
        output.WriteLine($"| {"metric".PadRight(w1)} | {"value".PadRight(w2)} |");
        output.WriteLine(rule);
        foreach (var (name, value) in _rows)
        {
            output.WriteLine($"| {name.PadRight(w1)} | {value.PadLeft(w2)} |");
        }

        output.WriteLine(rule);
    }
}
