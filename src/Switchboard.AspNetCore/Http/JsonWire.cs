using System.Buffers;
using System.Runtime.InteropServices;
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

    /// <summary><see cref="Reading"/> for a <see cref="Utf8JsonReader"/>: the same depth, no comments, no trailing commas.</summary>
    public static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    // Payloads at most this large keep their thread's minify buffer for the next one; a larger one gives it back.
    private const int KeptScratchBytes = 256 * 1024;

    [ThreadStatic]
    private static MinifyScratch? t_scratch;

    /// <summary>As <see cref="Reading"/>, and a name given twice in one object is malformed.</summary>
    private static readonly JsonDocumentOptions ReadingUniqueNames = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>
    /// Parses a request body; malformed JSON (or bytes that are not UTF-8) is a 400 problem. With
    /// <paramref name="uniqueNames"/>, a property name repeated in an object is malformed too: bodies that become
    /// <c>JsonObject</c>s (config settings) need it, since building one from duplicate names throws.
    /// </summary>
    public static JsonDocument ParseBody(byte[] body, bool uniqueNames = false)
    {
        ThrowIfNotUtf8(body);
        try
        {
            return JsonDocument.Parse(body, uniqueNames ? ReadingUniqueNames : Reading);
        }
        catch (JsonException ex)
        {
            throw Malformed(ex);
        }
    }

    /// <summary>
    /// The 400 for a body that is not UTF-8. Fix: JsonDocument does not check the UTF-8 inside strings; reading or
    /// re-serializing such a string silently turned the bad bytes into U+FFFD, so invalid UTF-8 was accepted and stored altered.
    /// </summary>
    public static void ThrowIfNotUtf8(ReadOnlySpan<byte> body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            throw Problems.SwitchboardException.Invalid("malformed-json", "Malformed JSON", "The body is not valid UTF-8; JSON bodies are UTF-8 text.");
        }
    }

    /// <summary>The 400 for a body that does not parse, whichever reader found it.</summary>
    public static Problems.SwitchboardException Malformed(JsonException ex) =>
        Problems.SwitchboardException.Invalid("malformed-json", "Malformed JSON", $"The body is not valid JSON: {ex.Message}");

    /// <summary>The 400 for a string that parses but is not text (a lone surrogate escape).</summary>
    public static Problems.SwitchboardException InvalidString() =>
        Problems.SwitchboardException.Invalid("invalid-body", "Invalid string", "The body has a string that is not valid text (a lone surrogate escape such as \\uD800).");

    /// <summary>Whether <paramref name="ex"/> is System.Text.Json refusing to read a string as text (a lone surrogate escape).</summary>
    public static bool IsUnreadableString(InvalidOperationException ex) => ex.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true;

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
        catch (InvalidOperationException ex) when (IsUnreadableString(ex))
        {
            throw InvalidString();
        }
    }

    /// <summary>Re-serializes a JSON value compactly.</summary>
    public static byte[] Minify(JsonElement element) => Minify(JsonMarshal.GetRawUtf8Value(element));

    /// <summary>Re-serializes one complete JSON value (already known to parse) compactly.</summary>
    public static byte[] Minify(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        reader.Read();
        return MinifyValue(ref reader);
    }

    /// <summary>
    /// Re-serializes the value whose first token <paramref name="reader"/> is on, leaving the reader on its last token, into
    /// an exact-size array: the one copy a payload gets on its way to the store. The output is what
    /// <see cref="JsonElement.WriteTo"/> with <see cref="Compact"/> writes (strings and names unescaped, then escaped again
    /// the relaxed way; numbers as written), so stored bytes do not depend on which reader parsed the body.
    /// A string with a lone surrogate escape throws <see cref="InvalidOperationException"/>, as JsonElement does.
    /// </summary>
    public static byte[] MinifyValue(ref Utf8JsonReader reader)
    {
        var scratch = t_scratch ??= new MinifyScratch();
        var writer = scratch.Start();
        try
        {
            CopyValue(ref reader, writer);
            writer.Flush();
            return scratch.Buffer.WrittenSpan.ToArray();
        }
        finally
        {
            if (scratch.Buffer.Capacity > KeptScratchBytes)
            {
                t_scratch = null;
            }
        }
    }

    private static void CopyValue(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        var container = reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray;
        var depth = reader.CurrentDepth;
        CopyToken(ref reader, writer);
        if (!container)
        {
            return;
        }

        // Everything inside is deeper; the matching end token is the next one back at the container's depth.
        while (reader.Read())
        {
            CopyToken(ref reader, writer);
            if (reader.CurrentDepth == depth)
            {
                return;
            }
        }

        throw new JsonException("The JSON value ends early.");
    }

    private static void CopyToken(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                writer.WriteStartObject();
                break;
            case JsonTokenType.EndObject:
                writer.WriteEndObject();
                break;
            case JsonTokenType.StartArray:
                writer.WriteStartArray();
                break;
            case JsonTokenType.EndArray:
                writer.WriteEndArray();
                break;
            case JsonTokenType.PropertyName:
            case JsonTokenType.String:
                CopyString(ref reader, writer);
                break;
            case JsonTokenType.Number:
                // A number is kept as written (1.0 stays 1.0, 1e3 stays 1e3): the reader has already checked its grammar.
                writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                break;
            case JsonTokenType.True:
                writer.WriteBooleanValue(true);
                break;
            case JsonTokenType.False:
                writer.WriteBooleanValue(false);
                break;
            case JsonTokenType.Null:
                writer.WriteNullValue();
                break;
            default:
                throw new JsonException($"Unexpected JSON token {reader.TokenType}.");
        }
    }

    private static void CopyString(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        // Request bodies and WebSocket messages are contiguous, so the value is always a span.
        ReadOnlySpan<byte> raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan;
        if (!reader.ValueIsEscaped)
        {
            Write(writer, raw, reader.TokenType);
            return;
        }

        // Unescaped text is never longer than its escaped form.
        byte[]? rented = null;
        Span<byte> buffer = raw.Length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(raw.Length));
        try
        {
            var length = reader.CopyString(buffer);
            Write(writer, buffer[..length], reader.TokenType);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        static void Write(Utf8JsonWriter writer, ReadOnlySpan<byte> utf8, JsonTokenType token)
        {
            if (token == JsonTokenType.PropertyName)
            {
                writer.WritePropertyName(utf8);
            }
            else
            {
                writer.WriteStringValue(utf8);
            }
        }
    }

    /// <summary>A thread's reusable output for <see cref="MinifyValue"/>: minifying is synchronous, so one per thread is enough.</summary>
    private sealed class MinifyScratch
    {
        private Utf8JsonWriter? _writer;

        public ArrayBufferWriter<byte> Buffer { get; } = new(4096);

        public Utf8JsonWriter Start()
        {
            Buffer.ResetWrittenCount();
            if (_writer is null)
            {
                _writer = new Utf8JsonWriter(Buffer, Compact);
            }
            else
            {
                // Also clears whatever a minify that threw halfway left behind.
                _writer.Reset(Buffer);
            }

            return _writer;
        }
    }
}
