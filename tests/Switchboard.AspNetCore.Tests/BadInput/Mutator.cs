using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>
/// Seeded mutations of valid protocol messages and query strings: byte flips, inserts and deletes, swapped value
/// types, dropped and unknown fields, huge numbers, deep nesting, hostile strings and invalid UTF-8. The same seed
/// always produces the same sequence, so a failure can be replayed.
/// </summary>
internal sealed class Mutator(int seed)
{
    private static readonly byte[] InterestingBytes = [0x00, 0x0A, 0x0D, 0x09, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x2E, 0x2A, 0x3E, 0x25, 0x26, 0x3D, 0x2B, 0x2D, 0x30, 0x39, 0x65, 0x78, 0x7F, 0x80, 0xC3, 0xED, 0xF4, 0xFE, 0xFF];

    private static readonly string[] InterestingValues =
    [
        "", "-1", "0", "1e999", "-1e999", "99999999999999999999", "9223372036854775807", "-9223372036854775808", "1.5", "0x10", "1e3", "NaN",
        "Infinity", "null", "true", "earliest", "latest", "LATEST", "a..b", ">", "*", "chat.>", "seed.intact", "orders.*.>", "../etc/passwd", "%2e%2e%2f",
        "a\nb", "a\r\ndata: x", "\0", "\u2028", "żółw", "🐢", "\ud800", new string('a', 300), "0123456789abcdef.1", "x.-1",
    ];

    private static readonly System.Text.Json.JsonSerializerOptions Deep = new() { MaxDepth = 1024 };

    private readonly Random _random = new(seed);

    public int Next(int max) => _random.Next(max);

    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    /// <summary>One to three mutations of a JSON message; returns the bytes and what was done.</summary>
    public (byte[] Bytes, string Description) MutateMessage(string json)
    {
        var steps = new List<string>();
        var bytes = Encoding.UTF8.GetBytes(json);
        var count = 1 + _random.Next(3);
        for (var i = 0; i < count; i++)
        {
            // Structural mutations first need text that still parses; byte mutations work on anything.
            if (_random.Next(2) == 0 && TryParseObject(bytes) is { } node)
            {
                steps.Add(MutateStructure(node));
                try
                {
                    bytes = Encoding.UTF8.GetBytes(node.ToJsonString(Deep));
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.Text.Json.JsonException)
                {
                    // A lone surrogate cannot be written by the serializer; send it by hand, still as an escape.
                    steps.Add("written by hand");
                    bytes = Encoding.UTF8.GetBytes(json.Insert(json.Length - 1, ",\"x\":\"\\uD800\""));
                }
            }
            else
            {
                (bytes, var step) = MutateBytes(bytes);
                steps.Add(step);
            }
        }

        return (bytes, string.Join("; ", steps));
    }

    /// <summary>One to three mutations of a query string (without the '?'); the result may hold raw bytes as Latin-1 characters.</summary>
    public (string Query, string Description) MutateQuery(string query)
    {
        var steps = new List<string>();
        var count = 1 + _random.Next(3);
        for (var i = 0; i < count; i++)
        {
            var parameters = query.Split('&').ToList();
            switch (_random.Next(7))
            {
                case 0 or 1:
                {
                    // Replace one value with an interesting one, percent-encoded as a client would send it.
                    var at = _random.Next(parameters.Count);
                    var name = parameters[at].Split('=')[0];
                    var value = Pick(InterestingValues);
                    parameters[at] = name + "=" + Uri.EscapeDataString(value);
                    steps.Add($"{name}={Printable(value)}");
                    break;
                }

                case 2:
                {
                    var at = _random.Next(parameters.Count);
                    steps.Add($"repeat {parameters[at]}");
                    parameters.Insert(_random.Next(parameters.Count + 1), parameters[at]);
                    break;
                }

                case 3 when parameters.Count > 1:
                {
                    var at = _random.Next(parameters.Count);
                    steps.Add($"drop {parameters[at]}");
                    parameters.RemoveAt(at);
                    break;
                }

                case 4:
                {
                    var escape = Pick(["%FF", "%C3%28", "%00", "%0A", "%0D%0A", "%ED%A0%80", "%25", "%26", "%3D", "%2F", "%", "%G1", "+", "%20"]);
                    var at = _random.Next(parameters.Count);
                    var position = _random.Next(parameters[at].Length + 1);
                    parameters[at] = parameters[at].Insert(position, escape);
                    steps.Add($"insert {escape} in {parameters[at]}");
                    break;
                }

                default:
                {
                    var (bytes, step) = MutateBytes(Encoding.Latin1.GetBytes(string.Join("&", parameters)));
                    parameters = [Encoding.Latin1.GetString(bytes)];
                    steps.Add(step);
                    break;
                }
            }

            query = string.Join("&", parameters);
        }

        return (query, string.Join("; ", steps));
    }

