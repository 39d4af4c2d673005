using System.Net;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Support;

/// <summary>One body sent to one route, and the answer it must get: a status, and for a refusal its code and a detail fragment.</summary>
internal sealed record BodyCase(string Name, string Body, int Status, string? Code = null, string? Detail = null);

/// <summary>
/// Runs a table of bodies against a route and reports every mismatch at once, so a table of hostile input shows all
/// its failures in one run rather than the first.
/// </summary>
internal static class BodyCases
{
    /// <summary>Bodies that are not a JSON object, or not JSON, or too deep: the same answers on every route that reads an object.</summary>
    public static IEnumerable<BodyCase> NotAnObject(string code = "invalid-body") =>
    [
        new("array", "[]", 400, code),
        new("array of one", """[{"url":"x"}]""", 400, code),
        new("string", "\"x\"", 400, code),
        new("number", "1", 400, code),
        new("huge number", "1e400", 400, code),
        new("true", "true", 400, code),
        new("null", "null", 400, code),
        new("unterminated", """{"a":""", 400, "malformed-json"),
        new("trailing comma", """{"a":1,}""", 400, "malformed-json"),
        new("comment", """{"a":1 /* no */}""", 400, "malformed-json"),
        new("two values", "{} {}", 400, "malformed-json"),
        new("65 levels deep", "{\"a\":" + new string('[', 64) + new string(']', 64) + "}", 400, "malformed-json"),
        new("10,000 open brackets", "{\"a\":" + new string('[', 10_000), 400, "malformed-json"),
        new("2,000 nested objects", string.Concat(Enumerable.Repeat("{\"a\":", 2_000)) + "1" + new string('}', 2_000), 400, "malformed-json"),
        new("lone surrogate in a name", """{"\uD800":1}""", 400, "invalid-body"),
        new("lone surrogate in an unknown member", """{"nope":"\uDC00"}""", 400, "invalid-body"),
    ];

    public static async Task RunAsync(HttpClient client, HttpMethod method, string path, IEnumerable<BodyCase> cases)
    {
        var failures = new List<string>();
        foreach (var test in cases)
        {
            using var request = new HttpRequestMessage(method, path) { Content = new StringContent(test.Body, Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request).Within();
            var text = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            if (status >= 500)
            {
                failures.Add($"{test.Name}: a {status}: {text}");
                continue;
            }

            if (status != test.Status)
            {
                failures.Add($"{test.Name}: expected {test.Status} {test.Code}, got {status}: {Shorten(text)}");
                continue;
            }

            if (test.Code is null)
            {
                continue;
            }

            if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"{test.Name}: not problem+json: {Shorten(text)}");
                continue;
            }

            using var problem = JsonDocument.Parse(text);
            var code = problem.RootElement.GetProperty("code").GetString();
            var detail = problem.RootElement.GetProperty("detail").GetString() ?? "";
            if (code != test.Code)
            {
                failures.Add($"{test.Name}: expected code {test.Code}, got {code}: {Shorten(detail)}");
            }
            else if (test.Detail is not null && !detail.Contains(test.Detail, StringComparison.Ordinal))
            {
                failures.Add($"{test.Name}: the detail does not say \"{test.Detail}\": {Shorten(detail)}");
            }
        }

        Assert.True(failures.Count == 0, $"{method} {path}:\n" + string.Join("\n", failures));
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
