using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;
using static Switchboard.AspNetCore.Tests.Security.SecurityKit;

namespace Switchboard.AspNetCore.Tests.Security;

/// <summary>Request rates and long-lived connections, per IP, per API key, per subject and per server.</summary>
public sealed class CapacityLimitTests
{
    /// <summary>Sends requests until one is refused (bounded); returns that answer.</summary>
    private static async Task<HttpResponseMessage> FirstRefusalAsync(Func<Task<HttpResponseMessage>> send, int max = 200)
    {
        for (var i = 0; i < max; i++)
        {
            var response = await send();
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                return response;
            }

            response.Dispose();
        }

        throw new Xunit.Sdk.XunitException($"No request of {max} was rate limited.");
    }

    [Fact]
    public async Task RequestRate_PerIp_Answers429WithRetryAfter()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.RequestsPerSecondPerIp = 5);
        using var client = server.CreateClient();
        using var refused = await FirstRefusalAsync(() => client.GetAsync("v1/events?topic=orders"));
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(1_500_000_000)]
    public async Task RequestRate_AtTheTopOfItsRange_AdmitsRequests(int perSecond)
    {
        // The bucket holds a burst of twice the rate, which must not overflow for the largest rates the option accepts.
        await using var server = await HubServer.StartAsync(o => o.Limits.RequestsPerSecondPerIp = perSecond);
        using var client = server.CreateClient();
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("v1/events?topic=orders");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task RequestRate_PerKey_LimitsThatKeyOnly()
    {
        await using var server = await StartAsync(o => o.Limits.RequestsPerSecondPerKey = 5);
        using var limited = Client(server, PublishKey);
        using var refused = await FirstRefusalAsync(() => limited.PostAsync(HubApi.EventsPath("orders"), """{"data":{}}"""));
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
        using var other = Client(server, AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("v1/webhooks")).StatusCode);
    }

    [Fact]
    public async Task RequestRate_PerSubject_LimitsThatSubjectOnly()
    {
        await using var server = await StartAsync(o => o.Limits.RequestsPerSecondPerSubject = 5);
        using var alice = Client(server, Token("alice", ["chat.>"]));
        using var refused = await FirstRefusalAsync(() => alice.GetAsync("v1/events?topic=chat.room1"));
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
        using var bob = Client(server, Token("bob", ["chat.>"]));
        Assert.Equal(HttpStatusCode.OK, (await bob.GetAsync("v1/events?topic=chat.room1")).StatusCode);
    }

    [Fact]
    public async Task Connections_PerIp_Answer429_AcrossSseAndWebSocket_AndFreeOnClose()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxConnectionsPerIp = 2);
        using var client = server.CreateClient();
        var first = await SseReader.OpenAsync(client, "v1/stream?topic=orders");
        await using var second = await HubSocket.ConnectAsync(server);
        await AssertProblemAsync(await client.GetAsync("v1/stream?topic=orders", credential: null), HttpStatusCode.TooManyRequests, "too-many-connections");
        Assert.Equal(HttpStatusCode.TooManyRequests, await HubSocket.RefusedStatusAsync(server));
        using (var heldPoll = await client.GetAsync("v1/events?topic=orders&wait=30", credential: null))
        {
            await AssertProblemAsync(heldPoll, HttpStatusCode.TooManyRequests, "too-many-connections");
        }

        // A short poll is not a long-lived connection and is not counted.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/events?topic=orders")).StatusCode);

        await first.DisposeAsync();
        await Waiting.UntilAsync(() => server.App.Services.GetRequiredService<Switchboard.AspNetCore.Auth.ConnectionGate>().Open == 1, "the closed stream's slot to be freed");
        await using var third = await SseReader.OpenAsync(client, "v1/stream?topic=orders");
    }

    [Fact]
    public async Task Connections_PerSubject_Answer429_ForThatSubjectOnly()
    {
        await using var server = await StartAsync(o => o.Limits.MaxConnectionsPerSubject = 1);
        using var client = server.CreateClient();
        var alice = Token("alice", ["chat.>"]);
        await using var first = await SseReader.OpenAsync(client, $"v1/stream?topic=chat.room1&access_token={alice}");
        await AssertProblemAsync(await client.GetAsync($"v1/stream?topic=chat.room1&access_token={alice}", credential: null), HttpStatusCode.TooManyRequests, "too-many-connections");
        await using var bob = await SseReader.OpenAsync(client, $"v1/stream?topic=chat.room1&access_token={Token("bob", ["chat.>"])}");
    }

    [Fact]
    public async Task HeldLongPolls_PerSubject_Answer429()
    {
        await using var server = await StartAsync(o => o.Limits.MaxLongPollsPerSubject = 1);
        var alice = Token("alice", ["chat.>"]);
        using var client = Client(server, alice);
        var held = client.GetAsync("v1/events?topic=chat.room1&wait=30");
        var gate = server.App.Services.GetRequiredService<Switchboard.AspNetCore.Auth.ConnectionGate>();
        await Waiting.UntilAsync(() => gate.Open == 1, "the first long poll to be held");
        await AssertProblemAsync(await client.GetAsync("v1/events?topic=chat.room1&wait=30"), HttpStatusCode.TooManyRequests, "too-many-long-polls");
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room1");
        using var answered = await held.Within();
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    [Fact]
    public async Task ServerConnectionLimit_Answers503WithRetryAfter_AndOpenConnectionsStillDeliver()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxConnections = 2);
        using var client = server.CreateClient();
        await using var sse = await SseReader.OpenAsync(client, "v1/stream?topic=orders");
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("s", ["orders"]);

        using var refused = await client.GetAsync("v1/stream?topic=orders", credential: null);
        await AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "server-busy");
        Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await HubSocket.RefusedStatusAsync(server));

        await client.PublishAsync("orders", """{"data":{"n":1}}""");
        Assert.Contains("\"n\":1", (await sse.NextAsync())!.Value.Data);
        Assert.Equal(1, (await socket.EventsAsync("s", 1))[0].EventN());
    }
}
