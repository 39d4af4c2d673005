using System.Globalization;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// A whole number in a query parameter or header: ASCII digits only. <c>int.TryParse</c> and <c>long.TryParse</c> ignore
/// trailing NUL characters whatever the <see cref="NumberStyles"/> ("5\0" parses as 5), so a percent-encoded <c>%00</c>
/// after the digits would otherwise be accepted as if it were not there.
/// </summary>
internal static class WholeNumber
{
    public static bool TryParse(string? text, out int value)
    {
        value = 0;
        return IsDigits(text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    public static bool TryParse(string? text, out long value)
    {
        value = 0;
        return IsDigits(text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool IsDigits(string? text) => !string.IsNullOrEmpty(text) && !text.AsSpan().ContainsAnyExceptInRange('0', '9');
}
