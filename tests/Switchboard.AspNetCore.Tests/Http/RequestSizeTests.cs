using System.Net;
using Switchboard.AspNetCore.Tests.BadInput;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Http;

/// <summary>
/// A request line or header block over the hub's limits is a 414 or 431 problem document, not Kestrel's empty answer;
/// requests within them, the longest subscription the default limits allow included, are served.
/// </summary>
public sealed class RequestSizeTests
{
    [Theory]
    [InlineData("v1/events")]
    [InlineData("v1/stream")]
    [InlineData("dashboard")]
    public async Task ARequestLine_OverTheLimit_Is414Problem(string path)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync($"{path}?topic={new string('a', 20_000)}").Within();

        var problem = await response.AssertProblemAsync(HttpStatusCode.RequestUriTooLong, "uri-too-long");
        Assert.Contains("16384", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Headers_OverTheLimit_Are431Problem()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/health");
        request.Headers.Add("X-Padding", new string('p', 40_000));

        using var response = await client.SendAsync(request).Within();

        var problem = await response.AssertProblemAsync(HttpStatusCode.RequestHeaderFieldsTooLarge, "request-headers-too-large");
        Assert.Contains("32768", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MoreHeaderLines_ThanTheLimit_Are431Problem_AndTheLimitItselfIsServed()
    {
        await using var server = await HubServer.StartAsync();

        var over = await RawHttp.SendAsync(server, "GET", "/v1/health", headers: Enumerable.Range(0, 120).Select(i => ($"X-H{i}", "v")).ToArray());
        Assert.Equal(431, over.Status);
        Assert.Equal("application/problem+json", over.MediaType);
        Assert.Equal("request-headers-too-large", over.Json().GetProperty("code").GetString());
        Assert.Contains("at most 100", over.Text, StringComparison.Ordinal);

        // Host and Connection are two of the lines: 98 more make 100.
        var within = await RawHttp.SendAsync(server, "GET", "/v1/health", headers: Enumerable.Range(0, 98).Select(i => ($"X-H{i}", "v")).ToArray());
        Assert.Equal(200, within.Status);
    }

    [Fact]
    public async Task TheMostTopicsTheDefaultLimitsAllow_AreServed()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        // 32 patterns of 255 characters, each ending in '>' (percent-encoded, three bytes): over Kestrel's default 8 KiB line.
        var query = string.Join('&', Enumerable.Range(0, 32).Select(i => "topic=" + Uri.EscapeDataString($"{i:D2}.{new string('t', 250)}.>")));
        Assert.True(query.Length > 8 * 1024);

        using var response = await client.GetAsync($"v1/events?{query}").Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task BeyondKestrelsRaisedLimit_TheConnectionIsRefused_AndTheHubServesOn()
    {
        await using var server = await HubServer.StartAsync();

        // Kestrel's own answer: a status line and no body, all the hub can promise here.
        var answer = await RawHttp.SendAsync(server, "GET", $"/v1/events?topic={new string('a', 80_000)}");
        Assert.Equal(414, answer.Status);

        using var client = server.CreateClient();
        using var health = await client.GetAsync("v1/health").Within();
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
