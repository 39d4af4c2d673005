using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Switchboard.AspNetCore.Http;

/// <summary>Shared JSON settings for what the hub writes by hand.</summary>
internal static class JsonWire
{
    /// <summary>Compact output that keeps non-ASCII text as UTF-8; control characters are still escaped,
    /// so a payload never contains a raw line break (SSE frames rely on it).</summary>
    public static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    public static readonly JsonDocumentOptions Reading = new() { MaxDepth = 64 };

    /// <summary>As <see cref="Reading"/>, and a name given twice in one object is malformed.</summary>
    private static readonly JsonDocumentOptions ReadingUniqueNames = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>
    /// Parses a request body; malformed JSON (or bytes that are not UTF-8) is a 400 problem. With
    /// <paramref name="uniqueNames"/>, a property name repeated in an object is malformed too: bodies that become
    /// <c>JsonObject</c>s (config settings) need it, since building one from duplicate names throws.
    /// </summary>
    public static JsonDocument ParseBody(byte[] body, bool uniqueNames = false)
    {
        // Fix: JsonDocument does not check the UTF-8 inside strings; reading or re-serializing such a string
        // silently turned the bad bytes into U+FFFD, so invalid UTF-8 was accepted and stored altered.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            throw Problems.SwitchboardException.Invalid("malformed-json", "Malformed JSON", "The body is not valid UTF-8; JSON bodies are UTF-8 text.");
        }

        try
        {
            return JsonDocument.Parse(body, uniqueNames ? ReadingUniqueNames : Reading);
        }
        catch (JsonException ex)
        {
            throw Problems.SwitchboardException.Invalid("malformed-json", "Malformed JSON", $"The body is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>
    /// Runs a reader over a parsed body, turning the one failure parsing lets through into a 400: a string or
    /// property name with a lone surrogate escape (<c>"\uD800"</c>) parses, but reading it as text throws.
    /// </summary>
    public static T GuardStrings<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidOperationException ex) when (ex.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true)
        {
            throw Problems.SwitchboardException.Invalid("invalid-body", "Invalid string", "The body has a string that is not valid text (a lone surrogate escape such as \\uD800).");
        }
    }

    /// <summary>Re-serializes a JSON value compactly.</summary>
    public static byte[] Minify(JsonElement element)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Compact))
        {
            element.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
