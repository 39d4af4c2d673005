using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Switchboard.Cursors;

/// <summary>
/// Cursors are opaque to clients: <c>{epoch}.{seq}</c> today. Only the server builds or reads them,
/// so the format can widen (one position per shard) without a client change.
/// </summary>
public static class Cursor
{
    /// <summary>The keyword for "all retained history".</summary>
    public const string Earliest = "earliest";

    /// <summary>The keyword for "only events published from now on"; the default everywhere.</summary>
    public const string Latest = "latest";

    /// <summary>Formats the position after <paramref name="seq"/> in the log with <paramref name="epoch"/>.</summary>
    public static string Format(string epoch, long seq) => string.Create(CultureInfo.InvariantCulture, $"{epoch}.{seq}");

    /// <summary>Reads a cursor string. Keywords are not cursors; handle them first.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out string? epoch, out long seq)
    {
        epoch = null;
        seq = 0;
        if (string.IsNullOrEmpty(value) || value.Length > 64)
        {
            return false;
        }

        var dot = value.LastIndexOf('.');
        // ContainsAnyExceptInRange: long.TryParse ignores trailing NUL characters whatever the NumberStyles ("x.5\0" would be 5).
        if (dot <= 0 || value.AsSpan(dot + 1).ContainsAnyExceptInRange('0', '9') || !long.TryParse(value.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out seq))
        {
            return false;
        }

        var epochPart = value.AsSpan(0, dot);
        foreach (var c in epochPart)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        epoch = epochPart.ToString();
        return true;
    }

    /// <summary>A new random epoch: 16 lowercase hex characters.</summary>
    public static string NewEpoch() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
}
