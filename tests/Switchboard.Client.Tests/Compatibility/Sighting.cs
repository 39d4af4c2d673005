using System.Globalization;
using System.Text.Json;

namespace Switchboard.Client.Tests.Compatibility;

/// <summary>
/// One thing a client reported, in the order it reported it: an event or a reset. Both clients' views are turned into these
/// so they can be compared field by field. <see cref="WireTime"/> is the time exactly as the JS client passed it on (null for .NET).
/// </summary>
internal sealed record Sighting(string Kind, long Seq, string? Topic, string? Type, DateTimeOffset? Time, string? WireTime, JsonElement? Data, string Cursor, string? Reason)
{
    public static Sighting Event(HubEvent e) => new("event", e.Seq, e.Topic, e.Type, e.Time, null, e.Data.Clone(), e.Cursor, null);

    public static Sighting Reset(HubReset r) => new("reset", 0, null, null, null, null, null, r.Cursor, r.Reason);

    /// <summary>A line of wire-client.mjs, or null for lines that are not events or resets (open, done).</summary>
    public static Sighting? FromJs(JsonElement line) => line.GetProperty("kind").GetString() switch
    {
        "event" => new("event", line.GetProperty("seq").GetInt64(), line.GetProperty("topic").GetString(), line.GetProperty("type").GetString(),
            DateTimeOffset.Parse(line.GetProperty("time").GetString()!, CultureInfo.InvariantCulture), line.GetProperty("time").GetString(),
            line.GetProperty("data").Clone(), line.GetProperty("cursor").GetString()!, null),
        "reset" => new("reset", 0, null, null, null, null, null, line.GetProperty("cursor").GetString()!, line.GetProperty("reason").GetString()),
        _ => null,
    };

    public override string ToString() => Kind == "reset"
        ? $"reset {Reason} -> {Cursor}"
        : $"#{Seq} {Topic} {Type} {Time:O} {Data?.GetRawText()} @{Cursor}";
}
