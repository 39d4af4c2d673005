using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests;

/// <summary>The hub hosted inside someone else's app, the way <c>AddSwitchboard</c>/<c>MapSwitchboard</c> are meant to be used.</summary>
public sealed class EmbeddingTests
{
    [Fact]
    public async Task MapSwitchboard_CustomPrefixNextToAppEndpoints_ServesBoth()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSwitchboard(o => o.Polling.PollIntervalSeconds = 5);
        await using var app = builder.Build();
        app.MapGet("/hello", () => "hello from the host app");
        app.MapSwitchboard("/events-api");
        await app.StartAsync().Within();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var client = new HttpClient { BaseAddress = new Uri(address + "/") };

            using var published = await client.PostAsync(HubApi.EventsPath("embedded.orders", prefix: "events-api"), """{"type":"created","data":{"id":1}}""");
            using var batch = await client.PostAsync("events-api/events", """[{"topic":"embedded.orders","data":{"id":2}}]""");
            using var polled = await client.GetAsync("events-api/events?topic=embedded.*&after=earliest").Within();
            var hello = await client.GetStringAsync("hello").Within();
            using var defaultPrefix = await client.GetAsync("v1/events?topic=embedded.orders").Within();
            using var unknownUnderPrefix = await client.GetAsync("events-api/nope").Within();

            Assert.Equal(HttpStatusCode.Created, published.StatusCode);
            Assert.Equal(HttpStatusCode.Created, batch.StatusCode);
            Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
            Assert.Equal("5", Assert.Single(polled.Headers.GetValues("X-Poll-Interval")));
            var page = HubApi.ToPage(await polled.Content.ReadAsStringAsync());
            Assert.Equal([1, 2], page.Events.Select(e => e.GetProperty("data").GetProperty("id").GetInt32()));
            Assert.Equal("hello from the host app", hello);
            Assert.Equal(HttpStatusCode.NotFound, defaultPrefix.StatusCode);
            await unknownUnderPrefix.AssertProblemAsync(HttpStatusCode.NotFound, "not-found");
        }
        finally
        {
            await app.StopAsync().Within();
        }
    }

    [Fact]
    public async Task AddSwitchboard_InvalidOptions_FailsAppStartWithOptionsValidationException()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSwitchboard(o => o.Limits.MaxEventBytes = 0);
        await using var app = builder.Build();
        app.MapSwitchboard();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync().Within());

        Assert.Contains(error.Failures, f => f.Contains("MaxEventBytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AddSwitchboard_ValidOptions_AreWhatTheHubUses()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxTopicLength = 10);
        using var client = server.CreateClient();

        using var tooLong = await client.PostAsync(HubApi.EventsPath("abcdefghijk"), """{"data":1}""");
        var atLimit = await client.PublishAsync("abcdefghij");

        await tooLong.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-topic");
        Assert.Equal("abcdefghij", atLimit.GetProperty("topic").GetString());
    }
}
