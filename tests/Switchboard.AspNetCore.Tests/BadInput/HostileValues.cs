namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>Hostile values reused across the corpus and the fuzzer, each with a readable name for the case list.</summary>
internal static class HostileValues
{
    /// <summary>Topic names that no endpoint may accept (as a topic, or as a pattern where one is expected).</summary>
    public static readonly (string Name, string Value)[] TopicNames =
    [
        ("path traversal ../", "../etc/passwd"),
        ("path traversal ..", ".."),
        ("path traversal backslashes", "..\\..\\windows\\win.ini"),
        ("absolute path", "/etc/passwd"),
        ("windows drive path", "C:\\Windows\\system.ini"),
        ("backslash", "a\\b"),
        ("slash", "a/b"),
        ("empty segment", "a..b"),
        ("leading dot", ".a"),
        ("trailing dot", "a."),
        ("space", "a b"),
        ("LF", "a\nb"),
        ("CR", "a\rb"),
        ("SSE injection CRLF data", "a\r\ndata: x"),
        ("SSE injection LF data", "chat\n data: x"),
        ("SSE injection id line", "a\nid: 0\n\n"),
        ("NUL", "a\0b"),
        ("tab", "a\tb"),
        ("ANSI escape", "a\u001b[31m"),
        ("DEL", "a\u007fb"),
        ("non-ASCII letter", "żółw"),
        ("fullwidth letters", "ａｂｃ"),
        ("emoji", "🐢"),
        ("right-to-left override", "a\u202eb"),
        ("zero-width space", "a\u200bb"),
        ("line separator U+2028", "a\u2028b"),
        ("byte order mark", "\ufeffa"),
        ("replacement character", "a\ufffd"),
        ("256 characters", new string('a', 256)),
        ("percent sign", "a%2e"),
        ("query characters", "a?b=c"),
        ("hash", "a#b"),
        ("semicolon", "a;b"),
        ("double quote", "a\"b"),
        ("markup", "<script>alert(1)</script>"),
    ];

    /// <summary>Values that are neither a cursor nor a keyword.</summary>
    public static readonly (string Name, string Value)[] GarbageCursors =
    [
        ("random base64", "q83vEjRWeJA/+w=="),
        ("base64 JSON", "eyJzZXEiOjQyfQ=="),
        ("truncated after dot", "3f2a9c0e1b7d4a55."),
        ("no dot", "3f2a9c0e1b7d4a55"),
        ("only dot and seq", ".42"),
        ("negative seq", "3f2a9c0e1b7d4a55.-1"),
        ("seq overflows 64 bits", "3f2a9c0e1b7d4a55.99999999999999999999"),
        ("hex seq", "3f2a9c0e1b7d4a55.0x10"),
        ("exponent seq", "3f2a9c0e1b7d4a55.1e3"),
        ("decimal seq", "3f2a9c0e1b7d4a55.1.5"),
        ("plus seq", "3f2a9c0e1b7d4a55.+5"),
        ("space in seq", "3f2a9c0e1b7d4a55. 5"),
        ("unicode digits", "3f2a9c0e1b7d4a55.٤٢"),
        ("unicode epoch", "żółw.42"),
        ("fullwidth epoch", "３ｆ２ａ.42"),
        ("epoch with dash", "3f2a-9c0e.42"),
        ("65 characters", new string('a', 60) + ".1234"),
        ("NaN", "NaN"),
        ("keyword with space", "earliest "),
        ("keyword upper case", "LATEST"),
        ("SSE injection", "x.1\ndata: injected"),
        ("NUL", "abc\0.1"),
        // long.TryParse ignores trailing NULs: this was accepted as seq 5.
        ("NUL after seq", "3f2a9c0e1b7d4a55.5\0"),
    ];

