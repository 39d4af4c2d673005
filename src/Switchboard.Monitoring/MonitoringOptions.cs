using Microsoft.Extensions.Options;

namespace Switchboard.Monitoring;

/// <summary>
/// Metrics export, the live dashboard and the transport playground, bound from <c>Switchboard:Metrics</c>
/// (<c>Switchboard__Metrics__Prometheus=true</c>). The instruments themselves always exist; these only decide who sees them.
/// </summary>
public sealed class MonitoringOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Metrics";

    /// <summary>
    /// Serve the metrics in Prometheus text format at <c>/metrics</c> through OpenTelemetry's exporter. Off by default:
    /// metrics reveal traffic, so an operator opts in (and protects the path).
    /// </summary>
    public bool Prometheus { get; set; }

    /// <summary>Serve <c>/dashboard</c> and its snapshot stream. Default on.</summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>Serve <c>/playground</c> and its built-in webhook sink. Default on.</summary>
    public bool Playground { get; set; } = true;

    /// <summary>How often the dashboard's snapshot is taken and published while a dashboard watches. Default 1 s.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.1", "00:01:00", ErrorMessage = "Metrics:SnapshotInterval must be between 100 ms and 1 minute.")]
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Playground sessions open at once; each holds a webhook endpoint. Default 16.</summary>
    [SettingRange(1, 1000, ErrorMessage = "Metrics:MaxPlaygroundSessions must be between 1 and 1,000.")]
    public int MaxPlaygroundSessions { get; set; } = 16;

    /// <summary>A playground session not touched for this long is ended and its webhook endpoint deleted. Default 10 min.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:10", "10675199.02:48:05.4775807", ErrorMessage = "Metrics:PlaygroundSessionTimeout must be at least 10 s.")]
    public TimeSpan PlaygroundSessionTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Rejects monitoring settings that cannot work, at start (written by the options source generator).</summary>
[OptionsValidator]
internal sealed partial class MonitoringOptionsValidator : IValidateOptions<MonitoringOptions>
{
}
