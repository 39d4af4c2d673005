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

    /// <summary>Parses a request body; malformed JSON is a 400 problem.</summary>
    public static JsonDocument ParseBody(byte[] body)
    {
        try
        {
            return JsonDocument.Parse(body, Reading);
        }
        catch (JsonException ex)
        {
            throw Problems.SwitchboardProblemException.BadRequest("malformed-json", "Malformed JSON", $"The body is not valid JSON: {ex.Message}");
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
            throw Problems.SwitchboardProblemException.BadRequest("invalid-body", "Invalid string", "The body has a string that is not valid text (a lone surrogate escape such as \\uD800).");
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
