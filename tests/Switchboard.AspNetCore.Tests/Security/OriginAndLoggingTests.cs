using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;
using static Switchboard.AspNetCore.Tests.Security.SecurityKit;

namespace Switchboard.AspNetCore.Tests.Security;

/// <summary>CORS and the WebSocket Origin check share one allow-list; query tokens never reach the logs.</summary>
public sealed class OriginAndLoggingTests
{
    private static async Task<HttpResponseMessage> PreflightAsync(HttpClient client, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "v1/topics/orders/events");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return await client.SendAsync(request).Within();
    }

    [Fact]
    public async Task Cors_AllowsLocalhostAndConfiguredOrigins_Only()
    {
        await using var server = await HubServer.StartAsync(o => o.Cors.AllowedOrigins.Add("https://app.example.com"));
        using var client = server.CreateClient();
        foreach (var allowed in new[] { "http://localhost:3000", "https://app.example.com" })
        {
            using var preflight = await PreflightAsync(client, allowed);
            Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
            Assert.Equal(allowed, preflight.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("Authorization", preflight.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        }

        foreach (var refused in new[] { "https://evil.example.com", "file://", "file:///home/me/page.html", "null" })
        {
            using var evil = await PreflightAsync(client, refused);
            Assert.False(evil.Headers.Contains("Access-Control-Allow-Origin"), $"CORS allowed {refused}");
        }

        using var get = new HttpRequestMessage(HttpMethod.Get, "v1/events?topic=orders");
        get.Headers.Add("Origin", "https://app.example.com");
        using var answered = await client.SendAsync(get);
        Assert.Equal("https://app.example.com", answered.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("ETag", answered.Headers.GetValues("Access-Control-Expose-Headers").Single());
    }

    [Fact]
    public async Task Cors_ExposesEveryResponseHeaderAPageNeeds_WwwAuthenticateOnA401Included()
    {
        await using var server = await SecurityKit.StartAsync();
        using var client = server.CreateClient();
        using var get = new HttpRequestMessage(HttpMethod.Get, "v1/events?topic=orders");
        get.Headers.Add("Origin", "http://localhost:3000");
        get.Headers.Add("Authorization", "Bearer not-a-key");
        using var refused = await client.SendAsync(get);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("invalid_token", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal("http://localhost:3000", refused.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var exposed = refused.Headers.GetValues("Access-Control-Expose-Headers").Single().Split(',', StringSplitOptions.TrimEntries);
        foreach (var header in new[] { "WWW-Authenticate", "Retry-After", "ETag", "Location", "Idempotent-Replayed", "X-Poll-Interval", "X-Config-Version", "Allow" })
        {
            Assert.Contains(header, exposed, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Cors_CoversStreamsTheirPreflightAndProblems()
    {
        await using var server = await HubServer.StartAsync(o => o.Cors.AllowedOrigins.Add("https://app.example.com"));
        using var client = server.CreateClient();
        const string Origin = "https://app.example.com";

        // EventSource with Last-Event-ID from another origin: a preflight for GET /v1/stream, then the stream itself.
        using (var preflight = new HttpRequestMessage(HttpMethod.Options, "v1/stream?topic=orders"))
        {
            preflight.Headers.Add("Origin", Origin);
            preflight.Headers.Add("Access-Control-Request-Method", "GET");
            preflight.Headers.Add("Access-Control-Request-Headers", "last-event-id");
            using var answered = await client.SendAsync(preflight).Within();
            Assert.Equal(HttpStatusCode.NoContent, answered.StatusCode);
            Assert.Equal(Origin, answered.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("Last-Event-ID", answered.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        }

        using (var stream = new HttpRequestMessage(HttpMethod.Get, "v1/stream?topic=orders"))
        {
            stream.Headers.Add("Origin", Origin);
            using var answered = await client.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead).Within();
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
            Assert.Equal(Origin, answered.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }

        // A problem is readable by the page too, and a request from an origin off the list gets no CORS headers.
        using (var bad = new HttpRequestMessage(HttpMethod.Get, "v1/stream?topic=a..b"))
        {
            bad.Headers.Add("Origin", Origin);
            using var answered = await client.SendAsync(bad).Within();
            Assert.Equal(HttpStatusCode.BadRequest, answered.StatusCode);
            Assert.Equal(Origin, answered.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }

        using (var evil = new HttpRequestMessage(HttpMethod.Get, "v1/events?topic=orders"))
        {
            evil.Headers.Add("Origin", "https://evil.example.com");
            using var answered = await client.SendAsync(evil).Within();
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
            Assert.False(answered.Headers.Contains("Access-Control-Allow-Origin"));
        }
    }

    /// <summary>
    /// A page's <c>new EventSource(url, {withCredentials: true})</c> (how pages written for cookie-authenticated hubs such
    /// as Mercure open streams) and <c>fetch(url, {credentials: 'include'})</c>: a browser drops the answer unless it
    /// carries <c>Access-Control-Allow-Credentials: true</c> next to the page's own origin, on the preflight and on the
    /// answer, problems included. An origin off the list still gets neither.
    /// </summary>
    [Fact]
    public async Task Cors_AllowsCredentialedRequests_FromAllowedOriginsOnly()
    {
        await using var server = await HubServer.StartAsync(o => o.Cors.AllowedOrigins.Add("https://app.example.com"));
        using var client = server.CreateClient();
        foreach (var origin in new[] { "https://app.example.com", "http://localhost:3000" })
        {
            using (var preflight = await PreflightAsync(client, origin))
            {
                Assert.Equal(origin, preflight.Headers.GetValues("Access-Control-Allow-Origin").Single());
                Assert.Equal("true", preflight.Headers.GetValues("Access-Control-Allow-Credentials").Single());
            }

            foreach (var path in new[] { "v1/stream?topic=orders", "v1/events?topic=orders", "v1/stream?topic=a..b" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Add("Origin", origin);
                using var answered = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).Within();
                Assert.Equal(origin, answered.Headers.GetValues("Access-Control-Allow-Origin").Single());
                Assert.Equal("true", answered.Headers.GetValues("Access-Control-Allow-Credentials").Single());
            }
        }

        using var evil = new HttpRequestMessage(HttpMethod.Get, "v1/events?topic=orders");
        evil.Headers.Add("Origin", "https://evil.example.com");
        using var refused = await client.SendAsync(evil).Within();
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Credentials"));
    }

    /// <summary>
    /// A preflight grants the methods of its path, not whatever it asks: a method the path does not take (or that the
    /// hub serves nowhere) is left out of Access-Control-Allow-Methods, so the browser never sends it.
    /// </summary>
    [Theory]
    [InlineData("v1/health", "PATCH", "GET, HEAD")]
    [InlineData("v1/health", "FROB", "GET, HEAD")]
    [InlineData("v1/topics/orders/events", "DELETE", "POST")]
    [InlineData("v1/topics/orders/events", "POST", "POST")]
    [InlineData("v1/events", "PUT", "GET, HEAD, POST")]
    [InlineData("v1/config/web", "PATCH", "GET, HEAD, PUT, PATCH")]
    [InlineData("v1/keys/key_1", "DELETE", "DELETE")]
    public async Task Preflight_GrantsThePathsOwnMethods_NotTheOneAsked(string path, string asked, string granted)
    {
        await using var server = await HubServer.StartAsync(o => o.Cors.AllowedOrigins.Add("https://app.example.com"));
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", "https://app.example.com");
        request.Headers.Add("Access-Control-Request-Method", asked);
        request.Headers.Add("Access-Control-Request-Headers", "authorization");

        using var preflight = await client.SendAsync(request).Within();

        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal("https://app.example.com", preflight.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var methods = preflight.Headers.GetValues("Access-Control-Allow-Methods").Single();
        Assert.Equal(granted, methods.Replace(",", ", ", StringComparison.Ordinal).Replace(",  ", ", ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Preflight_ForAPathNothingServes_GrantsNoMethod()
    {
        await using var server = await HubServer.StartAsync(o => o.Cors.AllowedOrigins.Add("https://app.example.com"));
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, "v1/nothing/here");
        request.Headers.Add("Origin", "https://app.example.com");
        request.Headers.Add("Access-Control-Request-Method", "PUT");

        using var preflight = await client.SendAsync(request).Within();

        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Methods"));
    }

    /// <summary>
    /// A foreign page cannot read an open hub's answers (CORS), but a "simple" cross-origin POST (text/plain, so no
    /// preflight) is still sent by the browser. It must not publish, create an admin key (which would lock the owner out
    /// of the hub) or register a webhook; pages on the hub's own origin, localhost and the allow-list keep working.
    /// </summary>
    [Fact]
    public async Task OpenHub_RefusesChangesFromAForeignPage_ButNotFromItsOwnLocalOrAllowedOrigins()
    {
        await using var server = await HubServer.StartAsync(o => o.Cors.AllowedOrigins.Add("https://app.example.com"));
        using var client = server.CreateClient();
        async Task<HttpResponseMessage> PostAsync(string path, string body, string? origin)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "text/plain") };
            if (origin is not null)
            {
                request.Headers.Add("Origin", origin);
            }

            return await client.SendAsync(request).Within();
        }

        foreach (var foreign in new[] { "https://evil.example.com", "null" })
        {
            using var publish = await PostAsync("v1/topics/orders/events", """{"data":"forged"}""", foreign);
            var problem = await publish.AssertProblemAsync(HttpStatusCode.Forbidden, "origin-not-allowed");
            Assert.Contains("Cors:AllowedOrigins", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            using var key = await PostAsync("v1/keys", """{"scopes":["admin"]}""", foreign);
            await key.AssertProblemAsync(HttpStatusCode.Forbidden, "origin-not-allowed");
            using var webhook = await PostAsync("v1/webhooks", """{"url":"https://203.0.113.9/steal","topics":[">"]}""", foreign);
            await webhook.AssertProblemAsync(HttpStatusCode.Forbidden, "origin-not-allowed");
        }

        // Reads change nothing and CORS already hides their answers, so they are not refused.
        using (var read = new HttpRequestMessage(HttpMethod.Get, "v1/events?topic=orders"))
        {
            read.Headers.Add("Origin", "https://evil.example.com");
            using var answered = await client.SendAsync(read).Within();
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }

        var own = server.BaseAddress.GetLeftPart(UriPartial.Authority);
        string?[] fine = [own, "http://localhost:3000", "https://app.example.com", null];
        foreach (var origin in fine)
        {
            using var answered = await PostAsync("v1/topics/orders/events", $$"""{"data":"{{origin ?? "none"}}"}""", origin);
            Assert.Equal(HttpStatusCode.Created, answered.StatusCode);
        }

        using var stored = await client.GetAsync("v1/events?topic=orders&after=earliest").Within();
        var events = (await stored.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("events");
        Assert.Equal(fine.Select(o => o ?? "none"), events.EnumerateArray().Select(e => e.GetProperty("data").GetString()));

        // No key was stored, so the hub is still open; no webhook was registered.
        using var keys = await client.GetAsync("v1/keys").Within();
        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
        Assert.Equal(0, (await keys.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keys").GetArrayLength());
        using var webhooks = await client.GetAsync("v1/webhooks").Within();
        Assert.Equal(0, (await webhooks.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task WebSocketOrigin_FollowsTheCorsAllowList()
    {
        await using var server = await HubServer.StartAsync(o => o.Cors.AllowedOrigins.Add("https://app.example.com"));
        await using var allowed = await HubSocket.ConnectAsync(server, configure: o => o.SetRequestHeader("Origin", "https://app.example.com"));
        await allowed.AssertPingPongAsync();
        Assert.Equal(HttpStatusCode.Forbidden, await HubSocket.RefusedStatusAsync(server, o => o.SetRequestHeader("Origin", "https://evil.example.com")));
    }

    [Fact]
    public async Task QueryTokens_AreNeverLogged_EvenAtTrace()
    {
        var capture = new LogCapture();
        await using var server = await HubServer.StartAsync(Protected(), services: services =>
        {
            services.AddLogging(logging => logging.AddProvider(capture));
            services.Configure<LoggerFilterOptions>(filters => filters.MinLevel = LogLevel.Trace);
        });
        var good = Token("alice", ["chat.>"]);
        var bad = Token("alice", ["orders"]) + "tampered";
        using var client = server.CreateClient();
        await using (var stream = await SseReader.OpenAsync(client, $"v1/stream?topic=chat.room1&access_token={good}"))
        {
            using var publisher = Client(server, PublishKey);
            await publisher.PublishAsync("chat.room1");
            await stream.NextAsync();
        }

        (await client.GetAsync($"v1/stream?topic=chat.room1&access_token={bad}", credential: null)).Dispose();
        await using (var socket = await HubSocket.ConnectAsync(server, accessToken: good))
        {
            await socket.AssertPingPongAsync();
        }

        Assert.NotEmpty(capture.Entries); // the capture works: the hub did log, at trace level
        var leaked = capture.Entries.Where(e => e.Message.Contains(good, StringComparison.Ordinal) || e.Message.Contains(bad, StringComparison.Ordinal)
            || e.Message.Contains(good[..40], StringComparison.Ordinal)).ToList();
        Assert.True(leaked.Count == 0, "Token in the logs: " + string.Join(" | ", leaked.Select(e => $"{e.Category}: {e.Message}")));
    }

    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    [Fact]
    public void HostRequestLog_WithoutARule_IsCappedAtWarning()
    {
        var filters = new LoggerFilterOptions();

        SwitchboardServiceCollectionExtensions.CapHostingDiagnostics(filters);

        var rule = Assert.Single(filters.Rules);
        Assert.Equal((HostingDiagnostics, LogLevel.Warning), (rule.CategoryName, rule.LogLevel));
    }

    [Fact]
    public void HostRequestLog_RulesBelowWarningAreRaised_AndNoneStays()
    {
        var filters = new LoggerFilterOptions();
        filters.AddFilter(HostingDiagnostics, LogLevel.Debug);
        filters.AddFilter<Microsoft.Extensions.Logging.Console.ConsoleLoggerProvider>(HostingDiagnostics, LogLevel.Trace);
        filters.AddFilter("Other", LogLevel.Debug);

        SwitchboardServiceCollectionExtensions.CapHostingDiagnostics(filters);

        Assert.All(filters.Rules.Where(r => r.CategoryName == HostingDiagnostics), r => Assert.Equal(LogLevel.Warning, r.LogLevel));
        Assert.Equal(LogLevel.Debug, filters.Rules.Single(r => r.CategoryName == "Other").LogLevel);

        var none = new LoggerFilterOptions();
        none.AddFilter(HostingDiagnostics, LogLevel.None);
        SwitchboardServiceCollectionExtensions.CapHostingDiagnostics(none);
        Assert.Equal(LogLevel.None, Assert.Single(none.Rules).LogLevel);
    }

    [Fact]
    public async Task HostRequestLog_ConfiguredNone_IsOff_InTheRunningHub()
    {
        await using var server = await HubServer.StartAsync(services: services =>
        {
            services.AddLogging(logging => logging.AddProvider(new LogCapture()));
            services.Configure<LoggerFilterOptions>(filters => filters.AddFilter(HostingDiagnostics, LogLevel.None));
        });
        await using var capped = await HubServer.StartAsync(services: services =>
            services.AddLogging(logging => logging.AddProvider(new LogCapture())).Configure<LoggerFilterOptions>(filters =>
            {
                // Whatever the test host's configuration set for the category, ask for Debug.
                foreach (var rule in filters.Rules.Where(r => r.CategoryName == HostingDiagnostics).ToList())
                {
                    filters.Rules.Remove(rule);
                }

                filters.AddFilter(HostingDiagnostics, LogLevel.Debug);
            }));

        var off = server.App.Services.GetRequiredService<ILoggerFactory>().CreateLogger(HostingDiagnostics);
        var on = capped.App.Services.GetRequiredService<ILoggerFactory>().CreateLogger(HostingDiagnostics);

        Assert.False(off.IsEnabled(LogLevel.Critical)); // no request scope, no Activity made for logging
        Assert.False(on.IsEnabled(LogLevel.Information)); // the query string (and its access_token) is never logged
        Assert.True(on.IsEnabled(LogLevel.Warning));
    }
}

