using System.Net;
using System.Net.Http.Headers;
using Switchboard.AspNetCore.Tests.Security;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Clients;

/// <summary>The JavaScript client (clients/js): served by the hub, and its node:test suite run against real hubs.</summary>
public sealed class JsClientTests
{
    private static string BuiltFile => Path.Combine(NodeScript.RepositoryRoot(), "clients", "js", "dist", "client.js");

    [Fact]
    public async Task ClientJs_IsServedAsTheBuiltModule_WithAnETagThatRevalidatesTo304_EvenOnAProtectedHub()
    {
        await using var server = await SecurityKit.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync("v1/client.js").Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(await File.ReadAllBytesAsync(BuiltFile), body);
        Assert.Contains("export class Switchboard", System.Text.Encoding.UTF8.GetString(body));
        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);
        Assert.Contains("no-cache", response.Headers.CacheControl?.ToString());
        Assert.True(response.Headers.CacheControl?.Public);

        using var again = new HttpRequestMessage(HttpMethod.Get, "v1/client.js");
        again.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await client.SendAsync(again).Within();
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Empty(await revalidated.Content.ReadAsByteArrayAsync());

        using var stale = new HttpRequestMessage(HttpMethod.Get, "v1/client.js");
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"something-else\""));
        using var full = await client.SendAsync(stale).Within();
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
    }

    [Fact]
    public async Task NodeTests_OfTheJsClient_PassAgainstAnOpenAndAProtectedHub()
    {
        await using var open = await HubServer.StartAsync();
        await using var secure = await SecurityKit.StartAsync();
        var environment = new Dictionary<string, string>
        {
            ["SWITCHBOARD_URL"] = open.BaseAddress.ToString().TrimEnd('/'),
            ["SWITCHBOARD_SECURE_URL"] = secure.BaseAddress.ToString().TrimEnd('/'),
            ["SWITCHBOARD_JWT_SECRET"] = SecurityKit.Secret,
            ["SWITCHBOARD_PUBLISH_KEY"] = SecurityKit.PublishKey,
        };

        var result = await NodeScript.RunInAsync(Path.Combine("clients", "js"), environment, TimeSpan.FromMinutes(4),
            "--test", "--test-force-exit", "--test-reporter=spec", "--test-concurrency=1", "test/");

        Assert.True(result.ExitCode == 0, $"node --test in clients/js failed ({result.ExitCode}):\n{result.Output}\n{result.Error}");
        Assert.Contains("fail 0", result.Output);
        Assert.Contains("skipped 0", result.Output);
    }
}
