using System.ComponentModel.DataAnnotations;

namespace Switchboard.Config;

/// <summary>
/// Config and feature-flag sync (<c>Switchboard:Config</c>): limits on what is stored, and how a change releases
/// the long polls waiting for it.
/// </summary>
public sealed class ConfigOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Switchboard:Config";

    /// <summary>Largest settings object (a PUT or PATCH body, and the merged result), in bytes; more is a 413. Default 64 KiB.</summary>
    [SettingRange(64, 16 * 1024 * 1024, ErrorMessage = "Config:MaxBytes must be between 64 B and 16 MiB.")]
    public int MaxBytes { get; set; } = 64 * 1024;

    /// <summary>Most top-level keys in an app's settings; more is a 400. Default 1,000.</summary>
    [SettingRange(1, 100_000, ErrorMessage = "Config:MaxKeys must be between 1 and 100,000.")]
    public int MaxKeys { get; set; } = 1000;

    /// <summary>Longest key, in characters. Default 256.</summary>
    [SettingRange(1, 4096, ErrorMessage = "Config:MaxKeyLength must be between 1 and 4096.")]
    public int MaxKeyLength { get; set; } = 256;

    /// <summary>Longest app name, in characters. Default 128.</summary>
    [SettingRange(1, 200, ErrorMessage = "Config:MaxAppLength must be between 1 and 200 (the topic config.{{app}} must stay a valid topic).")]
    public int MaxAppLength { get; set; } = 128;

    /// <summary>Versions kept per app for <c>/history</c>; the newest is always kept. Default 100.</summary>
    [SettingRange(1, 100_000, ErrorMessage = "Config:HistoryPerApp must be between 1 and 100,000.")]
    public int HistoryPerApp { get; set; } = 100;

    /// <summary>Most apps in one <c>GET /v1/config?watch=</c>. Default 100.</summary>
    [SettingRange(1, 10_000, ErrorMessage = "Config:MaxWatchApps must be between 1 and 10,000.")]
    public int MaxWatchApps { get; set; } = 100;

    /// <summary>
    /// Most config long polls held at once on this server; one more is answered 503 with <c>Retry-After</c>, so the
    /// held set (and the release queue, which never holds more) stays bounded. Default 50,000.
    /// </summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Config:MaxHeldRequests must be at least 1.")]
    public int MaxHeldRequests { get; set; } = 50_000;

    /// <summary>
    /// Held polls released per batch when a change wakes them. The first batch goes at once; the rest follow one per
    /// <see cref="ReleaseInterval"/>, so a change seen by 10,000 clients does not answer them all in the same
    /// millisecond (Apollo's batched notification). Default 200.
    /// </summary>
    [SettingRange(1, int.MaxValue, ErrorMessage = "Config:ReleaseBatchSize must be at least 1.")]
    public int ReleaseBatchSize { get; set; } = 200;

    /// <summary>The pause between release batches. Default 10 ms: 5,000 held polls are released within 250 ms.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00", "00:00:01", ErrorMessage = "Config:ReleaseInterval must be between 0 and 1 s.")]
    public TimeSpan ReleaseInterval { get; set; } = TimeSpan.FromMilliseconds(10);
}
