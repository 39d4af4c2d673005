using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>Backpressure: a client that does not read is closed with 1013 and a resume cursor; nobody else waits for it.</summary>
public sealed class WebSocketSlowClientTests
{
    [Fact]
    public async Task Subscribe_CatchingUpThroughASmallSendQueue_RequestsAreStillAnsweredAndNothingIsClosed()
    {
        const int Backlog = 1000;
        await using var server = await HubServer.StartAsync(o => o.WebSockets.SendQueueCapacity = 8);
        using var client = server.CreateClient();
        await client.PublishManyAsync("catchup", Backlog);
        await using var socket = await HubSocket.ConnectAsync(server, "reader");

        // The subscription fills the send queue as fast as the socket drains it; a healthy client that asks
        // for more meanwhile is reading, and must not be taken for a slow one.
        await socket.SubscribeAsync("history", ["catchup"], after: "earliest");
        for (var i = 0; i < 20; i++)
        {
            await socket.SendAsync($$"""{"op":"ping","id":{{i}}}""");
        }

        await socket.SendAsync("""{"op":"subscribe","id":"second","topics":["catchup.other"]}""");
        await socket.SendAsync("""{"op":"presence","id":"who","topic":"chat.lobby"}""");
        var messages = new List<JsonElement>();
        var events = 0;
        while (events < Backlog || messages.Count - events < 22)
        {
            var message = await socket.ReceiveAsync();
            messages.Add(message);
            events += message.Op() == "event" ? 1 : 0;
        }

        Assert.Equal(Enumerable.Range(0, Backlog), messages.Where(m => m.Op() == "event").Select(m => m.EventN()));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"pong {i}"), messages.Where(m => m.Op() == "pong").Select(m => $"pong {m.GetProperty("id").GetInt32()}"));
        Assert.Contains(messages, m => m.Op() == "ack" && m.Str("id") == "second");
        Assert.Contains(messages, m => m.Op() == "presence" && m.Str("id") == "who");
        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Subscribe_ClientThatStopsReading_IsClosedWith1013AndResumesExactlyWhileAHealthyClientGetsEverything()
    {
        const int Total = 1000;
        const int PerBatch = 100;
        var logs = new LogCapture();
        await using var server = await HubServer.StartAsync(
            o =>
            {
                o.WebSockets.SendQueueCapacity = 8;
                // Short, but not so short that a stall of the busy test machine closes the healthy client too
                // (at 500 ms it sometimes did while the 8 MB were being published).
                o.WebSockets.SlowClientTimeout = TimeSpan.FromSeconds(2);
            },
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        using var client = server.CreateClient();
        var start = await client.CursorNowAsync("slow.feed");

        // The slow client subscribes and then reads nothing, through a 4 KiB kernel receive buffer.
        await using var slow = await HubSocket.ConnectAsync(server, "slow", startReading: false, receiveBufferSize: 4096);
        await slow.SendAsync($$"""{"op":"subscribe","id":"feed","topics":["slow.feed"],"after":"{{start}}"}""");
        await using var healthy = await HubSocket.ConnectAsync(server, "healthy");
        await healthy.SubscribeAsync("feed", ["slow.feed"], after: start);

        // 8 MB of events, far more than the kernel and Kestrel buffer for a connection.
        var receiving = healthy.EventsAsync("feed", Total, TimeSpan.FromSeconds(30));
        var pad = new string('p', 8 * 1024);
        for (var first = 0; first < Total; first += PerBatch)
        {
            await client.PublishBatchAsync("[" + string.Join(",", Enumerable.Range(first, PerBatch).Select(n => $$$"""{"topic":"slow.feed","data":{"n":{{{n}}},"pad":"{{{pad}}}"}}""")) + "]");
        }

        // The healthy client gets everything while the slow one is stuck: nobody waits for a slow client.
        var healthyEvents = await receiving;
        Assert.Equal(Enumerable.Range(0, Total), healthyEvents.Select(e => e.EventN()));
        await Waiting.UntilAsync(() => logs.Contains(301), "the server to give up on the client that does not read");

        // The slow client reads at last: what the buffers held, then the close with the cursor to resume after.
        var (messages, status, description) = await slow.ReadUntilCloseAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((WebSocketCloseStatus)1013, status);
        Assert.StartsWith("too slow; resume after ", description, StringComparison.Ordinal);
        Assert.Equal("ack", messages[0].Op());
        var slowEvents = messages.Skip(1).ToList();
        Assert.All(slowEvents, m => Assert.Equal(("event", "feed"), (m.Op(), m.Str("subscription"))));
        var got = slowEvents.Count;
        Assert.InRange(got, 1, Total - 1);
        Assert.Equal(Enumerable.Range(0, got), slowEvents.Select(e => e.EventN()));
        var resumeAfter = description!["too slow; resume after ".Length..];
        Assert.Equal(slowEvents[^1].Str("cursor"), resumeAfter);

        // Resuming from that cursor continues exactly where the slow client stopped.
        await using var resumed = await HubSocket.ConnectAsync(server, "slow");
        await resumed.SubscribeAsync("feed", ["slow.feed"], after: resumeAfter);
        var rest = await resumed.EventsAsync("feed", Total - got, TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(got, Total - got), rest.Select(e => e.EventN()));
    }

    [Fact]
    public async Task Send_RequestsFromAClientThatNeverReadsTheReplies_ClosesWith1013()
    {
        const int Pings = 200;
        var logs = new LogCapture();
        await using var server = await HubServer.StartAsync(
            o =>
            {
                o.WebSockets.MaxMessagesPerSecond = 10_000;
                o.WebSockets.SendQueueCapacity = 8; // replies may then have 64 waiting
            },
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        await using var socket = await HubSocket.ConnectAsync(server, "deaf", startReading: false, receiveBufferSize: 4096);

        // Each pong echoes a 32 KiB id: 6 MB of replies, far more than the buffers hold, none of them read.
        var id = new string('i', 32 * 1024);
        for (var i = 0; i < Pings; i++)
        {
            await socket.SendAsync($$"""{"op":"ping","id":"{{id}}"}""");
        }

        await Waiting.UntilAsync(() => logs.Contains(302), "the server to give up on the client that does not read its replies");
        var (messages, status, description) = await socket.ReadUntilCloseAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((WebSocketCloseStatus)1013, status);
        Assert.Equal("too slow; resume from your last cursor", description);
        Assert.All(messages, m => Assert.Equal("pong", m.Op()));
        Assert.InRange(messages.Count, 1, Pings - 1);
    }

    [Fact]
    public async Task Close_ClientThatNeverReadsAgain_IsDroppedAfterTheCloseTimeoutNotTheKeepAlive()
    {
        var logs = new LogCapture();
        await using var server = await HubServer.StartAsync(
            o =>
            {
                o.WebSockets.SendQueueCapacity = 8;
                o.WebSockets.SlowClientTimeout = TimeSpan.FromSeconds(1);
                o.WebSockets.CloseTimeout = TimeSpan.FromSeconds(1);
                // The keep-alive would take ten minutes: only the close timeout can drop this client in time.
                o.WebSockets.KeepAliveInterval = TimeSpan.FromMinutes(10);
                o.WebSockets.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            },
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        using var client = server.CreateClient();
        var start = await client.CursorNowAsync("stuck.feed");
        await using var stuck = await HubSocket.ConnectAsync(server, "stuck", startReading: false, receiveBufferSize: 4096);
        await stuck.SendAsync($$"""{"op":"subscribe","id":"feed","topics":["stuck.feed"],"after":"{{start}}"}""");
        var counter = server.App.Services.GetRequiredService<Switchboard.AspNetCore.WebSockets.WebSocketConnectionCounter>();
        await Waiting.UntilAsync(() => counter.Open == 1, "the stuck client to be connected");

        var pad = new string('p', 8 * 1024);
        for (var first = 0; first < 500; first += 100)
        {
            await client.PublishBatchAsync("[" + string.Join(",", Enumerable.Range(first, 100).Select(n => $$$"""{"topic":"stuck.feed","data":{"n":{{{n}}},"pad":"{{{pad}}}"}}""")) + "]");
        }

        await Waiting.UntilAsync(() => logs.Contains(301), "the server to give up on the client that does not read");
        await Waiting.UntilAsync(() => logs.Contains(303) && counter.Open == 0, "the stuck connection to be dropped", TimeSpan.FromSeconds(20));
    }
}
