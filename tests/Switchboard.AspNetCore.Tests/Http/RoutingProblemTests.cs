using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Http;

/// <summary>
/// Every path of the server fails as <c>/v1</c> does: a mapped path asked with another method is a 405 problem with
/// <c>Allow</c>, a path nothing serves is a 404 problem; not routing's empty answers.
/// </summary>
public sealed class RoutingProblemTests
{
    [Theory]
    [InlineData("POST", "dashboard", "GET, HEAD")]
    [InlineData("DELETE", "playground", "GET, HEAD")]
    [InlineData("POST", "openapi/v1.json", "GET, HEAD")]
    [InlineData("PUT", "monitoring/dashboard.js", "GET, HEAD")]
    [InlineData("POST", "dashboard/stream", "GET")]
    [InlineData("GET", "playground/sessions", "POST")]
    [InlineData("POST", "v1/client.js", "GET, HEAD")]
    [InlineData("DELETE", "v1/client.js", "GET, HEAD")]
    public async Task AMappedPath_AskedWithAnotherMethod_Is405ProblemWithAllow(string method, string path, string allow)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)).Within();

        var problem = await response.AssertProblemAsync(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
        Assert.Equal("/" + path, problem.GetProperty("instance").GetString());
        Assert.Contains(allow, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "nothing/here")]
    [InlineData("POST", "chat")]
    [InlineData("DELETE", "dashboards")]
    public async Task APathNothingServes_Is404Problem(string method, string path)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)).Within();

        var problem = await response.AssertProblemAsync(HttpStatusCode.NotFound, "not-found");
        Assert.Equal("/" + path, problem.GetProperty("instance").GetString());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task WhatIsServed_IsLeftAsItIs()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var page = await client.GetAsync("dashboard").Within();
        using var missingAsset = await client.GetAsync("monitoring/nope.js").Within();

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        // The endpoint's own problem, not one written over it.
        await missingAsset.AssertProblemAsync(HttpStatusCode.NotFound, "unknown-asset");
    }

    [Fact]
    public async Task AHostWithPagesOfItsOwn_KeepsItsOwn404s_WhileTheApiAnswersProblems()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSwitchboard();
        await using var app = builder.Build();
        app.MapGet("/home", () => "the host's page");
        app.MapSwitchboard(); // without UseSwitchboardProblemAnswers
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        using var hostMissing = await client.GetAsync("nothing/here").Within();
        using var hostWrongMethod = await client.PostAsync("home", new StringContent("")).Within();
        using var apiMissing = await client.GetAsync("v1/nothing/here").Within();

        Assert.Equal(HttpStatusCode.NotFound, hostMissing.StatusCode);
        Assert.Empty(await hostMissing.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, hostWrongMethod.StatusCode);
        Assert.Empty(await hostWrongMethod.Content.ReadAsByteArrayAsync());
        await apiMissing.AssertProblemAsync(HttpStatusCode.NotFound, "not-found");
        await app.StopAsync();
    }
}
