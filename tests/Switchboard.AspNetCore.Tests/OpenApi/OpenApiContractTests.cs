using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.OpenApi;

/// <summary>
/// <c>/openapi/v1.json</c>: it covers every mapped route, an independent parser (npm @apidevtools/swagger-parser)
/// accepts it, and real answers of a real hub match the schemas it publishes (checked with ajv).
/// </summary>
public sealed class OpenApiContractTests
{
    [Fact]
    public async Task TheDocument_ListsEveryMappedRouteAndMethod()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync("openapi/v1.json").Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["paths"]!.AsObject();

        var routes = server.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is not { ExcludeFromDescription: true })
            .Where(e => !e.RoutePattern.RawText!.StartsWith("/openapi/", StringComparison.Ordinal))
            .ToList();
        Assert.True(routes.Count >= 40, $"only {routes.Count} routes found");
        var missing = new List<string>();
        foreach (var route in routes)
        {
            var path = "/" + route.RoutePattern.RawText!.Trim('/');
            var methods = route.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            // HEAD is GET without the body (RFC 9110), not an operation of its own.
            foreach (var method in methods.Where(m => m != "HEAD"))
            {
                if (paths[path]?[method.ToLowerInvariant()] is null)
                {
                    missing.Add($"{method} {path}");
                }
            }
        }

        Assert.True(missing.Count == 0, "not in /openapi/v1.json: " + string.Join(", ", missing));
        Assert.NotNull(paths["/metrics"]?["get"]);
        Assert.DoesNotContain(paths, path => path.Value!.AsObject().ContainsKey("head"));
    }

    [Fact]
    public async Task RealAnswers_MatchTheDocumentsSchemas_AndTheDocumentValidates()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var samples = await SampleEveryRouteAsync(client);

        using var document = await client.GetAsync("openapi/v1.json").Within();
        using var directory = new TempDirectory();
        var documentPath = Path.Combine(directory.Path, "openapi.json");
        var samplesPath = Path.Combine(directory.Path, "samples.json");
        await File.WriteAllTextAsync(documentPath, await document.Content.ReadAsStringAsync());
        await File.WriteAllTextAsync(samplesPath, new JsonArray([.. samples.Recorded.Select(s => s.ToJson())]).ToJsonString());

        var result = await NodeScript.RunAsync("openapi-check.mjs", documentPath, samplesPath);

        Assert.True(result.ExitCode == 0, $"openapi-check.mjs:\n{result.Output}\n{result.Error}");
        using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
        Assert.Equal(samples.Recorded.Count, summary.RootElement.GetProperty("checked").GetInt32());
    }

    /// <summary>
    /// Every request header an operation reads (seen at run time, over a call of every route) is a header parameter of
    /// that operation, and every header parameter declared is one the operation reads. The generator sees only bound
    /// parameters, so the headers handlers read themselves (Idempotency-Key, the preconditions, Last-Event-ID) were missing.
    /// </summary>
    [Fact]
    public async Task EveryHeaderAnOperationReads_IsAHeaderParameterOfIt_AndNoOther()
    {
        var reads = new HeaderReads();
        await using var server = await StartAsync(reads);
        using var client = server.CreateClient();
        await SampleEveryRouteAsync(client);
        using var response = await client.GetAsync("openapi/v1.json").Within();
        var paths = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["paths"]!.AsObject();

        var declared = new Dictionary<(string Method, string Path), HashSet<string>>();
        foreach (var (path, item) in paths)
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                declared[(method.ToUpperInvariant(), path)] = (operation!["parameters"]?.AsArray() ?? [])
                    .Where(p => p!["in"]!.GetValue<string>() == "header")
                    .Select(p => p!["name"]!.GetValue<string>())
                    .ToHashSet(StringComparer.OrdinalIgnoreCase);
            }
        }

        var problems = new List<string>();
        var observed = reads.ByOperation;
        foreach (var ((method, path), names) in observed)
        {
            var documented = declared.GetValueOrDefault((method, path)) ?? [];
            problems.AddRange(names.Where(n => !NotParameters.Contains(n) && !documented.Contains(n)).Select(n => $"{method} {path} reads {n}, undeclared"));
        }

        foreach (var ((method, path), names) in declared)
        {
            var read = observed.GetValueOrDefault((method, path)) ?? new HashSet<string>();
            problems.AddRange(names.Where(n => !read.Contains(n)).Select(n => $"{method} {path} declares {n}, never read"));
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems.Order()));
        // The recorder saw the reads at all (a wrapper that saw nothing would pass the loops above).
        Assert.Contains("Idempotency-Key", observed[("POST", "/v1/topics/{topic}/events")]);
        Assert.Contains("Last-Event-ID", observed[("GET", "/v1/jobs/{id}/stream")]);
    }

    /// <summary>
    /// Headers that are not operation parameters: credentials and content negotiation (OpenAPI 3 ignores header
    /// parameters named Accept, Content-Type and Authorization; the credential is a security scheme), and what the
    /// hub's middleware reads of every request for CORS, body decoding and the WebSocket handshake.
    /// </summary>
    private static readonly HashSet<string> NotParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Accept", "Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "Host", "Origin",
        "Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions",
        "Access-Control-Request-Method", "Access-Control-Request-Headers",
    };

    [Theory]
    [InlineData("post", "/v1/topics/{topic}/events", "Idempotency-Key")]
    [InlineData("post", "/v1/events", "Idempotency-Key")]
    [InlineData("post", "/v1/jobs", "Idempotency-Key")]
    [InlineData("get", "/v1/events", "If-None-Match")]
    [InlineData("get", "/v1/jobs/{id}", "If-None-Match")]
    [InlineData("get", "/v1/config/{app}", "If-None-Match")]
    [InlineData("get", "/v1/client.js", "If-None-Match")]
    [InlineData("put", "/v1/config/{app}", "If-Match,If-None-Match")]
    [InlineData("patch", "/v1/config/{app}", "If-Match,If-None-Match")]
    [InlineData("delete", "/v1/config/{app}/keys/{key}", "If-Match,If-None-Match")]
    [InlineData("get", "/v1/stream", "Last-Event-ID")]
    [InlineData("get", "/v1/jobs/{id}/stream", "Last-Event-ID")]
    public async Task HeaderParameters_AreDeclaredWithADescriptionAndAStringSchema(string method, string path, string headers)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync("openapi/v1.json").Within();
        var operation = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["paths"]![path]![method]!;

        foreach (var name in headers.Split(','))
        {
            var parameter = (operation["parameters"]?.AsArray() ?? []).SingleOrDefault(p => p!["in"]!.GetValue<string>() == "header" && p["name"]!.GetValue<string>() == name);
            Assert.True(parameter is not null, $"{method} {path}: no header parameter {name}");
            Assert.False(string.IsNullOrWhiteSpace(parameter["description"]?.GetValue<string>()), parameter.ToJsonString());
            Assert.Equal("string", parameter["schema"]!["type"]!.GetValue<string>());
            Assert.NotEqual(true, parameter["required"]?.GetValue<bool>());
        }
    }

    /// <summary>Calls every route the document lists, with the answers each can give, and records them.</summary>
    private static async Task<Samples> SampleEveryRouteAsync(HttpClient client)
    {
        var samples = new Samples(client);

        await samples.SendAsync(HttpMethod.Get, "/v1/health", "v1/health");
        await samples.SendAsync(HttpMethod.Get, "/v1/health/ready", "v1/health/ready");
        await samples.SendAsync(HttpMethod.Post, "/v1/topics/{topic}/events", "v1/topics/orders/events", """{"type":"order.created","data":{"id":1,"note":"é"}}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/topics/{topic}/events", "v1/topics/orders/events", """{"data":[1,2]}""", ("Idempotency-Key", "k-1"));
        await samples.SendAsync(HttpMethod.Post, "/v1/topics/{topic}/events", "v1/topics/orders/events", """{"type":"x","data":1}""", ("Idempotency-Key", "k-1"));
        await samples.SendAsync(HttpMethod.Post, "/v1/topics/{topic}/events", "v1/topics/orders/events", """{"nope":1}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/events", "v1/events", """[{"topic":"a","data":null},{"topic":"b","type":"t","data":"s"}]""");
        await samples.SendAsync(HttpMethod.Post, "/v1/events", "v1/events", "[]");
        // Every body-taking route may answer 413 and 415 (a Content-Encoding the hub does not decode).
        await samples.SendAsync(HttpMethod.Post, "/v1/topics/{topic}/events", "v1/topics/orders/events", """{"data":1}""", ("Content-Encoding", "gzip"));
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks", "v1/webhooks", $$"""{"url":"http://127.0.0.1:9/hook","topics":["orders"],"description":"{{new string('d', 70_000)}}"}""");
        await samples.SendAsync(HttpMethod.Get, "/v1/events", "v1/events?topic=orders&after=earliest");
        await samples.SendAsync(HttpMethod.Get, "/v1/events", "v1/events?topic=orders&after=not-a-cursor");
        await samples.SendAsync(HttpMethod.Get, "/v1/events", "v1/events?topic=orders&after=0123456789abcdef.1");
        // A short poll repeated with its ETag: 304 while nothing new matches.
        using (var first = await client.GetAsync("v1/events?topic=orders").Within())
        {
            await samples.SendAsync(HttpMethod.Get, "/v1/events", "v1/events?topic=orders", null, ("If-None-Match", first.Headers.ETag!.ToString()));
        }

        await samples.HeadersOnlyAsync("/v1/stream", "v1/stream?topic=orders&after=earliest");
        // Not an upgrade: 426 websocket-required.
        await samples.SendAsync(HttpMethod.Get, "/v1/ws", "v1/ws");
        await samples.SendAsync(HttpMethod.Get, "/v1/client.js", "v1/client.js");

        // Jobs: the whole worker round, and the refusals.
        var job = await samples.SendAsync(HttpMethod.Post, "/v1/jobs", "v1/jobs", """{"type":"resize","input":{"w":10},"maxAttempts":2}""");
        var jobId = job!["id"]!.GetValue<string>();
        await samples.SendAsync(HttpMethod.Get, "/v1/jobs/{id}", $"v1/jobs/{jobId}");
        var claim = await samples.SendAsync(HttpMethod.Post, "/v1/queues/{type}/claim", "v1/queues/resize/claim", """{"worker":"w1","leaseSeconds":30}""");
        var lease = claim!["leaseId"]!.GetValue<string>();
        await samples.SendAsync(HttpMethod.Post, "/v1/jobs/{id}/heartbeat", $"v1/jobs/{jobId}/heartbeat", $$"""{"leaseId":"{{lease}}"}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/jobs/{id}/progress", $"v1/jobs/{jobId}/progress", $$"""{"leaseId":"{{lease}}","percent":50,"output":"half"}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/jobs/{id}/progress", $"v1/jobs/{jobId}/progress", $$"""{"leaseId":"{{lease}}"}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/jobs/{id}/complete", $"v1/jobs/{jobId}/complete", $$$"""{"leaseId":"{{{lease}}}","result":{"url":"/x.png"}}""");
        await samples.SendAsync(HttpMethod.Get, "/v1/jobs/{id}/result", $"v1/jobs/{jobId}/result");
        await samples.HeadersOnlyAsync("/v1/jobs/{id}/stream", $"v1/jobs/{jobId}/stream");
        await samples.SendAsync(HttpMethod.Delete, "/v1/jobs/{id}", $"v1/jobs/{jobId}");
        await samples.SendAsync(HttpMethod.Get, "/v1/jobs/{id}", "v1/jobs/job_missing");
        await samples.SendAsync(HttpMethod.Post, "/v1/queues/{type}/claim", "v1/queues/empty/claim?wait=0");
        var second = await samples.SendAsync(HttpMethod.Post, "/v1/jobs", "v1/jobs", """{"type":"fragile","input":null}""");
        var secondLease = (await samples.SendAsync(HttpMethod.Post, "/v1/queues/{type}/claim", "v1/queues/fragile/claim"))!["leaseId"]!.GetValue<string>();
        await samples.SendAsync(HttpMethod.Post, "/v1/jobs/{id}/fail", $"v1/jobs/{second!["id"]}/fail", $$"""{"leaseId":"{{secondLease}}","error":"boom","retryable":false}""");
        await samples.SendAsync(HttpMethod.Get, "/v1/jobs/{id}", $"v1/jobs/{second["id"]}");

        // Config.
        await samples.SendAsync(HttpMethod.Put, "/v1/config/{app}", "v1/config/web", """{"theme":"dark","beta":true}""");
        await samples.SendAsync(HttpMethod.Patch, "/v1/config/{app}", "v1/config/web", """{"beta":null,"size":3}""");
        await samples.SendAsync(HttpMethod.Get, "/v1/config/{app}", "v1/config/web");
        await samples.SendAsync(HttpMethod.Get, "/v1/config/{app}/history", "v1/config/web/history");
        await samples.SendAsync(HttpMethod.Get, "/v1/config", "v1/config?watch=web:0");
        var deleted = await samples.SendAsync(HttpMethod.Delete, "/v1/config/{app}/keys/{key}", "v1/config/web/keys/theme");
        // Watching the version just written, without a wait: 304, nothing newer.
        await samples.SendAsync(HttpMethod.Get, "/v1/config", $"v1/config?watch=web:{deleted!["version"]}");
        // A merge patch on an app with no settings yet creates its first version: 201.
        await samples.SendAsync(HttpMethod.Patch, "/v1/config/{app}", "v1/config/patched-first", """{"on":true}""");
        await samples.SendAsync(HttpMethod.Get, "/v1/config/{app}", "v1/config/never-written");

        // Webhooks: every call on one endpoint, then the 404 after it is gone.
        var webhook = await samples.SendAsync(HttpMethod.Post, "/v1/webhooks", "v1/webhooks", """{"url":"http://127.0.0.1:9/hook","topics":["orders"],"description":"d","rateLimit":{"perSecond":5}}""");
        var hook = webhook!["id"]!.GetValue<string>();
        await samples.SendAsync(HttpMethod.Get, "/v1/webhooks", "v1/webhooks");
        await samples.SendAsync(HttpMethod.Get, "/v1/webhooks/{id}", $"v1/webhooks/{hook}");
        await samples.SendAsync(HttpMethod.Patch, "/v1/webhooks/{id}", $"v1/webhooks/{hook}", """{"description":"changed"}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks/{id}/rotate-secret", $"v1/webhooks/{hook}/rotate-secret");
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks/{id}/pause", $"v1/webhooks/{hook}/pause");
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks/{id}/enable", $"v1/webhooks/{hook}/enable");
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks/{id}/replay", $"v1/webhooks/{hook}/replay", """{"after":"earliest"}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks/{id}/recover", $"v1/webhooks/{hook}/recover", """{"since":"2026-01-01T00:00:00Z"}""");
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks/{id}/test", $"v1/webhooks/{hook}/test");
        await samples.SendAsync(HttpMethod.Get, "/v1/webhooks/{id}/attempts", $"v1/webhooks/{hook}/attempts");
        await samples.SendAsync(HttpMethod.Post, "/v1/webhooks", "v1/webhooks", """{"url":"ftp://x","topics":["orders"]}""");
        await samples.SendAsync(HttpMethod.Delete, "/v1/webhooks/{id}", $"v1/webhooks/{hook}");
        await samples.SendAsync(HttpMethod.Get, "/v1/webhooks/{id}", $"v1/webhooks/{hook}");

        // The pages, and the playground's session calls.
        await samples.SendAsync(HttpMethod.Get, "/dashboard", "dashboard");
        await samples.SendAsync(HttpMethod.Get, "/monitoring/{file}", "monitoring/dashboard.js");
        var session = await samples.SendAsync(HttpMethod.Post, "/playground/sessions", "playground/sessions");
        await samples.SendAsync(HttpMethod.Post, "/playground/sessions/{id}/end", $"playground/sessions/{session!["id"]}/end");

        // Keys last: the first key protects the hub.
        var key = await samples.SendAsync(HttpMethod.Post, "/v1/keys", "v1/keys", """{"name":"ops","scopes":["admin","publish"]}""");
        await samples.SendAsync(HttpMethod.Get, "/v1/keys", "v1/keys");
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key!["key"]!.GetValue<string>());
        await samples.SendAsync(HttpMethod.Get, "/v1/keys", "v1/keys");
        await samples.SendAsync(HttpMethod.Delete, "/v1/keys/{id}", $"v1/keys/{key["id"]}");
        client.DefaultRequestHeaders.Authorization = null;
        await samples.SendAsync(HttpMethod.Post, "/v1/topics/{topic}/events", "v1/topics/orders/events", """{"data":1}""");

        Assert.Contains(samples.Recorded, s => s.Status == 401);
        Assert.Contains(samples.Recorded, s => s.Status == 410);
        Assert.Contains(samples.Recorded, s => s.Status == 204);
        Assert.Contains(samples.Recorded, s => s.Status == 413);
        Assert.Contains(samples.Recorded, s => s.Status == 415);
        Assert.Contains(samples.Recorded, s => s is { Path: "/v1/events", Status: 304 });
        Assert.Contains(samples.Recorded, s => s is { Path: "/v1/config", Status: 304 });
        Assert.Contains(samples.Recorded, s => s is { Path: "/v1/config/{app}", Method: "PATCH", Status: 201 });
        Assert.Contains(samples.Recorded, s => s is { Path: "/v1/ws", Status: 426 });
        return samples;
    }

    [Theory]
    [InlineData("/v1/webhooks", "post", "WebhookCreateBody", "url,topics,types,description,mode,maxInFlight,rateLimit,after", "url,topics,mode,maxInFlight,after")]
    [InlineData("/v1/webhooks/{id}", "patch", "WebhookPatchBody", "url,topics,types,description,mode,maxInFlight,rateLimit", "url,topics,mode,maxInFlight")]
    [InlineData("/v1/webhooks/{id}/replay", "post", "WebhookReplayBody", "after", "after")]
    [InlineData("/v1/webhooks/{id}/recover", "post", "WebhookRecoverBody", "since", "since")]
    [InlineData("/v1/keys", "post", "CreateKeyBody", "name,scopes,topics", "name,scopes,topics")]
    public async Task RequestSchemas_AreTheDtosThatReadTheBodies_AndAdmitNoOtherMembers(string path, string method, string component, string members, string neverNull)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync("openapi/v1.json").Within();
        var document = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        var reference = document["paths"]![path]![method]!["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>();
        Assert.Equal("#/components/schemas/" + component, reference);
        var schema = document["components"]!["schemas"]![component]!;
        // The DTO refuses unknown members, and the document says so.
        Assert.False(schema["additionalProperties"]!.GetValue<bool>(), schema.ToJsonString());
        Assert.Equal(members.Split(',').Order(), schema["properties"]!.AsObject().Select(p => p.Key).Order());
        // Members refused when null do not admit null; the others (description, types) still do.
        foreach (var (name, property) in schema["properties"]!.AsObject())
        {
            var admitsNull = property!["type"] is JsonArray types && types.Any(t => t!.GetValue<string>() == "null");
            Assert.True(admitsNull != neverNull.Split(',').Contains(name) || property["type"] is null, $"{component}.{name}: {property.ToJsonString()}");
        }
    }

    [Fact]
    public async Task TheChecker_RejectsAnAnswerThatBreaksItsSchema()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var document = await client.GetAsync("openapi/v1.json").Within();
        using var directory = new TempDirectory();
        var documentPath = Path.Combine(directory.Path, "openapi.json");
        var samplesPath = Path.Combine(directory.Path, "samples.json");
        await File.WriteAllTextAsync(documentPath, await document.Content.ReadAsStringAsync());
        await File.WriteAllTextAsync(samplesPath, """
            [{"method":"GET","path":"/v1/health","status":200,"contentType":"application/json","body":{"status":"ok","epoch":7}},
             {"method":"GET","path":"/v1/health","status":418,"contentType":"application/json","body":{}}]
            """);

        var result = await NodeScript.RunAsync("openapi-check.mjs", documentPath, samplesPath);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cursor", result.Output, StringComparison.Ordinal);
        Assert.Contains("status not documented", result.Output, StringComparison.Ordinal);
    }

    private static Task<HubServer> StartAsync(HeaderReads? reads = null) => HubServer.StartAsync(o =>
    {
        o.Webhooks.AllowHttp = true;
        o.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
    }, services: s =>
    {
        s.Configure<Switchboard.Monitoring.MonitoringOptions>(o => o.Prometheus = true);
        if (reads is not null)
        {
            s.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter>(reads);
        }
    });

    private sealed record Sample(string Method, string Path, int Status, string? ContentType, JsonNode? Body)
    {
        public JsonObject ToJson() => new()
        {
            ["method"] = Method,
            ["path"] = Path,
            ["status"] = Status,
            ["contentType"] = ContentType,
            ["body"] = Body?.DeepClone(),
        };
    }

    private sealed class Samples(HttpClient client)
    {
        public List<Sample> Recorded { get; } = [];

        /// <summary>Sends a request and records its answer; returns the JSON body, if any.</summary>
        public async Task<JsonNode?> SendAsync(HttpMethod method, string template, string uri, string? json = null, params (string Name, string Value)[] headers)
        {
            using var request = new HttpRequestMessage(method, uri);
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            foreach (var (name, value) in headers)
            {
                if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase) && request.Content is { } content)
                {
                    content.Headers.Add(name, value);
                }
                else
                {
                    request.Headers.Add(name, value);
                }
            }

            using var response = await client.SendAsync(request).Within();
            var text = await response.Content.ReadAsStringAsync();
            var contentType = response.Content.Headers.ContentType?.ToString();
            JsonNode? body = null;
            if (text.Length > 0)
            {
                body = contentType?.Contains("json", StringComparison.Ordinal) == true ? JsonNode.Parse(text) : JsonValue.Create(text.Length);
            }

            Recorded.Add(new Sample(method.Method, template, (int)response.StatusCode, contentType, body));
            return body;
        }

        /// <summary>A stream: records its status and content type, then hangs up.</summary>
        public async Task HeadersOnlyAsync(string template, string uri)
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead).Within();
            Recorded.Add(new Sample("GET", template, (int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), JsonValue.Create(0)));
        }
    }
}