    /// <summary>Numbers no count or duration parameter accepts.</summary>
    public static readonly (string Name, string Value)[] BadNumbers =
    [
        ("negative", "-1"),
        ("non-numeric", "abc"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("negative Infinity", "-Infinity"),
        ("hex", "0x10"),
        ("exponent", "1e3"),
        ("comma decimal", "1,5"),
        ("leading plus", "+5"),
        ("unicode digits", "٥"),
        ("space inside", "5 0"),
        // .NET's number parsing ignores trailing NULs: a percent-encoded %00 after the digits was accepted as 5.
        ("trailing NUL", "5\0"),
    ];

    /// <summary>Whole-number parameters also refuse fractions and values past 64 bits.</summary>
    public static readonly (string Name, string Value)[] BadWholeNumbers =
    [
        .. BadNumbers,
        ("fraction", "1.5"),
        ("past 64 bits", "99999999999999999999"),
    ];

    /// <summary>JSON that does not parse; each must be a 400 malformed-json wherever a body is read.</summary>
    public static readonly (string Name, string Json)[] MalformedJson =
    [
        ("empty object brace only", "{"),
        ("closing brace only", "}"),
        ("missing value", """{"data":}"""),
        ("single quotes", "{'data':1}"),
        ("trailing comma", """{"data":1,}"""),
        ("unclosed array", "[1,2"),
        ("bare word", "nul"),
        ("NaN literal", """{"data":NaN}"""),
        ("Infinity literal", """{"data":-Infinity}"""),
        ("hex number", """{"data":0x10}"""),
        ("leading zero", """{"data":01}"""),
        ("dot without digits", """{"data":1.}"""),
        ("leading plus", """{"data":+1}"""),
        ("comment", "/* c */ {}"),
        ("trailing garbage", """{"data":1} x"""),
        ("two documents", """{"data":1}{}"""),
        ("invalid escape", """{"data":"\x41"}"""),
        ("short unicode escape", """{"data":"\u12"}"""),
        ("unterminated string", """{"data":"abc}"""),
        ("raw control character in string", "{\"data\":\"a\u0001b\"}"),
        ("raw newline in string", "{\"data\":\"a\nb\"}"),
        ("unquoted key", "{data:1}"),
        ("10,000 open brackets", new string('[', 10_000)),
        ("10,000 nested arrays closed", new string('[', 10_000) + new string(']', 10_000)),
        ("10,000 nested objects", string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000)),
        ("65 levels deep", "{\"data\":" + new string('[', 64) + new string(']', 64) + "}"),
    ];

    /// <summary>Bodies whose bytes are not valid UTF-8 (as JSON they are otherwise fine).</summary>
    public static readonly (string Name, byte[] Bytes)[] InvalidUtf8Json =
    [
        ("0xFF in string", [.. "{\"data\":\""u8, 0xFF, .. "\"}"u8]),
        ("truncated two-byte sequence", [.. "{\"data\":\""u8, 0xC3, .. "\"}"u8]),
        ("overlong slash", [.. "{\"data\":\""u8, 0xC0, 0xAF, .. "\"}"u8]),
        ("encoded surrogate", [.. "{\"data\":\""u8, 0xED, 0xA0, 0x80, .. "\"}"u8]),
        ("past U+10FFFF", [.. "{\"data\":\""u8, 0xF4, 0x90, 0x80, 0x80, .. "\"}"u8]),
        ("0xFE in a key", [.. "{\""u8, 0xFE, .. "\":1}"u8]),
        ("UTF-16 body", System.Text.Encoding.Unicode.GetBytes("{\"data\":1}")),
    ];

    /// <summary>Percent-encoded byte sequences that do not decode as UTF-8.</summary>
    public static readonly (string Name, string Encoded)[] InvalidUtf8Escapes =
    [
        ("%FF", "%FF"),
        ("%C3%28", "%C3%28"),
        ("overlong %C0%AF", "%C0%AF"),
        ("surrogate %ED%A0%80", "%ED%A0%80"),
        ("past U+10FFFF %F4%90%80%80", "%F4%90%80%80"),
        ("lone continuation %80", "a%80b"),
    ];

    /// <summary>JSON string literal for <paramref name="value"/>, escaping what JSON requires (and nothing the test means to send raw).</summary>
    public static string JsonString(string value) => System.Text.Json.JsonSerializer.Serialize(value);
}