    private (byte[] Bytes, string Step) MutateBytes(byte[] bytes)
    {
        var list = bytes.ToList();
        var at = list.Count == 0 ? 0 : _random.Next(list.Count);
        switch (_random.Next(6))
        {
            case 0 when list.Count > 0:
                var bit = 1 << _random.Next(8);
                list[at] ^= (byte)bit;
                return ([.. list], $"flip bit {bit} of byte {at}");
            case 1:
                var inserted = _random.Next(3) == 0 ? (byte)_random.Next(256) : Pick(InterestingBytes);
                list.Insert(_random.Next(list.Count + 1), inserted);
                return ([.. list], $"insert 0x{inserted:X2}");
            case 2 when list.Count > 0:
                var length = 1 + _random.Next(Math.Min(8, list.Count - at));
                list.RemoveRange(at, length);
                return ([.. list], $"delete {length} at {at}");
            case 3 when list.Count > 0:
                var copy = list.GetRange(at, 1 + _random.Next(Math.Min(16, list.Count - at)));
                list.InsertRange(_random.Next(list.Count + 1), copy);
                return ([.. list], $"duplicate {copy.Count} bytes");
            case 4 when list.Count > 1:
                var keep = _random.Next(list.Count);
                return ([.. list.Take(keep)], $"truncate to {keep}");
            default:
                var invalid = Pick<byte[]>([[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0x80]]);
                list.InsertRange(_random.Next(list.Count + 1), invalid);
                return ([.. list], "insert invalid UTF-8 " + Convert.ToHexString(invalid));
        }
    }

    private string MutateStructure(JsonObject node)
    {
        var names = node.Select(p => p.Key).ToList();
        var name = names.Count > 0 ? Pick(names) : "op";
        switch (_random.Next(6))
        {
            case 0:
                node.Remove(name);
                return $"drop {name}";
            case 1:
                var added = Pick(["op", "id", "topics", "topic", "after", "history", "presence", "data", "type", "subscription", "extra", "__proto__"]);
                node[added] = RandomValue(0);
                return $"set {added}";
            case 2:
                node[name] = RandomValue(0);
                return $"swap type of {name}";
            case 3:
                var depth = 1 + _random.Next(300);
                JsonNode nested = JsonValue.Create(1);
                for (var i = 0; i < depth; i++)
                {
                    nested = _random.Next(2) == 0 ? new JsonArray(nested) : new JsonObject { ["a"] = nested };
                }

                node[name] = nested;
                return $"nest {name} {depth} deep";
            case 4:
                var value = Pick(InterestingValues);
                node[name] = value;
                return $"{name}=\"{Printable(value)}\"";
            default:
                node[name] = JsonNode.Parse(Pick(["1e400", "-0", "1E+2", "123456789012345678901234567890", "-9223372036854775809", "0.0000000000000000000001"]));
                return $"{name} = a huge or odd number";
        }
    }

    private JsonNode? RandomValue(int depth) => _random.Next(depth > 2 ? 5 : 7) switch
    {
        0 => null,
        1 => JsonValue.Create(_random.Next(2) == 0),
        2 => JsonValue.Create(_random.NextInt64(long.MinValue, long.MaxValue)),
        3 => JsonValue.Create(Pick(InterestingValues)),
        4 => JsonValue.Create(_random.NextDouble() * Math.Pow(10, _random.Next(-30, 300))),
        5 => new JsonArray([.. Enumerable.Range(0, _random.Next(4)).Select(_ => RandomValue(depth + 1))]),
        _ => new JsonObject([.. Enumerable.Range(0, _random.Next(4)).Select(i => KeyValuePair.Create("k" + i.ToString(CultureInfo.InvariantCulture), RandomValue(depth + 1)))]),
    };

    private static JsonObject? TryParseObject(byte[] bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return null; // it parses, but reading its names throws; byte mutations only
        }

        try
        {
            var node = JsonNode.Parse(bytes) as JsonObject;
            _ = node?.Count; // builds the property table: a repeated name throws here rather than mid-mutation
            return node;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private static string Printable(string value) => RawHttp.Printable(value.Length > 40 ? value[..40] + "…" : value);
}
