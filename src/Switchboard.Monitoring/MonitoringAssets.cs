using System.Collections.Frozen;

namespace Switchboard.Monitoring;

/// <summary>
/// The dashboard's and playground's pages, scripts and styles, embedded in this assembly (no CDN, nothing to install) as
/// <c>Switchboard.Monitoring.{file}</c> resources and read once.
/// </summary>
public static class MonitoringAssets
{
    private const string Prefix = "Switchboard.Monitoring.";

    private static readonly FrozenDictionary<string, MonitoringAsset> All = Load();

    /// <summary>The file names, for example <c>dashboard.html</c> and <c>charts.js</c>.</summary>
    public static IEnumerable<string> Names => All.Keys;

    /// <summary>The file <paramref name="name"/>, or null when there is none.</summary>
    public static MonitoringAsset? Find(string name) => All.GetValueOrDefault(name);

    private static FrozenDictionary<string, MonitoringAsset> Load()
    {
        var assembly = typeof(MonitoringAssets).Assembly;
        var assets = new Dictionary<string, MonitoringAsset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var name = resource[Prefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[name] = new MonitoringAsset(type, copy.ToArray());
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }
}

/// <summary>One embedded file and the media type it is served as.</summary>
/// <param name="ContentType">For example <c>text/javascript; charset=utf-8</c>.</param>
/// <param name="Bytes">The file as embedded.</param>
public sealed record MonitoringAsset(string ContentType, byte[] Bytes);
