using System.Net.WebSockets;
using System.Text;
using static Switchboard.AspNetCore.Tests.BadInput.HostileValues;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>
/// One hostile WebSocket exchange: <see cref="Setup"/> requests (each must be acked) put the connection in a state,
/// then <see cref="Payload"/> is sent as one message of <see cref="Type"/>. The answer is either an <c>error</c>
/// with <see cref="ErrorCode"/> (and the connection stays usable), or a close with <see cref="Close"/> and a reason.
/// </summary>
internal sealed record WebSocketCase(string Name, byte[] Payload, WebSocketMessageType Type, string? ErrorCode, WebSocketCloseStatus? Close)
{
    public string[] Setup { get; init; } = [];
}

/// <summary>The WebSocket half of the bad-input corpus.</summary>
internal static class WebSocketCorpus
{
    private static readonly Lazy<IReadOnlyDictionary<string, WebSocketCase>> s_cases = new(Build);

    public static IReadOnlyDictionary<string, WebSocketCase> Cases => s_cases.Value;

    private static IReadOnlyDictionary<string, WebSocketCase> Build()
    {
        var all = new List<WebSocketCase>();
        void Error(string category, string name, string message, string code, params string[] setup) =>
            all.Add(new WebSocketCase($"{category}: {name}", Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, code, null) { Setup = setup });
        void Closed(string category, string name, byte[] payload, WebSocketMessageType type, WebSocketCloseStatus status) =>
            all.Add(new WebSocketCase($"{category}: {name}", payload, type, null, status));

        // Not JSON, or not an object.
        foreach (var (name, json) in MalformedJson)
        {
            Error("garbage frame", name, json, "invalid_json");
        }

        foreach (var (name, text) in new[]
        {
            ("plain text", "hello"),
            ("empty message", ""),
            ("whitespace only", " \t\r\n "),
            ("XML", "<op>ping</op>"),
            ("HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("NUL bytes", "\0\0\0\0"),
            ("10,000 nested objects in data", "{\"op\":\"publish\",\"id\":1,\"topic\":\"chat.x\",\"data\":" + string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000) + "}"),
        })
        {
            Error("garbage frame", name, text, "invalid_json");
        }

        foreach (var (name, json) in new[] { ("array", "[1,2]"), ("string", "\"ping\""), ("number", "42"), ("true", "true"), ("null", "null"), ("array of ops", """[{"op":"ping","id":1}]""") })
        {
            Error("JSON non-object", name, json, "invalid_message");
        }

        // Missing or wrong-typed fields, and unknown ops.
        foreach (var (name, json, code) in new[]
        {
            ("op missing", """{"id":1}""", "missing_field"),
            ("op number", """{"op":1,"id":1}""", "missing_field"),
            ("op null", """{"op":null,"id":1}""", "missing_field"),
            ("op array", """{"op":["ping"],"id":1}""", "missing_field"),
            ("op unknown", """{"op":"frobnicate","id":1}""", "unknown_op"),
            ("op upper case", """{"op":"PING","id":1}""", "unknown_op"),
            ("op with NUL", """{"op":"ping\u0000","id":1}""", "unknown_op"),
            ("op with LF", """{"op":"ping\n","id":1}""", "unknown_op"),
            ("op reserved-looking", """{"op":"event","id":1}""", "unknown_op"),
            ("op refresh without a token", """{"op":"refresh","id":1}""", "missing_field"),
            ("op refresh on a connection opened without a token", """{"op":"refresh","id":1,"token":"eyJhbGciOiJub25lIn0.e30."}""", "invalid_state"),
            ("op lone surrogate", """{"op":"\uD800","id":1}""", "invalid_message"),
            ("id lone surrogate", """{"op":"ping","id":"\ud800"}""", "invalid_message"),
            ("id low surrogate in a publish", """{"op":"publish","id":"\uDC00x","topic":"chat.a","data":1}""", "invalid_message"),
            ("member name lone surrogate", """{"op":"ping","id":1,"\ud800":1}""", "invalid_message"),
            ("op name lone surrogate in an unknown op", """{"op":"x\uD800","id":1}""", "invalid_message"),
            ("subscribe id missing", """{"op":"subscribe","topics":["a"]}""", "missing_field"),
            ("subscribe id object", """{"op":"subscribe","id":{},"topics":["a"]}""", "invalid_field"),
            ("subscribe id number", """{"op":"subscribe","id":1,"topics":["a"]}""", "invalid_field"),
            ("subscribe topics missing", """{"op":"subscribe","id":"s"}""", "missing_field"),
            ("subscribe topics empty", """{"op":"subscribe","id":"s","topics":[]}""", "missing_field"),
            ("subscribe topics string", """{"op":"subscribe","id":"s","topics":"a"}""", "missing_field"),
            ("subscribe topics object", """{"op":"subscribe","id":"s","topics":{"a":1}}""", "missing_field"),
            ("subscribe topic null", """{"op":"subscribe","id":"s","topics":[null]}""", "invalid_field"),
            ("subscribe topic number", """{"op":"subscribe","id":"s","topics":[1]}""", "invalid_field"),
            ("subscribe 33 topics", "{\"op\":\"subscribe\",\"id\":\"s\",\"topics\":[" + string.Join(",", Enumerable.Range(0, 33).Select(i => $"\"t{i}\"")) + "]}", "too_many_patterns"),
            ("subscribe after number", """{"op":"subscribe","id":"s","topics":["a"],"after":5}""", "invalid_field"),
            ("subscribe after object", """{"op":"subscribe","id":"s","topics":["a"],"after":{}}""", "invalid_field"),
            ("subscribe history negative", """{"op":"subscribe","id":"s","topics":["a"],"history":-1}""", "invalid_field"),
            ("subscribe history string", """{"op":"subscribe","id":"s","topics":["a"],"history":"5"}""", "invalid_field"),
            ("subscribe history fraction", """{"op":"subscribe","id":"s","topics":["a"],"history":1.5}""", "invalid_field"),
            ("subscribe history exponent", """{"op":"subscribe","id":"s","topics":["a"],"history":1e3}""", "invalid_field"),
            ("subscribe history past 32 bits", """{"op":"subscribe","id":"s","topics":["a"],"history":99999999999}""", "invalid_field"),
            ("subscribe history huge", """{"op":"subscribe","id":"s","topics":["a"],"history":1e400}""", "invalid_field"),
            ("subscribe history and after", """{"op":"subscribe","id":"s","topics":["a"],"history":1,"after":"earliest"}""", "invalid_field"),
            ("subscribe presence on a pattern", """{"op":"subscribe","id":"s","topics":["chat.>"],"presence":true}""", "invalid_field"),
            ("publish id missing", """{"op":"publish","topic":"chat.a","data":1}""", "missing_field"),
            ("publish topic missing", """{"op":"publish","id":1,"data":1}""", "missing_field"),
            ("publish topic number", """{"op":"publish","id":1,"topic":5,"data":1}""", "missing_field"),
            ("publish type number", """{"op":"publish","id":1,"topic":"chat.a","type":5}""", "invalid_field"),
            ("publish type object", """{"op":"publish","id":1,"topic":"chat.a","type":{}}""", "invalid_field"),
            ("presence topic missing", """{"op":"presence","id":1}""", "missing_field"),
            ("presence topic pattern", """{"op":"presence","id":1,"topic":"chat.*"}""", "invalid_topic"),
            ("presence topic with LF", """{"op":"presence","id":1,"topic":"chat\nx"}""", "invalid_topic"),
            ("unsubscribe nothing named", """{"op":"unsubscribe","id":1}""", "missing_field"),
            ("unsubscribe id missing", """{"op":"unsubscribe","subscription":"s"}""", "missing_field"),
            ("unsubscribe subscription number", """{"op":"unsubscribe","id":1,"subscription":5}""", "invalid_field"),
            ("unsubscribe topics empty", """{"op":"unsubscribe","id":1,"topics":[]}""", "missing_field"),
        })
        {
            Error("fields", name, json, code);
        }

        // Hostile topics in publish and subscribe.
        foreach (var (name, topic) in TopicNames)
        {
            Error("topic in publish", name, $$"""{"op":"publish","id":"p","topic":{{JsonString(topic)}},"data":1}""", "invalid_topic");
            Error("topic in subscribe", name, $$"""{"op":"subscribe","id":"s","topics":[{{JsonString(topic)}}]}""", "invalid_pattern");
        }

        // Event types: the same control characters, CR/LF among them, are refused as over HTTP.
        foreach (var (name, type, code) in new[]
        {
            ("LF data injection", "x\n data: injected", "invalid_type"),
            ("CRLF data injection", "x\r\ndata: injected", "invalid_type"),
            ("NUL", "x\0y", "invalid_type"),
            ("empty", "", "invalid_type"),
            ("129 characters", new string('t', 129), "invalid_type"),
            ("reserved", "switchboard.reset", "reserved_type"),
        })
        {
            Error("event type", name, $$"""{"op":"publish","id":"p","topic":"chat.types","type":{{JsonString(type)}},"data":1}""", code);
        }

        // Garbage cursors in subscribe.
        foreach (var (name, cursor) in GarbageCursors)
        {
            Error("garbage cursor", name, $$"""{"op":"subscribe","id":"s","topics":["seed.intact"],"after":{{JsonString(cursor)}}}""", "invalid_cursor");
        }

        // Subscription ids are kept for the subscription's life: bounded.
        Error("subscription id", "empty", """{"op":"subscribe","id":"","topics":["seed.intact"]}""", "invalid_field");
        Error("subscription id", "129 characters", $$"""{"op":"subscribe","id":"{{new string('s', 129)}}","topics":["seed.intact"]}""", "invalid_field");

        // Ops in the wrong state.
        Error("wrong state", "unsubscribe before subscribe", """{"op":"unsubscribe","id":1,"subscription":"s1"}""", "not_subscribed");
        Error("wrong state", "unsubscribe by topic before subscribe", """{"op":"unsubscribe","id":1,"topics":["seed.intact"]}""", "not_subscribed");
        Error("wrong state", "unsubscribe twice", """{"op":"unsubscribe","id":3,"subscription":"s1"}""", "not_subscribed",
            """{"op":"subscribe","id":"s1","topics":["seed.intact"]}""", """{"op":"unsubscribe","id":2,"subscription":"s1"}""");
        Error("wrong state", "duplicate subscription id", """{"op":"subscribe","id":"s1","topics":["chat.other"]}""", "duplicate_subscription",
            """{"op":"subscribe","id":"s1","topics":["seed.intact"]}""");
        Error("wrong state", "duplicate subscription id after history", """{"op":"subscribe","id":"s1","topics":["seed.intact"],"history":5}""", "duplicate_subscription",
            """{"op":"subscribe","id":"s1","topics":["seed.intact"],"history":5}""");
        Error("wrong state", "unsubscribe another pattern", """{"op":"unsubscribe","id":2,"topics":["seed.*"]}""", "not_subscribed",
            """{"op":"subscribe","id":"s1","topics":["seed.intact"]}""");
        Error("wrong state", "101st subscription", """{"op":"subscribe","id":"one-too-many","topics":["a"]}""", "too_many_subscriptions",
            [.. Enumerable.Range(0, 100).Select(i => $$"""{"op":"subscribe","id":"s{{i}}","topics":["a"]}""")]);

        // Publishing outside WebSockets:Publishable (chat.>), the seed topic first of all.
        foreach (var topic in new[] { "seed.intact", "orders", "chat", "switchboard.webhooks", "config.badinput", "jobs.x" })
        {
            Error("forbidden publish", topic, $$"""{"op":"publish","id":"p","topic":"{{topic}}","data":1}""", "forbidden");
        }

        Error("forbidden publish", "data over 64 KiB", "{\"op\":\"publish\",\"id\":\"p\",\"topic\":\"chat.big\",\"data\":\"" + new string('x', 64 * 1024) + "\"}", "payload_too_large");

        // Frames the protocol does not allow: the connection closes with the documented code and a reason.
        Closed("bad frame", "binary frame", [1, 2, 3], WebSocketMessageType.Binary, WebSocketCloseStatus.InvalidMessageType);
        Closed("bad frame", "binary JSON", Encoding.UTF8.GetBytes("""{"op":"ping","id":1}"""), WebSocketMessageType.Binary, WebSocketCloseStatus.InvalidMessageType);
        Closed("bad frame", "message over 65 KiB", Encoding.UTF8.GetBytes("{\"op\":\"ping\",\"pad\":\"" + new string('x', 66 * 1024) + "\"}"), WebSocketMessageType.Text, WebSocketCloseStatus.MessageTooBig);
        Closed("bad frame", "1 MiB of brackets", Encoding.UTF8.GetBytes(new string('[', 1024 * 1024)), WebSocketMessageType.Text, WebSocketCloseStatus.MessageTooBig);
        Closed("bad frame", "binary over 65 KiB", new byte[70 * 1024], WebSocketMessageType.Binary, WebSocketCloseStatus.MessageTooBig);
        foreach (var (name, bytes) in InvalidUtf8Json)
        {
            if (name != "UTF-16 body")
            {
                Closed("invalid UTF-8 text frame", name, bytes, WebSocketMessageType.Text, WebSocketCloseStatus.InvalidPayloadData);
            }
        }

        // Refresh with forged, expired and alg:none tokens, and subscribe/publish outside a token's patterns, run
        // against a protected hub in AuthBadInputTests.

        var duplicates = all.GroupBy(c => c.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        return duplicates.Count > 0
            ? throw new InvalidOperationException("Duplicate case names: " + string.Join(", ", duplicates))
            : all.ToDictionary(c => c.Name);
    }
}
