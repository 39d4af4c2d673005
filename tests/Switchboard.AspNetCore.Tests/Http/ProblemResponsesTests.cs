using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Http;

public sealed class ProblemResponsesTests
{
    [Theory]
    [InlineData("GET", "v1/nope")]
    [InlineData("GET", "v1/topics/a/events/extra")]
    [InlineData("POST", "v1/topics/a")]
    [InlineData("DELETE", "v1/nothing/here")]
    [InlineData("POST", "v1/topics//events")]
    [InlineData("GET", "v1/topics//presence")]
    [InlineData("GET", "v1/jobs//result")]
    [InlineData("GET", "v1/jobs//stream")]
    [InlineData("POST", "v1/webhooks//test")]
    [InlineData("POST", "v1/queues//claim")]
    [InlineData("GET", "v1/config//history")]
    public async Task UnknownPath_UnderPrefix_Returns404Problem(string method, string path)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await client.SendAsync(request).Within();

        var problem = await response.AssertProblemAsync(HttpStatusCode.NotFound, "not-found");
        Assert.Equal("/" + path, problem.GetProperty("instance").GetString());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Theory]
    [InlineData("DELETE", "v1/events", "GET, HEAD, POST")]
    [InlineData("PUT", "v1/topics/a/events", "POST")]
    [InlineData("GET", "v1/topics/a/events", "POST")]
    [InlineData("POST", "v1/stream", "GET")]
    [InlineData("DELETE", "v1/health", "GET, HEAD")]
    public async Task KnownPath_WrongMethod_Returns405ProblemWithAllow(string method, string path, string allow)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await client.SendAsync(request).Within();

        await response.AssertProblemAsync(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task Problem_InvalidTopic_HasRfc9457Members()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath("a..b"), """{"data":1}""");

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-topic");
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.Contains("a..b", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("/v1/topics/a..b/events", problem.GetProperty("instance").GetString());
    }

    [Fact]
    public async Task Health_Get_ReturnsOkWithEpochAndCursor()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishAsync("health");

        var health = HubApi.Parse(await client.GetStringAsync("v1/health").Within());

        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(server.Hub.Log.Epoch, health.GetProperty("epoch").GetString());
        // The health cursor is the head: polling from it finds nothing new.
        Assert.Empty((await client.PollAsync("topic=health&after=" + health.GetProperty("cursor").GetString())).Events);
    }
}
