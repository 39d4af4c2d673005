using System.Buffers;
using System.Text;
using System.Text.Json;
using Switchboard.AspNetCore.Http;

namespace Switchboard.AspNetCore.Tests.Http;

/// <summary>
/// The reader-based minifier against the way the hub minified before it: <see cref="JsonElement.WriteTo"/> over a parsed
/// document with <see cref="JsonWire.Compact"/>. Same input, same bytes, or stored payloads would change.
/// </summary>
public sealed class JsonWireMinifyTests
{
    public static TheoryData<string> Corpus => new()
    {
        "null", "true", "false", "0", "-0", "1.0", "1e3", "1E+3", "-1.5e-7", "0.10", "12345678901234567890", "1.000000000000000000001e400",
        "\"\"", "\"plain\"", "\"\\u00e9\\u00E9 \\ud83c\\udf89 \\u0041\\/\\\\ \\\" \\b\\f\\n\\r\\t \\u0001 \\u001f \\u007f\"",
        "\"héllo ✓ 日本語 🎉 <>&'+`= \u2028\u2029 \u00ad \ufeff\"",
        "\"\\u003cscript\\u003e \\u0026 \\u0027 \\u002b\"",
        "[]", "{}", "[ [ ], [ [ [ ] ] ], { } ]", "[1,[2,[3,[{\"a\":[null,true,false]}]]]]",
        "{ \"\\u0074ype\" : 1, \"a\\u0000b\": \"\\u0000\", \"\\u2028\": \"\\u2028\", \"dup\": 1, \"dup\": 2 }",
        "{\n  \"a\" : [ 1,\n      2 ],\r\n\t\"b\" : \"x y\" ,\n    \"c\": { }\n}",
        "\"" + new string('x', 300) + "\\n" + new string('y', 300) + "\"",
        "\"" + string.Concat(Enumerable.Repeat("\\u00e9", 200)) + "\"",
        "{\"" + string.Concat(Enumerable.Repeat("\\u00e9", 200)) + "\":1}",
        string.Concat(Enumerable.Repeat("[", 60)) + "1" + string.Concat(Enumerable.Repeat("]", 60)),
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Minify_Corpus_MatchesJsonElementWriteTo(string json) => AssertSameAsBefore(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Minify_RandomDocuments_MatchJsonElementWriteTo()
    {
        var random = new Random(17);
        for (var i = 0; i < 2000; i++)
        {
            var json = new StringBuilder();
            WriteRandomValue(json, random, depth: 0);
            AssertSameAsBefore(Encoding.UTF8.GetBytes(json.ToString()));
        }
    }

    [Theory]
    [InlineData("\"\\uD800\"")]
    [InlineData("[\"ok\", \"a\\udc00b\"]")]
    [InlineData("{\"\\uDBFF\\u0041\": 1}")]
    public void Minify_LoneSurrogateEscape_ThrowsAsJsonElementDoes(string json)
    {
        using var document = JsonDocument.Parse(json);
        Assert.Throws<InvalidOperationException>(() => Old(document.RootElement));
        var ex = Assert.Throws<InvalidOperationException>(() => JsonWire.Minify(Encoding.UTF8.GetBytes(json)));
        Assert.True(JsonWire.IsUnreadableString(ex));

        // The thread's scratch writer is reset by the next minify, not left half-written.
        Assert.Equal("[1]"u8.ToArray(), JsonWire.Minify("[ 1 ]"u8));
    }

    [Fact]
    public void MinifyValue_LeavesTheReaderOnTheValuesLastToken()
    {
        var reader = new Utf8JsonReader("{\"data\": {\"a\": [1, 2]}, \"next\": true}"u8, JsonWire.ReaderOptions);
        reader.Read();
        reader.Read();
        reader.Read();

        var data = JsonWire.MinifyValue(ref reader);

        Assert.Equal("{\"a\":[1,2]}", Encoding.UTF8.GetString(data));
        Assert.Equal((JsonTokenType.EndObject, 1), (reader.TokenType, reader.CurrentDepth));
        Assert.True(reader.Read());
        Assert.True(reader.ValueTextEquals("next"u8));
    }

    [Fact]
    public void Minify_ResultIsAnExactSizeArrayOfItsOwn()
    {
        var first = JsonWire.Minify("{ \"a\" : 1 }"u8);
        var second = JsonWire.Minify("{ \"b\" : 2 }"u8);

        Assert.Equal("{\"a\":1}"u8.ToArray(), first);
        Assert.Equal("{\"b\":2}"u8.ToArray(), second);
    }

    private static void AssertSameAsBefore(byte[] json)
    {
        using var document = JsonDocument.Parse(json, JsonWire.Reading);
        var expected = Old(document.RootElement);
        Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(JsonWire.Minify(json)));
        Assert.Equal(expected, JsonWire.Minify(json));
        Assert.Equal(expected, JsonWire.Minify(document.RootElement));
    }

    /// <summary>The minifier the hub used before: re-serialize the parsed element.</summary>
    private static byte[] Old(JsonElement element)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, JsonWire.Compact))
        {
            element.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static readonly string[] Pieces =
    [
        "a", "é", "✓", "日本", "🎉", "<", ">", "&", "'", "+", "`", "\u2028", "\u00ad", " ", "\\n", "\\t", "\\\"", "\\\\", "\\/",
        "\\u00e9", "\\u0041", "\\u0000", "\\u001f", "\\ud83c\\udf89", "\\u2028", "\\uFFFF", "\\u003c",
    ];

    private static readonly string[] Numbers = ["0", "-0", "1", "-1", "1.0", "1.50", "1e3", "1E-3", "2.5e+10", "123456789012345678901234567890", "0.000001"];

    private static readonly string[] Spaces = ["", " ", "\n", "\t", "\r\n  "];

    private static void WriteRandomValue(StringBuilder json, Random random, int depth)
    {
        var space = Spaces[random.Next(Spaces.Length)];
        json.Append(space);
        switch (random.Next(depth > 6 ? 4 : 6))
        {
            case 0:
                json.Append(Numbers[random.Next(Numbers.Length)]);
                break;
            case 1:
                WriteRandomString(json, random);
                break;
            case 2:
                json.Append(random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" });
                break;
            case 3:
                json.Append("\"\"");
                break;
            case 4:
                json.Append('[');
                for (int i = 0, n = random.Next(4); i < n; i++)
                {
                    json.Append(i > 0 ? "," : "");
                    WriteRandomValue(json, random, depth + 1);
                }

                json.Append(space).Append(']');
                break;
            default:
                json.Append('{');
                for (int i = 0, n = random.Next(4); i < n; i++)
                {
                    json.Append(i > 0 ? "," : "").Append(space);
                    WriteRandomString(json, random);
                    json.Append(space).Append(':');
                    WriteRandomValue(json, random, depth + 1);
                }

                json.Append(space).Append('}');
                break;
        }

        json.Append(space);
    }

    private static void WriteRandomString(StringBuilder json, Random random)
    {
        json.Append('"');
        for (int i = 0, n = random.Next(6); i < n; i++)
        {
            json.Append(Pieces[random.Next(Pieces.Length)]);
        }

        json.Append('"');
    }
}
