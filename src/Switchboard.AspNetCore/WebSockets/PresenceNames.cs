using System.Text;

namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// The names members show in a room. Others see them as typed, so a name may not hide or reorder text around it:
/// no control characters, no bidirectional overrides or isolates, no zero-width spaces, not blank.
/// </summary>
internal static class PresenceNames
{
    public const int MaxLength = 64;

    public const string Rule = "A presence name is 1 to 64 characters, not blank, without control characters, bidirectional overrides or zero-width spaces.";

    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= MaxLength } && !name.Any(IsHiding) && !string.IsNullOrWhiteSpace(name);

    /// <summary>
    /// A token's subject as a name when the token has no <c>presence</c> claim: a subject is an identifier, not chosen
    /// for display, so it is cleaned and shortened rather than refused; null when nothing showable is left.
    /// </summary>
    public static string? FromSubject(string subject)
    {
        var cleaned = new StringBuilder(Math.Min(subject.Length, MaxLength));
        foreach (var rune in subject.EnumerateRunes())
        {
            if (rune.IsBmp && IsHiding((char)rune.Value))
            {
                continue;
            }

            if (cleaned.Length + rune.Utf16SequenceLength > MaxLength)
            {
                break;
            }

            cleaned.Append(rune.ToString());
        }

        var name = cleaned.ToString().Trim();
        return name.Length == 0 ? null : name;
    }

    private static bool IsHiding(char c) =>
        char.IsControl(c)
        || c is '\u200B' or '\u200E' or '\u200F' or '\u2060' or '\uFEFF'   // zero-width space, marks, word joiner, BOM
        || c is >= '\u202A' and <= '\u202E'                                   // embeddings and overrides
        || c is >= '\u2066' and <= '\u2069';                                  // isolates
}
