using Switchboard.Problems;

namespace Switchboard.Config;

/// <summary>
/// The conditions a write makes on the version it replaces: HTTP's <c>If-Match</c> and <c>If-None-Match</c> (RFC 9110
/// 13.1.1, 13.1.2) with the entity tags of <see cref="ConfigVersion.ETag"/>. <see cref="ConfigService"/> checks them
/// inside the write, against the version it is about to replace, and again after losing a race to another node; so
/// "change it only if it is still the version I read" holds across nodes, and a stale client never overwrites a newer
/// version unseen.
/// </summary>
/// <param name="IfMatch">Tags one of which must be the current version's (strong comparison), or <c>*</c> for any existing
/// version; null when not given.</param>
/// <param name="IfNoneMatch">Tags none of which may be the current version's (weak comparison), or <c>*</c> for "the app
/// must not exist yet"; null when not given.</param>
public sealed record ConfigPrecondition(IReadOnlyList<string>? IfMatch, IReadOnlyList<string>? IfNoneMatch)
{
    /// <summary>Throws <c>412 precondition-failed</c> when the conditions do not hold for <paramref name="current"/> (null: no settings yet).</summary>
    public void Check(string app, ConfigVersion? current)
    {
        // A weak tag never matches If-Match: the hub's tags are strong, and RFC 9110 compares them strongly here.
        if (IfMatch is { } match && !(current is not null && match.Any(tag => tag == "*" || tag == current.ETag)))
        {
            throw Failed(app, current, current is null
                ? $"If-Match requires settings, and app '{ConfigSettings.Truncate(app)}' has none yet; nothing was stored."
                : $"If-Match names none of the current version of app '{ConfigSettings.Truncate(app)}' ({current.Version}, {current.ETag}); it changed since you read it. Nothing was stored: read it again and reapply your change.");
        }

        if (IfNoneMatch is { } noneMatch && current is not null && noneMatch.Any(tag => tag == "*" || WithoutWeakPrefix(tag) == current.ETag))
        {
            throw Failed(app, current, $"If-None-Match names the current version of app '{ConfigSettings.Truncate(app)}' ({current.Version}, {current.ETag}), or is * and the app has settings; nothing was stored.");
        }
    }

    private static string WithoutWeakPrefix(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;

    private static SwitchboardException Failed(string app, ConfigVersion? current, string detail) =>
        SwitchboardException.PreconditionFailed("precondition-failed", "Precondition failed", detail,
            current is null ? null : new Dictionary<string, object?> { ["etag"] = current.ETag });
}
