using System.Text;
using static Switchboard.AspNetCore.Tests.BadInput.HostileValues;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>
/// One hostile HTTP request and the answer it must get. <see cref="Code"/> is the problem <c>code</c> the hub must
/// answer with; null means Kestrel refuses the request before it reaches the hub (431, 414, a malformed request
/// line), so only the status can be asserted. Targets may hold <c>{epoch}</c>, <c>{webhook}</c> and <c>{job}</c>,
/// filled in from the server under test.
/// </summary>
internal sealed record HttpCase(string Name, string Method, string Target, int Status, string? Code)
{
    public byte[]? Body { get; init; }

    public string? ContentType { get; init; } = "application/json";

    public (string Name, string Value)[] Headers { get; init; } = [];

    /// <summary>Text the problem's <c>detail</c> must contain, when the case is about what it says.</summary>
    public string? DetailContains { get; init; }
}

/// <summary>The HTTP half of the bad-input corpus, by category.</summary>
internal static class HttpCorpus
{
    private static readonly Lazy<IReadOnlyDictionary<string, HttpCase>> s_cases = new(Build);

    public static IReadOnlyDictionary<string, HttpCase> Cases => s_cases.Value;

    private static string Q(string value) => Uri.EscapeDataString(value);

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }

    private static IReadOnlyDictionary<string, HttpCase> Build()
    {
        var all = new List<HttpCase>();
        void Add(string category, string name, string method, string target, int status, string? code, byte[]? body = null,
            string? contentType = "application/json", (string, string)[]? headers = null, string? detail = null)
        {
            if (target.Split('?')[0].Contains("%00", StringComparison.Ordinal))
            {
                // Kestrel refuses a NUL in the decoded path before routing: a bare 400, nothing reaches the hub.
                (status, code) = (400, null);
            }

            all.Add(new HttpCase($"{category}: {name}", method, target, status, code)
            {
                Body = body,
                ContentType = body is null && contentType == "application/json" ? null : contentType,
                Headers = headers ?? [],
                DetailContains = detail,
            });
        }

        // Topic names and patterns, in every place one is accepted. Control characters, CR/LF and NUL in a topic
        // are refused everywhere, so no topic can carry a line into an SSE frame.
        foreach (var (name, topic) in TopicNames)
        {
            Add("topic in poll", name, "GET", $"/v1/events?topic={Q(topic)}", 400, "invalid-pattern");
            Add("topic in SSE", name, "GET", $"/v1/stream?topic={Q(topic)}", 400, "invalid-pattern");
            // ".." is a dot segment: the path becomes POST /v1/events, a batch, whatever the body.
            Add("topic in publish path", name, "POST", $"/v1/topics/{Q(topic)}/events", 400, topic == ".." ? "invalid-body" : "invalid-topic", Utf8("""{"data":1}"""));
            Add("topic in batch", name, "POST", "/v1/events", 400, "invalid-topic",
                Utf8($$"""[{"topic":"ok","data":1},{"topic":{{JsonString(topic)}},"data":2}]"""), detail: "Event 1:");
        }

        foreach (var (name, topic) in TopicNames.Where(t => t.Name is "path traversal ../" or "LF" or "SSE injection CRLF data" or "NUL" or "256 characters" or "backslash"))
        {
            Add("topic in webhook", name, "POST", "/v1/webhooks", 400, "invalid-pattern", Utf8($$"""{"url":"https://93.184.215.14/hook","topics":[{{JsonString(topic)}}]}"""));
            Add("app name in config", name, "PUT", $"/v1/config/{Q(topic)}", 400, "invalid-app", Utf8("""{"a":1}"""));
        }

        Add("topic", "none given", "GET", "/v1/events", 400, "missing-topic");
        Add("topic", "empty", "GET", "/v1/events?topic=", 400, "invalid-pattern");
        Add("topic", "33 patterns", "GET", "/v1/events?" + string.Join("&", Enumerable.Range(0, 33).Select(i => $"topic=t{i}")), 400, "too-many-patterns");
        Add("topic", "wildcard inside a segment", "GET", "/v1/events?topic=orders.e*", 400, "invalid-pattern");
        Add("topic", "> not last", "GET", "/v1/stream?topic=a.%3E.b", 400, "invalid-pattern");
        Add("topic", "wildcard published to", "POST", "/v1/topics/chat.*/events", 400, "invalid-topic", Utf8("""{"data":1}"""));
        Add("topic", "topic member in a single publish", "POST", "/v1/topics/ok/events", 400, "invalid-body", Utf8("""{"topic":"seed.intact","data":1}"""));
        Add("topic", "batch topic not a string", "POST", "/v1/events", 400, "invalid-body", Utf8("""[{"topic":["seed","intact"],"data":1}]"""));
        Add("topic", "batch topic missing", "POST", "/v1/events", 400, "invalid-topic", Utf8("""[{"data":1}]"""));

        // Path traversal in the path itself (not escaped), as a client that builds URLs by concatenation sends it.
        Add("path traversal", "/v1/topics/../events", "POST", "/v1/topics/../events", 400, "invalid-body", Utf8("""{"data":1}"""));
        Add("path traversal", "dot segments climb out of topics", "POST", "/v1/topics/a/../../stream", 405, "method-not-allowed", Utf8("""{"data":1}"""));
        Add("path traversal", "%2e%2e/", "POST", "/v1/topics/%2e%2e/events", 400, "invalid-body", Utf8("""{"data":1}"""));
        Add("path traversal", "..%2f..%2fetc%2fpasswd", "POST", "/v1/topics/..%2f..%2fetc%2fpasswd/events", 400, "invalid-topic", Utf8("""{"data":1}"""));
        Add("path traversal", "%2e%2e%2f", "POST", "/v1/topics/%2e%2e%2f%2e%2e%2fetc/events", 400, "invalid-topic", Utf8("""{"data":1}"""));
        Add("path traversal", "..%5c", "POST", "/v1/topics/..%5c..%5cwindows/events", 400, "invalid-topic", Utf8("""{"data":1}"""));
        Add("path traversal", "raw backslashes", "POST", "/v1/topics/..\\..\\windows/events", 400, "invalid-topic", Utf8("""{"data":1}"""));
        Add("path traversal", "double slash", "POST", "/v1/topics//etc/passwd/events", 404, "not-found", Utf8("""{"data":1}"""));
        Add("path traversal", "out of the prefix", "GET", "/v1/../../../etc/passwd", 404, null);
        Add("path traversal", "config app ..%2f", "PUT", "/v1/config/..%2f..%2fsecrets", 400, "invalid-app", Utf8("""{"a":1}"""));
        Add("path traversal", "config key ../", "DELETE", "/v1/config/badinput/keys/..%2f..%2fetc", 404, "config-key-not-found");
        Add("path traversal", "job id ../", "GET", "/v1/jobs/..%2f..%2fetc%2fpasswd", 400, "invalid-job-id");
        Add("path traversal", "webhook id ../", "GET", "/v1/webhooks/..%2f..%2fetc%2fpasswd", 404, "webhook-not-found");
        Add("path traversal", "job type ../", "POST", "/v1/queues/..%2fetc/claim", 400, "invalid-job-type");

        // Invalid UTF-8: percent-escaped in queries and paths, and raw in bodies.
        foreach (var (name, escaped) in InvalidUtf8Escapes)
        {
            Add("invalid UTF-8 in query", "topic " + name, "GET", $"/v1/events?topic={escaped}", 400, "invalid-pattern");
            Add("invalid UTF-8 in query", "after " + name, "GET", $"/v1/events?topic=seed.intact&after={escaped}", 400, "invalid-cursor");
            Add("invalid UTF-8 in path", "topic " + name, "POST", $"/v1/topics/{escaped}/events", 400, "invalid-topic", Utf8("""{"data":1}"""));
        }

        Add("invalid UTF-8 in path", "config app %FF", "GET", "/v1/config/%FF", 400, "invalid-app");
        Add("invalid UTF-8 in query", "config watch %FF", "GET", "/v1/config?watch=%FF:1", 400, "invalid-app");
        Add("invalid UTF-8 raw", "raw 0xFF in query", "GET", "/v1/events?topic=\u00ff", 400, null);
        Add("invalid UTF-8 raw", "raw 0xFF in path", "POST", "/v1/topics/\u00ff/events", 400, null, Utf8("""{"data":1}"""));
        foreach (var (name, bytes) in InvalidUtf8Json)
        {
            Add("invalid UTF-8 in body", "publish " + name, "POST", "/v1/topics/ok/events", 400, "malformed-json", bytes);
            Add("invalid UTF-8 in body", "config " + name, "PUT", "/v1/config/badinput", 400, "malformed-json", bytes);
        }

        Add("invalid UTF-8 in body", "batch 0xFF", "POST", "/v1/events", 400, "malformed-json", [.. "[{\"topic\":\"ok\",\"data\":\""u8, 0xFF, .. "\"}]"u8]);
        Add("invalid UTF-8 in body", "webhook 0xFF", "POST", "/v1/webhooks", 400, "malformed-json", [.. "{\"url\":\"https://93.184.215.14/\""u8, 0xFF, .. ",\"topics\":[\"a\"]}"u8]);
        Add("invalid UTF-8 in body", "job 0xFF", "POST", "/v1/jobs", 400, "malformed-json", [.. "{\"type\":\"x\",\"input\":\""u8, 0xFF, .. "\"}"u8]);
        // A lone surrogate escape is legal JSON, so in data it is stored as sent; in the strings the hub reads it is refused.
        Add("lone surrogate escape", "publish type", "POST", "/v1/topics/ok/events", 400, "invalid-body", Utf8("""{"type":"\uD800","data":1}"""));
        Add("lone surrogate escape", "batch topic", "POST", "/v1/events", 400, "invalid-body", Utf8("""[{"topic":"\uDC00","data":1}]"""));
        Add("lone surrogate escape", "webhook url", "POST", "/v1/webhooks", 400, "invalid-body", Utf8("""{"url":"https://a\uD800.com/","topics":["a"]}"""));
        Add("lone surrogate escape", "config key", "PUT", "/v1/config/badinput", 400, "invalid-body", Utf8("""{"\uD800":1}"""));
        Add("lone surrogate escape", "config patch key", "PATCH", "/v1/config/badinput", 400, "invalid-body", Utf8("""{"a":{"\uDC00":1}}"""), "application/merge-patch+json");
        Add("lone surrogate escape", "job worker", "POST", "/v1/queues/badinput/claim", 400, "invalid-body", Utf8("""{"worker":"\uD800"}"""));
        Add("lone surrogate escape", "job lease id", "POST", "/v1/jobs/{job}/heartbeat", 400, "invalid-body", Utf8("""{"leaseId":"\uD800"}"""));
        Add("lone surrogate escape", "job type", "POST", "/v1/jobs", 400, "invalid-body", Utf8("""{"type":"\uD800"}"""));

        // Malformed and deeply nested JSON on every endpoint that reads a body.
        foreach (var (name, json) in MalformedJson)
        {
            Add("malformed JSON", "publish " + name, "POST", "/v1/topics/ok/events", 400, "malformed-json", Utf8(json));
        }

        foreach (var (name, json) in MalformedJson.Where(m => m.Name is "missing value" or "trailing comma" or "10,000 open brackets" or "10,000 nested objects" or "65 levels deep" or "raw newline in string"))
        {
            Add("malformed JSON", "batch " + name, "POST", "/v1/events", 400, "malformed-json", Utf8(json));
            Add("malformed JSON", "config " + name, "PUT", "/v1/config/badinput", 400, "malformed-json", Utf8(json));
            Add("malformed JSON", "config patch " + name, "PATCH", "/v1/config/badinput", 400, "malformed-json", Utf8(json), "application/merge-patch+json");
            Add("malformed JSON", "webhook " + name, "POST", "/v1/webhooks", 400, "malformed-json", Utf8(json));
            Add("malformed JSON", "job " + name, "POST", "/v1/jobs", 400, "malformed-json", Utf8(json));
        }

        Add("malformed JSON", "empty publish body", "POST", "/v1/topics/ok/events", 400, "malformed-json", []);
        Add("malformed JSON", "empty batch body", "POST", "/v1/events", 400, "malformed-json", []);
        Add("malformed JSON", "webhook replay", "POST", "/v1/webhooks/{webhook}/replay", 400, "malformed-json", Utf8("{\"after\":"));
        Add("malformed JSON", "job claim", "POST", "/v1/queues/badinput/claim", 400, "malformed-json", Utf8("{\"worker\""));
        Add("malformed JSON", "job complete", "POST", "/v1/jobs/{job}/complete", 400, "malformed-json", Utf8(new string('[', 10_000)));

        // Well-formed JSON of the wrong shape.
        Add("wrong shape", "publish array", "POST", "/v1/topics/ok/events", 400, "invalid-body", Utf8("[1,2]"));
        Add("wrong shape", "publish string", "POST", "/v1/topics/ok/events", 400, "invalid-body", Utf8("\"data\""));
        Add("wrong shape", "publish null", "POST", "/v1/topics/ok/events", 400, "invalid-body", Utf8("null"));
        Add("wrong shape", "publish typo dta", "POST", "/v1/topics/ok/events", 400, "invalid-body", Utf8("""{"dta":1}"""), detail: "dta");
        Add("wrong shape", "publish type number", "POST", "/v1/topics/ok/events", 400, "invalid-type", Utf8("""{"type":5,"data":1}"""));
        Add("wrong shape", "batch object", "POST", "/v1/events", 400, "invalid-body", Utf8("""{"topic":"ok","data":1}"""));
        Add("wrong shape", "batch empty", "POST", "/v1/events", 400, "invalid-body", Utf8("[]"));
        Add("wrong shape", "batch of numbers", "POST", "/v1/events", 400, "invalid-body", Utf8("[1,2,3]"), detail: "Event 0:");
        Add("wrong shape", "config array", "PUT", "/v1/config/badinput", 400, "invalid-body", Utf8("[1]"));
        Add("wrong shape", "config null", "PUT", "/v1/config/badinput", 400, "invalid-body", Utf8("null"));
        Add("wrong shape", "config empty body", "PUT", "/v1/config/badinput", 400, "invalid-body", []);
        Add("wrong shape", "config patch string", "PATCH", "/v1/config/badinput", 400, "invalid-body", Utf8("\"x\""), "application/merge-patch+json");
        Add("wrong shape", "config text/plain", "PUT", "/v1/config/badinput", 415, "unsupported-media-type", Utf8("""{"a":1}"""), "text/plain");
        Add("wrong shape", "config form", "PUT", "/v1/config/badinput", 415, "unsupported-media-type", Utf8("a=1"), "application/x-www-form-urlencoded");
        Add("wrong shape", "webhook array", "POST", "/v1/webhooks", 400, "invalid-body", Utf8("[]"));
        Add("wrong shape", "job array", "POST", "/v1/jobs", 400, "invalid-body", Utf8("[]"));

        // Event types: control characters (an SSE line break among them) and the reserved prefix.
        foreach (var (name, type, code) in new[]
        {
            ("LF data injection", "x\n data: injected", "invalid-type"),
            ("CRLF data injection", "x\r\ndata: injected", "invalid-type"),
            ("CR", "x\ry", "invalid-type"),
            ("blank line then event", "x\n\nevent: switchboard.reset", "invalid-type"),
            ("NUL", "x\0y", "invalid-type"),
            ("tab", "x\ty", "invalid-type"),
            ("escape", "\u001b[2J", "invalid-type"),
            ("C1 control NEL", "x\u0085y", "invalid-type"),
            ("empty", "", "invalid-type"),
            ("129 characters", new string('t', 129), "invalid-type"),
            ("reserved prefix", "switchboard.reset", "reserved-type"),
            ("reserved prefix only", "switchboard.", "reserved-type"),
        })
        {
            Add("event type", "publish " + name, "POST", "/v1/topics/ok/events", 400, code, Utf8($$"""{"type":{{JsonString(type)}},"data":1}"""));
            Add("event type", "batch " + name, "POST", "/v1/events", 400, code, Utf8($$"""[{"topic":"ok","type":{{JsonString(type)}},"data":1}]"""));
        }

        Add("event type", "webhook types with LF", "POST", "/v1/webhooks", 400, "invalid-body", Utf8("""{"url":"https://93.184.215.14/","topics":["a"],"types":["x\ndata: y"]}"""));

        // Oversized bodies (413) and headers (Kestrel's 431 and 414).
        var bigData = "\"" + new string('x', 64 * 1024) + "\"";
        Add("oversized body", "publish data over 64 KiB", "POST", "/v1/topics/ok/events", 413, "payload-too-large", Utf8($$"""{"data":{{bigData}}}"""));
        Add("oversized body", "publish body over the envelope", "POST", "/v1/topics/ok/events", 413, "payload-too-large", Utf8($$"""{"data":"{{new string('x', 80 * 1024)}}"}"""));
        Add("oversized body", "publish declares 10 GB", "POST", "/v1/topics/ok/events", 413, "payload-too-large", Utf8("{}"), headers: [("Content-Length", "10000000000")]);
        Add("oversized body", "batch over 1 MiB", "POST", "/v1/events", 413, "payload-too-large",
            Utf8("[" + string.Join(",", Enumerable.Repeat($$"""{"topic":"ok","data":"{{new string('x', 60_000)}}"}""", 18)) + "]"));
        Add("oversized body", "batch of 1001 events", "POST", "/v1/events", 413, "batch-too-large",
            Utf8("[" + string.Join(",", Enumerable.Repeat("""{"topic":"ok"}""", 1001)) + "]"));
        Add("oversized body", "batch event over 64 KiB", "POST", "/v1/events", 413, "payload-too-large", Utf8($$"""[{"topic":"ok","data":{{bigData}}}]"""), detail: "Event 0:");
        Add("oversized body", "config over 64 KiB", "PUT", "/v1/config/badinput", 413, "payload-too-large", Utf8($$"""{"a":{{bigData}}}"""));
        Add("oversized body", "config 1001 keys", "PUT", "/v1/config/badinput", 400, "too-many-keys",
            Utf8("{" + string.Join(",", Enumerable.Range(0, 1001).Select(i => $"\"k{i}\":1")) + "}"));
        Add("oversized body", "webhook over 64 KiB", "POST", "/v1/webhooks", 413, "payload-too-large", Utf8($$"""{"description":{{bigData}}}"""));
        Add("oversized body", "job input over 64 KiB", "POST", "/v1/jobs", 413, "payload-too-large", Utf8($$"""{"type":"x","input":{{bigData}}}"""));
        Add("oversized body", "job output over the limit", "POST", "/v1/jobs/{job}/progress", 413, "payload-too-large", Utf8($$"""{"leaseId":"l","output":{{bigData}}}"""));
        Add("oversized header", "one 40 KB header", "GET", "/v1/health", 431, "request-headers-too-large", headers: [("X-Big", new string('h', 40_000))]);
        Add("oversized header", "200 headers", "GET", "/v1/health", 431, null, headers: [.. Enumerable.Range(0, 200).Select(i => ($"X-H{i}", "v"))]);
        Add("oversized header", "40 KB Last-Event-ID", "GET", "/v1/stream?topic=seed.intact", 431, "request-headers-too-large", headers: [("Last-Event-ID", new string('1', 40_000))]);
        Add("oversized header", "40 KB cookie", "GET", "/v1/events?topic=a", 431, "request-headers-too-large", headers: [("Cookie", "a=" + new string('c', 40_000))]);
        Add("oversized header", "10 KB request line", "GET", "/v1/events?topic=" + new string('a', 10_000), 400, "invalid-pattern");
        Add("oversized header", "20 KB request line", "GET", "/v1/events?topic=" + new string('a', 20_000), 414, "uri-too-long");
        // Beyond Kestrel's raised limit Kestrel answers itself, without a body.
        Add("oversized header", "100 KB request line", "GET", "/v1/events?topic=" + new string('a', 100_000), 414, null);
        Add("oversized header", "100 KB header", "GET", "/v1/health", 431, null, headers: [("X-Big", new string('h', 100_000))]);
        Add("header", "Idempotency-Key of 256 characters", "POST", "/v1/topics/ok/events", 400, "invalid-idempotency-key", Utf8("""{"data":1}"""), headers: [("Idempotency-Key", new string('k', 256))]);
        Add("header", "empty Idempotency-Key", "POST", "/v1/topics/ok/events", 400, "invalid-idempotency-key", Utf8("""{"data":1}"""), headers: [("Idempotency-Key", "")]);
        Add("header", "Idempotency-Key with DEL", "POST", "/v1/events", 400, "invalid-idempotency-key", Utf8("""[{"topic":"ok"}]"""), headers: [("Idempotency-Key", "a\u007fb")]);
        Add("header", "two Idempotency-Key headers", "POST", "/v1/topics/ok/events", 400, "invalid-idempotency-key", Utf8("""{"data":1}"""), headers: [("Idempotency-Key", "a1"), ("Idempotency-Key", "a2")]);
        Add("header", "two job Idempotency-Key headers", "POST", "/v1/jobs", 400, "invalid-idempotency-key", Utf8("""{"type":"x"}"""), headers: [("Idempotency-Key", "a1"), ("Idempotency-Key", "a2")]);
        Add("header", "job Idempotency-Key of 256 characters", "POST", "/v1/jobs", 400, "invalid-idempotency-key", Utf8("""{"type":"x"}"""), headers: [("Idempotency-Key", new string('k', 256))]);
        Add("header", "NUL in a header value", "GET", "/v1/health", 400, null, headers: [("X-Evil", "a\0b")]);
        Add("header", "Last-Event-ID garbage", "GET", "/v1/stream?topic=seed.intact", 400, "invalid-cursor", headers: [("Last-Event-ID", "not-a-cursor")]);
        Add("header", "Last-Event-ID raw non-ASCII", "GET", "/v1/stream?topic=seed.intact", 400, null, headers: [("Last-Event-ID", "\u00e9poch.5")]);
        Add("header", "chunked body with a bad chunk size", "POST", "/v1/topics/ok/events", 400, "bad-request", Utf8("zz\r\n{}\r\n0\r\n\r\n"), headers: [("Transfer-Encoding", "chunked")]);
        // Kestrel reports a chunk size past 32 bits as an IOException (an OverflowException inside), not as a
        // BadHttpRequestException: it was an unhandled 500 with an empty body.
        Add("header", "chunked body whose chunk size overflows", "POST", "/v1/topics/ok/events", 400, "bad-request", Utf8("ffffffffffffffffff\r\n{}\r\n0\r\n\r\n"), headers: [("Transfer-Encoding", "chunked")]);
        Add("header", "chunked config body whose chunk size overflows", "PUT", "/v1/config/badinput", 400, "bad-request", Utf8("100000000\r\n{}\r\n0\r\n\r\n"), headers: [("Transfer-Encoding", "chunked")]);

        // Content codings: the hub decodes none, so a compressed body (or one that only claims a coding) is a 415 that
        // says so, not "not UTF-8" or, for a body that happens to be plain, an event stored under a coding it lacks.
        var gzipped = Gzip("""{"data":1}""");
        Add("content encoding", "gzip publish", "POST", "/v1/topics/ok/events", 415, "unsupported-content-encoding", gzipped, headers: [("Content-Encoding", "gzip")], detail: "gzip");
        Add("content encoding", "br claimed on a plain batch", "POST", "/v1/events", 415, "unsupported-content-encoding", Utf8("""[{"topic":"ok","data":1}]"""), headers: [("Content-Encoding", "br")]);
        Add("content encoding", "gzip config", "PUT", "/v1/config/badinput", 415, "unsupported-content-encoding", Gzip("""{"a":2}"""), headers: [("Content-Encoding", "gzip")]);
        Add("content encoding", "deflate webhook", "POST", "/v1/webhooks", 415, "unsupported-content-encoding", Utf8("""{"url":"https://93.184.215.14/hook","topics":["never.delivered"]}"""), headers: [("Content-Encoding", "deflate")]);
        Add("content encoding", "gzip job", "POST", "/v1/jobs", 415, "unsupported-content-encoding", Gzip("""{"type":"x"}"""), headers: [("Content-Encoding", "gzip")]);
        Add("content encoding", "identity then gzip", "POST", "/v1/topics/ok/events", 415, "unsupported-content-encoding", gzipped, headers: [("Content-Encoding", "identity, gzip")]);
        Add("content encoding", "unknown coding", "POST", "/v1/webhooks/{webhook}/replay", 415, "unsupported-content-encoding", Utf8("""{"after":"earliest"}"""), headers: [("Content-Encoding", "x-made-up")]);

        // Numbers: limit, wait, version, history (config and attempts) and leases.
        foreach (var (name, value) in BadWholeNumbers)
        {
            Add("limit", name, "GET", $"/v1/events?topic=seed.intact&limit={Q(value)}", 400, "invalid-limit");
            Add("config history limit", name, "GET", $"/v1/config/badinput/history?limit={Q(value)}", 400, "invalid-limit");
            Add("config version", name, "GET", $"/v1/config/badinput?version={Q(value)}&wait=1", 400, "invalid-version");
        }

        Add("limit", "zero", "GET", "/v1/events?topic=seed.intact&limit=0", 400, "invalid-limit");
        Add("limit", "past 32 bits", "GET", "/v1/events?topic=seed.intact&limit=4294967296", 400, "invalid-limit");
        Add("config history limit", "1001", "GET", "/v1/config/badinput/history?limit=1001", 400, "invalid-limit");
        Add("config history limit", "zero", "GET", "/v1/config/badinput/history?limit=0", 400, "invalid-limit");
        foreach (var (name, value) in BadNumbers)
        {
            Add("wait", "poll " + name, "GET", $"/v1/events?topic=seed.intact&wait={Q(value)}", 400, "invalid-wait");
            Add("wait", "config " + name, "GET", $"/v1/config/badinput?version=1&wait={Q(value)}", 400, "invalid-wait");
            Add("wait", "job " + name, "GET", $"/v1/jobs/{{job}}?wait={Q(value)}", 400, "invalid-wait");
        }

        Add("wait", "claim negative", "POST", "/v1/queues/badinput/claim?wait=-5", 400, "invalid-wait", Utf8("{}"));
        Add("wait", "claim NaN", "POST", "/v1/queues/badinput/claim?wait=NaN", 400, "invalid-wait", Utf8("{}"));
        Add("wait", "config watch Infinity", "GET", "/v1/config?watch=badinput:1&wait=Infinity", 400, "invalid-wait");
        Add("config version", "long poll without version", "GET", "/v1/config/badinput?wait=1", 400, "missing-version");
        Add("config watch", "empty", "GET", "/v1/config?watch=", 400, "invalid-watch");
        Add("config watch", "missing", "GET", "/v1/config", 400, "invalid-watch");
        Add("config watch", "non-numeric version", "GET", "/v1/config?watch=badinput:x", 400, "invalid-version");
        Add("config watch", "negative version", "GET", "/v1/config?watch=badinput:-1", 400, "invalid-version");
        Add("config watch", "app twice", "GET", "/v1/config?watch=badinput:1,badinput:2", 400, "invalid-watch");
        Add("config watch", "dotted app", "GET", "/v1/config?watch=a.b:1", 400, "invalid-app");
        Add("config watch", "101 apps", "GET", "/v1/config?watch=" + string.Join(",", Enumerable.Range(0, 101).Select(i => $"app{i}:0")), 400, "invalid-watch");
        Add("config watch", "colon only", "GET", "/v1/config?watch=:", 400, "invalid-app");
        Add("attempts limit", "zero", "GET", "/v1/webhooks/{webhook}/attempts?limit=0", 400, "invalid-query");
        Add("attempts limit", "negative", "GET", "/v1/webhooks/{webhook}/attempts?limit=-1", 400, "invalid-query");
        Add("attempts limit", "exponent", "GET", "/v1/webhooks/{webhook}/attempts?limit=1e3", 400, "invalid-query");
        Add("attempts limit", "1001", "GET", "/v1/webhooks/{webhook}/attempts?limit=1001", 400, "invalid-query");
        Add("attempts limit", "trailing NUL", "GET", "/v1/webhooks/{webhook}/attempts?limit=5%00", 400, "invalid-query");
        Add("attempts status", "unknown", "GET", "/v1/webhooks/{webhook}/attempts?status=all", 400, "invalid-query");
        Add("job redirect", "not a boolean", "GET", "/v1/jobs/{job}?redirect=yes", 400, "invalid-query");

        // Cursors: garbage is a 400; a well-formed cursor this hub did not issue is a 410 with a fresh cursor.
        foreach (var (name, cursor) in GarbageCursors)
        {
            Add("garbage cursor", "poll " + name, "GET", $"/v1/events?topic=seed.intact&after={Q(cursor)}", 400, "invalid-cursor");
            Add("garbage cursor", "SSE " + name, "GET", $"/v1/stream?topic=seed.intact&after={Q(cursor)}", 400, "invalid-cursor");
        }

        Add("garbage cursor", "job stream", "GET", "/v1/jobs/{job}/stream?after=garbage", 400, "invalid-cursor");
        Add("garbage cursor", "webhook create", "POST", "/v1/webhooks", 400, "invalid-cursor", Utf8("""{"url":"https://93.184.215.14/","topics":["a"],"after":"garbage"}"""));
        Add("garbage cursor", "webhook replay", "POST", "/v1/webhooks/{webhook}/replay", 400, "invalid-cursor", Utf8("""{"after":"garbage"}"""));
        Add("garbage cursor", "webhook replay number", "POST", "/v1/webhooks/{webhook}/replay", 400, "invalid-body", Utf8("""{"after":5}"""));
        Add("foreign cursor", "poll wrong epoch", "GET", "/v1/events?topic=seed.intact&after=0123456789abcdef.3", 410, "epoch-changed");
        Add("foreign cursor", "poll ahead of the log", "GET", "/v1/events?topic=seed.intact&after={epoch}.9000000000000000000", 410, "cursor-ahead");
        Add("foreign cursor", "poll long.MaxValue", "GET", "/v1/events?topic=seed.intact&after={epoch}.9223372036854775807", 410, "cursor-ahead");
        Add("foreign cursor", "webhook replay wrong epoch", "POST", "/v1/webhooks/{webhook}/replay", 410, "epoch-changed", Utf8("""{"after":"0123456789abcdef.3"}"""));
        Add("foreign cursor", "webhook create ahead", "POST", "/v1/webhooks", 410, "cursor-ahead", Utf8("""{"url":"https://93.184.215.14/","topics":["a"],"after":"{epoch}.99999999"}"""));

        // Webhook URLs aimed at the server's own network, and other schemes (SSRF).
        foreach (var (name, url, code) in new[]
        {
            ("loopback", "http://127.0.0.1/hook", "forbidden-url"),
            ("loopback with port", "https://127.0.0.1:8443/hook", "forbidden-url"),
            ("loopback 127.1.2.3", "http://127.1.2.3/", "forbidden-url"),
            ("IPv6 loopback", "http://[::1]/", "forbidden-url"),
            ("IPv6 loopback long form", "http://[0:0:0:0:0:0:0:1]/", "forbidden-url"),
            ("cloud metadata", "http://169.254.169.254/latest/meta-data/", "forbidden-url"),
            ("link-local", "http://169.254.1.1/", "forbidden-url"),
            ("private 10/8", "http://10.0.0.1/", "forbidden-url"),
            ("private 172.16/12", "http://172.16.5.4/", "forbidden-url"),
            ("private 192.168/16", "https://192.168.1.1/", "forbidden-url"),
            ("carrier-grade NAT", "http://100.64.0.1/", "forbidden-url"),
            ("this network 0.0.0.0", "http://0.0.0.0/", "forbidden-url"),
            ("0 shorthand", "http://0/", "forbidden-url"),
            ("decimal IP", "http://2130706433/", "forbidden-url"),
            ("octal IP", "http://0177.0.0.1/", "forbidden-url"),
            ("hex IP", "http://0x7f.0.0.1/", "forbidden-url"),
            ("hex whole IP", "http://0x7f000001/", "forbidden-url"),
            ("short form 127.1", "http://127.1/", "forbidden-url"),
            ("IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]/", "forbidden-url"),
            ("IPv4-mapped IPv6 metadata", "http://[::ffff:a9fe:a9fe]/", "forbidden-url"),
            ("IPv4-compatible IPv6 loopback", "http://[::127.0.0.1]/", "forbidden-url"),
            ("IPv6 unspecified", "http://[::]/", "forbidden-url"),
            ("IPv6 unique local", "http://[fd00::1]/", "forbidden-url"),
            ("IPv6 link-local", "http://[fe80::1]/", "forbidden-url"),
            ("NAT64 to loopback", "http://[64:ff9b::7f00:1]/", "forbidden-url"),
            ("6to4 to loopback", "http://[2002:7f00:1::]/", "forbidden-url"),
            ("multicast", "http://224.0.0.1/", "forbidden-url"),
            ("broadcast", "http://255.255.255.255/", "forbidden-url"),
            ("localhost name", "http://localhost/", "forbidden-url"),
            ("userinfo trick", "http://example.com@127.0.0.1/", "forbidden-url"),
            ("userinfo trick with port", "http://example.com:443@169.254.169.254/", "forbidden-url"),
            ("file scheme", "file:///etc/passwd", "invalid-url"),
            ("gopher scheme", "gopher://127.0.0.1:25/_HELO", "invalid-url"),
            ("ftp scheme", "ftp://93.184.215.14/", "invalid-url"),
            ("dict scheme", "dict://127.0.0.1:11211/stat", "invalid-url"),
            ("javascript scheme", "javascript:alert(1)", "invalid-url"),
            ("data scheme", "data:text/plain,hi", "invalid-url"),
            ("relative", "/hook", "invalid-url"),
            ("protocol-relative", "//127.0.0.1/hook", "invalid-url"),
            ("no host", "http:///hook", "invalid-url"),
            ("fragment", "https://93.184.215.14/hook#x", "invalid-url"),
            ("port out of range", "https://93.184.215.14:99999/", "invalid-url"),
            ("port zero", "https://93.184.215.14:0/hook", "invalid-url"),
            ("unclosed IPv6", "http://[::1/", "invalid-url"),
            ("longer than 2048", "https://93.184.215.14/" + new string('a', 2100), "invalid-url"),
            ("empty", "", "invalid-url"),
        })
        {
            Add("webhook URL", name, "POST", "/v1/webhooks", 400, code, Utf8($$"""{"url":{{JsonString(url)}},"topics":["never.delivered"]}"""));
        }

        Add("webhook URL", "patch to loopback", "PATCH", "/v1/webhooks/{webhook}", 400, "forbidden-url", Utf8("""{"url":"http://127.0.0.1/"}"""));
        Add("webhook URL", "patch to metadata", "PATCH", "/v1/webhooks/{webhook}", 400, "forbidden-url", Utf8("""{"url":"http://169.254.169.254/"}"""));

        // Webhook bodies and ids.
        foreach (var (name, body, code) in new[]
        {
            ("url not a string", """{"url":5,"topics":["a"]}""", "invalid-body"),
            ("url missing", """{"topics":["a"]}""", "invalid-body"),
            ("topics missing", """{"url":"https://93.184.215.14/"}""", "missing-topic"),
            ("topics empty", """{"url":"https://93.184.215.14/","topics":[]}""", "invalid-body"),
            ("topics a string", """{"url":"https://93.184.215.14/","topics":"a"}""", "invalid-body"),
            ("topics with null", """{"url":"https://93.184.215.14/","topics":[null]}""", "invalid-body"),
            ("33 topics", "{\"url\":\"https://93.184.215.14/\",\"topics\":[" + string.Join(",", Enumerable.Range(0, 33).Select(i => $"\"t{i}\"")) + "]}", "invalid-body"),
            ("unknown property", """{"url":"https://93.184.215.14/","topics":["a"],"secret":"mine"}""", "invalid-body"),
            ("mode unknown", """{"url":"https://93.184.215.14/","topics":["a"],"mode":"chaos"}""", "invalid-body"),
            ("maxInFlight zero", """{"url":"https://93.184.215.14/","topics":["a"],"maxInFlight":0}""", "invalid-body"),
            ("maxInFlight negative", """{"url":"https://93.184.215.14/","topics":["a"],"maxInFlight":-1}""", "invalid-body"),
            ("maxInFlight huge", """{"url":"https://93.184.215.14/","topics":["a"],"maxInFlight":1e300}""", "invalid-body"),
            ("maxInFlight string", """{"url":"https://93.184.215.14/","topics":["a"],"maxInFlight":"3"}""", "invalid-body"),
            ("maxInFlight fraction", """{"url":"https://93.184.215.14/","topics":["a"],"maxInFlight":1.5}""", "invalid-body"),
            ("ordered with maxInFlight 5", """{"url":"https://93.184.215.14/","topics":["a"],"mode":"ordered","maxInFlight":5}""", "invalid-body"),
            ("rateLimit zero", """{"url":"https://93.184.215.14/","topics":["a"],"rateLimit":{"perSecond":0}}""", "invalid-body"),
            ("rateLimit number", """{"url":"https://93.184.215.14/","topics":["a"],"rateLimit":5}""", "invalid-body"),
            ("rateLimit extra member", """{"url":"https://93.184.215.14/","topics":["a"],"rateLimit":{"perSecond":5,"burst":9}}""", "invalid-body"),
            ("description too long", "{\"url\":\"https://93.184.215.14/\",\"topics\":[\"a\"],\"description\":\"" + new string('d', 1025) + "\"}", "invalid-body"),
            ("after not a string", """{"url":"https://93.184.215.14/","topics":["a"],"after":1}""", "invalid-body"),
        })
        {
            Add("webhook body", name, "POST", "/v1/webhooks", 400, code, Utf8(body));
        }

        Add("webhook body", "patch after (create only)", "PATCH", "/v1/webhooks/{webhook}", 400, "invalid-body", Utf8("""{"after":"earliest"}"""));
        Add("webhook body", "patch topics invalid", "PATCH", "/v1/webhooks/{webhook}", 400, "invalid-pattern", Utf8("""{"topics":["a..b"]}"""));
        Add("webhook body", "replay missing after", "POST", "/v1/webhooks/{webhook}/replay", 400, "invalid-body", Utf8("{}"));
        Add("webhook body", "replay extra member", "POST", "/v1/webhooks/{webhook}/replay", 400, "invalid-body", Utf8("""{"after":"earliest","force":true}"""));
        Add("webhook body", "recover since garbage", "POST", "/v1/webhooks/{webhook}/recover", 400, "invalid-time", Utf8("""{"since":"yesterday"}"""));
        Add("webhook body", "recover since number", "POST", "/v1/webhooks/{webhook}/recover", 400, "invalid-body", Utf8("""{"since":1700000000}"""));
        Add("webhook body", "recover since year 99999", "POST", "/v1/webhooks/{webhook}/recover", 400, "invalid-time", Utf8("""{"since":"99999-01-01T00:00:00Z"}"""));
        foreach (var (name, id) in new[] { ("unknown", "wh_nope"), ("5,000 characters", new string('w', 5000)), ("percent-encoded NUL", "wh%00"), ("quote and markup", "%22%3Cscript%3E") })
        {
            Add("webhook id", "get " + name, "GET", $"/v1/webhooks/{id}", 404, "webhook-not-found");
            Add("webhook id", "patch " + name, "PATCH", $"/v1/webhooks/{id}", 404, "webhook-not-found", Utf8("""{"description":"x"}"""));
            Add("webhook id", "delete " + name, "DELETE", $"/v1/webhooks/{id}", 404, "webhook-not-found");
        }

        Add("webhook id", "rotate unknown", "POST", "/v1/webhooks/wh_nope/rotate-secret", 404, "webhook-not-found");
        Add("webhook id", "enable unknown", "POST", "/v1/webhooks/wh_nope/enable", 404, "webhook-not-found");
        Add("webhook id", "pause unknown", "POST", "/v1/webhooks/wh_nope/pause", 404, "webhook-not-found");
        Add("webhook id", "replay unknown", "POST", "/v1/webhooks/wh_nope/replay", 404, "webhook-not-found", Utf8("""{"after":"earliest"}"""));
        Add("webhook id", "recover unknown", "POST", "/v1/webhooks/wh_nope/recover", 404, "webhook-not-found", Utf8("""{"since":"2026-01-01T00:00:00Z"}"""));
        Add("webhook id", "attempts unknown", "GET", "/v1/webhooks/wh_nope/attempts", 404, "webhook-not-found");
        Add("webhook id", "test unknown", "POST", "/v1/webhooks/wh_nope/test", 404, "webhook-not-found");

        // Jobs: bodies, ids, leases.
        foreach (var (name, body, code) in new[]
        {
            ("type missing", """{"input":1}""", "invalid-job-type"),
            ("type not a string", """{"type":5}""", "invalid-body"),
            ("type with LF", """{"type":"a\nb"}""", "invalid-job-type"),
            ("type with space", """{"type":"a b"}""", "invalid-job-type"),
            ("type with slash", """{"type":"../x"}""", "invalid-job-type"),
            ("type of 129 characters", "{\"type\":\"" + new string('t', 129) + "\"}", "invalid-job-type"),
            ("maxAttempts zero", """{"type":"x","maxAttempts":0}""", "invalid-body"),
            ("maxAttempts negative", """{"type":"x","maxAttempts":-1}""", "invalid-body"),
            ("maxAttempts huge", """{"type":"x","maxAttempts":1e10}""", "invalid-body"),
            ("maxAttempts string", """{"type":"x","maxAttempts":"3"}""", "invalid-body"),
            ("maxAttempts 101", """{"type":"x","maxAttempts":101}""", "invalid-body"),
            ("unknown property", """{"type":"x","priority":1}""", "invalid-body"),
            ("idempotencyKey number", """{"type":"x","idempotencyKey":5}""", "invalid-body"),
            ("idempotencyKey with LF", """{"type":"x","idempotencyKey":"a\nb"}""", "invalid-idempotency-key"),
        })
        {
            Add("job body", name, "POST", "/v1/jobs", 400, code, Utf8(body));
        }

        Add("job body", "header and body keys differ", "POST", "/v1/jobs", 400, "invalid-body", Utf8("""{"type":"x","idempotencyKey":"a"}"""), headers: [("Idempotency-Key", "b")]);
        // An id no job can have (it is not one topic segment) is 400 invalid-job-id; a well-formed one that names no job, 404.
        foreach (var (name, id, status, code) in new[]
        {
            ("unknown", "job_nope", 404, "job-not-found"), ("5,000 characters", new string('j', 5000), 400, "invalid-job-id"),
            ("SQL", "1'%20OR%20'1'%3D'1", 400, "invalid-job-id"), ("percent-encoded NUL", "j%00", 404, "job-not-found"),
        })
        {
            Add("job id", "get " + name, "GET", $"/v1/jobs/{id}", status, code);
            Add("job id", "cancel " + name, "DELETE", $"/v1/jobs/{id}", status, code);
            Add("job id", "result " + name, "GET", $"/v1/jobs/{id}/result", status, code);
            Add("job id", "stream " + name, "GET", $"/v1/jobs/{id}/stream", status, code);
            Add("job id", "heartbeat " + name, "POST", $"/v1/jobs/{id}/heartbeat", status, code, Utf8("""{"leaseId":"l"}"""));
        }

        Add("job lease", "heartbeat without leaseId", "POST", "/v1/jobs/{job}/heartbeat", 400, "missing-lease", Utf8("{}"));
        Add("job lease", "heartbeat leaseId number", "POST", "/v1/jobs/{job}/heartbeat", 400, "missing-lease", Utf8("""{"leaseId":5}"""));
        Add("job lease", "heartbeat leaseSeconds zero", "POST", "/v1/jobs/{job}/heartbeat", 400, "invalid-body", Utf8("""{"leaseId":"l","leaseSeconds":0}"""));
        Add("job lease", "heartbeat leaseSeconds huge", "POST", "/v1/jobs/{job}/heartbeat", 400, "invalid-body", Utf8("""{"leaseId":"l","leaseSeconds":1e308}"""));
        Add("job lease", "heartbeat leaseSeconds string", "POST", "/v1/jobs/{job}/heartbeat", 400, "invalid-body", Utf8("""{"leaseId":"l","leaseSeconds":"NaN"}"""));
        Add("job lease", "heartbeat unknown member", "POST", "/v1/jobs/{job}/heartbeat", 400, "invalid-body", Utf8("""{"leaseId":"l","x":1}"""));
        Add("job lease", "heartbeat on a queued job", "POST", "/v1/jobs/{job}/heartbeat", 409, "lease-lost", Utf8("""{"leaseId":"forged"}"""));
        Add("job lease", "progress percent 101", "POST", "/v1/jobs/{job}/progress", 400, "invalid-body", Utf8("""{"leaseId":"l","percent":101}"""));
        Add("job lease", "progress percent negative", "POST", "/v1/jobs/{job}/progress", 400, "invalid-body", Utf8("""{"leaseId":"l","percent":-1}"""));
        Add("job lease", "progress percent string", "POST", "/v1/jobs/{job}/progress", 400, "invalid-body", Utf8("""{"leaseId":"l","percent":"50"}"""));
        Add("job lease", "progress nothing", "POST", "/v1/jobs/{job}/progress", 400, "invalid-body", Utf8("""{"leaseId":"l"}"""));
        Add("job lease", "progress output number", "POST", "/v1/jobs/{job}/progress", 400, "invalid-body", Utf8("""{"leaseId":"l","output":5}"""));
        Add("job lease", "fail retryable string", "POST", "/v1/jobs/{job}/fail", 400, "invalid-body", Utf8("""{"leaseId":"l","retryable":"yes"}"""));
        Add("job lease", "fail error number", "POST", "/v1/jobs/{job}/fail", 400, "invalid-body", Utf8("""{"leaseId":"l","error":5}"""));
        Add("job lease", "complete with forged lease", "POST", "/v1/jobs/{job}/complete", 409, "lease-lost", Utf8("""{"leaseId":"forged","result":1}"""));
        Add("job lease", "result before success", "GET", "/v1/jobs/{job}/result", 409, "job-not-succeeded");
        Add("job claim", "type with space", "POST", "/v1/queues/a%20b/claim", 400, "invalid-job-type", Utf8("{}"));
        Add("job claim", "type with NUL", "POST", "/v1/queues/a%00b/claim", 400, "invalid-job-type", Utf8("{}"));
        Add("job claim", "worker empty", "POST", "/v1/queues/badinput/claim", 400, "invalid-body", Utf8("""{"worker":""}"""));
        Add("job claim", "worker with LF", "POST", "/v1/queues/badinput/claim", 400, "invalid-body", Utf8("""{"worker":"a\nb"}"""));
        Add("job claim", "leaseSeconds negative", "POST", "/v1/queues/badinput/claim", 400, "invalid-body", Utf8("""{"leaseSeconds":-1}"""));
        Add("job claim", "leaseSeconds over the maximum", "POST", "/v1/queues/badinput/claim", 400, "invalid-body", Utf8("""{"leaseSeconds":601}"""));
        Add("job claim", "unknown member", "POST", "/v1/queues/badinput/claim", 400, "invalid-body", Utf8("""{"priority":1}"""));

        // Config: keys, flags, ids.
        foreach (var (name, body, code) in new[]
        {
            ("empty key", """{"":1}""", "invalid-key"),
            ("key with LF", """{"a\nb":1}""", "invalid-key"),
            ("key with NUL", """{"a\u0000b":1}""", "invalid-key"),
            ("key of 257 characters", "{\"" + new string('k', 257) + "\":1}", "invalid-key"),
            ("rollout 101", """{"flag":{"rollout":101}}""", "invalid-flag"),
            ("rollout negative", """{"flag":{"rollout":-0.5}}""", "invalid-flag"),
            ("rollout string", """{"flag":{"rollout":"50"}}""", "invalid-flag"),
            ("rollout huge", """{"flag":{"rollout":1e400}}""", "invalid-flag"),
            ("duplicate keys", """{"a":1,"a":2}""", "malformed-json"),
            ("duplicate nested keys", """{"a":{"b":1,"b":2}}""", "malformed-json"),
        })
        {
            Add("config body", "put " + name, "PUT", "/v1/config/badinput", 400, code, Utf8(body));
        }

        Add("config body", "patch key with LF", "PATCH", "/v1/config/badinput", 400, "invalid-key", Utf8("""{"a\nb":1}"""), "application/merge-patch+json");
        Add("config body", "patch rollout 200", "PATCH", "/v1/config/badinput", 400, "invalid-flag", Utf8("""{"flag":{"rollout":200}}"""), "application/merge-patch+json");
        Add("config id", "unknown app", "GET", "/v1/config/nosuchapp", 404, "config-not-found");
        Add("config id", "history of unknown app", "GET", "/v1/config/nosuchapp/history", 404, "config-not-found");
        Add("config id", "delete key of unknown app", "DELETE", "/v1/config/nosuchapp/keys/a", 404, "config-key-not-found");
        Add("config id", "delete unknown key", "DELETE", "/v1/config/badinput/keys/nope", 404, "config-key-not-found");
        Add("config id", "delete key with LF", "DELETE", "/v1/config/badinput/keys/a%0Ab", 400, "invalid-key");
        Add("config id", "app of 129 characters", "GET", "/v1/config/" + new string('a', 129), 400, "invalid-app");
        Add("config id", "dotted app", "PUT", "/v1/config/a.b", 400, "invalid-app", Utf8("""{"a":1}"""));

        // The WebSocket handshake: refused before the upgrade, as problem+json.
        Add("WebSocket handshake", "plain GET", "GET", "/v1/ws", 426, "websocket-required");
        Add("WebSocket handshake", "foreign Origin", "GET", "/v1/ws", 403, "origin-not-allowed", headers: WsHeaders(("Origin", "https://evil.example")));
        Add("WebSocket handshake", "Origin null", "GET", "/v1/ws", 403, "origin-not-allowed", headers: WsHeaders(("Origin", "null")));
        Add("WebSocket handshake", "unknown subprotocol", "GET", "/v1/ws", 400, "unsupported-subprotocol", headers: WsHeaders(("Sec-WebSocket-Protocol", "evil.v9")));
        Add("WebSocket handshake", "name of 65 characters", "GET", "/v1/ws?name=" + new string('n', 65), 400, "invalid-name", headers: WsHeaders());
        Add("WebSocket handshake", "name with LF", "GET", "/v1/ws?name=a%0Ab", 400, "invalid-name", headers: WsHeaders());
        Add("WebSocket handshake", "name with NUL", "GET", "/v1/ws?name=a%00b", 400, "invalid-name", headers: WsHeaders());
        Add("WebSocket handshake", "name with a right-to-left override", "GET", "/v1/ws?name=%E2%80%AEgnp.exe", 400, "invalid-name", headers: WsHeaders());
        Add("WebSocket handshake", "name with a zero-width space", "GET", "/v1/ws?name=a%E2%80%8Bb", 400, "invalid-name", headers: WsHeaders());
        Add("WebSocket handshake", "blank name", "GET", "/v1/ws?name=%20%20%20", 400, "invalid-name", headers: WsHeaders());

        // Methods and unknown paths.
        Add("method", "TRACE on events", "TRACE", "/v1/events", 405, "method-not-allowed");
        Add("method", "DELETE on a topic", "DELETE", "/v1/topics/seed.intact/events", 405, "method-not-allowed");
        Add("method", "PUT on health", "PUT", "/v1/health", 405, "method-not-allowed", Utf8("{}"));
        Add("method", "unknown path", "GET", "/v1/admin", 404, "not-found");
        Add("method", "unknown verb", "FROB", "/v1/events", 405, "method-not-allowed");

        // Forged, expired and alg:none JWTs, tokens for other topics and API keys with the wrong scope run against a
        // protected hub in AuthBadInputTests, one case per credential and endpoint.

        var duplicates = all.GroupBy(c => c.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        return duplicates.Count > 0
            ? throw new InvalidOperationException("Duplicate case names: " + string.Join(", ", duplicates))
            : all.ToDictionary(c => c.Name);
    }

    private static (string, string)[] WsHeaders(params (string, string)[] extra)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Upgrade"] = "websocket",
            ["Connection"] = "Upgrade",
            ["Sec-WebSocket-Version"] = "13",
            ["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ==",
            ["Sec-WebSocket-Protocol"] = "switchboard.v1",
        };
        foreach (var (name, value) in extra)
        {
            headers[name] = value;
        }

        return [.. headers.Select(h => (h.Key, h.Value))];
    }
}
