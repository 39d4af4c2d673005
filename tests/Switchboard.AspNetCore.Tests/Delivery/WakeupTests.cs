using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Delivery;

/// <summary>A publish wakes the readers it matches and no others, whatever their transport (seen through the index's counters).</summary>
public sealed class WakeupTests
{
    [Fact]
    public async Task Publish_ToOneTopic_WakesOnlyThatTopicsReader_OnEveryTransport()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var index = server.Hub.Log.Subscriptions;

        // Readers on their own topics: three SSE streams, a WebSocket subscription and a held long poll.
        var streams = new List<SseReader>();
        for (var i = 1; i <= 3; i++)
        {
            streams.Add(await SseReader.OpenAsync(client, $"v1/stream?topic=user.{i}"));
        }

        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("s", ["user.4"]);
        using var poller = server.CreateClient();
        var cursor = await client.CursorNowAsync("user.5");
        var poll = poller.GetAsync($"v1/events?topic=user.5&after={cursor}&wait=30");
        await Waiting.UntilAsync(() => index.Count == 5, "the five readers to be waiting in the index");

        var before = index.Wakeups;
        const int Events = 10;
        for (var n = 0; n < Events; n++)
        {
            await client.PublishAsync("user.1", $$$"""{"data":{"n":{{{n}}}}}""");
        }

        Assert.Equal(Events, (await streams[0].TakeAsync(Events)).Count);
        var woken = index.Wakeups - before;
        Assert.InRange(woken, 1, Events); // one reader per event at most: only user.1's stream
        foreach (var topic in new[] { "user.2", "user.3", "user.4", "user.5" })
        {
            Assert.Equal(0, Assert.Single(index.Match(topic)).Wakes);
        }

        await client.PublishAsync("user.5");
        using var answered = await poll.Within();
        Assert.Equal(System.Net.HttpStatusCode.OK, answered.StatusCode);
        foreach (var stream in streams)
        {
            await stream.DisposeAsync();
        }
    }
}
