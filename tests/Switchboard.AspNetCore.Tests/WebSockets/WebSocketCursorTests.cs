using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Retention;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>Where a subscription starts (<c>after</c>, <c>history</c>), resets, resuming, and ordering.</summary>
public sealed class WebSocketCursorTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("latest")]
    public async Task Subscribe_WithoutAfterOrAfterLatest_DeliversOnlyNewEvents(string? after)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("fresh", 3);
        var head = await client.CursorNowAsync("fresh");
        await using var socket = await HubSocket.ConnectAsync(server);

        var ack = await socket.SubscribeAsync("s", ["fresh"], after: after);
        var live = await client.PublishAsync("fresh", """{"data":{"n":100}}""");
        var first = await socket.ReceiveAsync();

        Assert.Equal(head, ack.Str("cursor"));
        Assert.Equal(live.Seq(), first.EventSeq());
        Assert.Equal(100, first.EventN());
    }

    [Fact]
    public async Task Subscribe_AfterEarliest_DeliversRetainedHistoryThenLiveEventsInOrder()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("hist", 5);
        await client.PublishManyAsync("other", 2);
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SubscribeAsync("s", ["hist"], after: "earliest");
        var old = await socket.EventsAsync("s", 5);
        await client.PublishManyAsync("hist", 2, firstN: 5);
        var live = await socket.EventsAsync("s", 2);

        Assert.Equal(Enumerable.Range(0, 7), old.Concat(live).Select(e => e.EventN()));
        Assert.Empty(socket.Pending());
    }

    [Fact]
    public async Task Subscribe_AfterCursor_DeliversOnlyEventsAfterIt()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("resume", 3);
        var cursor = await client.CursorNowAsync("resume");
        await client.PublishManyAsync("resume", 2, firstN: 3);
        await using var socket = await HubSocket.ConnectAsync(server);

        var ack = await socket.SubscribeAsync("s", ["resume"], after: cursor);
        var events = await socket.EventsAsync("s", 2);

        Assert.Equal(cursor, ack.Str("cursor"));
        Assert.Equal([3, 4], events.Select(e => e.EventN()));
    }

    [Fact]
    public async Task Subscribe_HistoryN_DeliversTheLastNEventsOfTheRoomThenLiveOnes()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        // The room's history is interleaved with another topic's, so "last N" must count the room's events only.
        for (var n = 0; n < 10; n++)
        {
            await client.PublishAsync("chat.history", $$$"""{"data":{"n":{{{n}}}}}""");
            await client.PublishAsync("chat.elsewhere", $$$"""{"data":{"n":{{{100 + n}}}}}""");
        }

        await using var socket = await HubSocket.ConnectAsync(server, "late");

        await socket.SubscribeAsync("room", ["chat.history"], history: 3, presence: true);
        var history = await socket.EventsAsync("room", 3);
        await socket.RequestAsync("""{"op":"publish","id":"p","topic":"chat.history","data":{"n":10}}""");
        await client.PublishAsync("chat.history", """{"data":{"n":11}}""");
        var live = await socket.EventsAsync("room", 2);

        Assert.Equal([7, 8, 9, 10, 11], history.Concat(live).Select(e => e.EventN()));
    }

    [Fact]
    public async Task Subscribe_HistoryOverMaxHistory_DeliversOnlyMaxHistoryEvents()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxHistory = 2);
        using var client = server.CreateClient();
        await client.PublishManyAsync("chat.capped", 6);
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SubscribeAsync("s", ["chat.capped"], history: 1000);
        var history = await socket.EventsAsync("s", 2);
        await client.PublishManyAsync("chat.capped", 1, firstN: 6);
        var live = await socket.EventsAsync("s", 1);

        Assert.Equal([4, 5, 6], history.Concat(live).Select(e => e.EventN()));
    }

    [Fact]
    public async Task Subscribe_HistoryZero_DeliversOnlyLiveEvents()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("chat.zero", 3);
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SubscribeAsync("s", ["chat.zero"], history: 0);
        await client.PublishManyAsync("chat.zero", 1, firstN: 3);
        var first = await socket.ReceiveAsync();

        Assert.Equal(3, first.EventN());
    }

    [Fact]
    public async Task Subscribe_CursorFromAnotherEpoch_AcksThenResetsAndReplaysFromEarliest()
    {
        await using var server = await HubServer.StartAsync();
        await using var other = await HubServer.StartAsync();
        using var client = server.CreateClient();
        using var otherClient = other.CreateClient();
        await client.PublishManyAsync("epoch", 3);
        await otherClient.PublishManyAsync("epoch", 5);
        var foreign = await otherClient.CursorNowAsync("epoch");
        await using var socket = await HubSocket.ConnectAsync(server);

        var ack = await socket.SubscribeAsync("s", ["epoch"], after: foreign);
        var reset = await socket.ReceiveAsync();
        var events = await socket.EventsAsync("s", 3);

        Assert.Equal("reset", reset.Op());
        Assert.Equal("s", reset.Str("subscription"));
        Assert.Equal("epoch-changed", reset.Str("reason"));
        Assert.Equal(ack.Str("cursor"), reset.Str("cursor"));
        Assert.NotEqual(foreign, reset.Str("cursor"));
        Assert.Equal([0, 1, 2], events.Select(e => e.EventN()));
    }

    [Fact]
    public async Task Subscribe_CursorAheadOfTheLog_ResetsWithReasonCursorAhead()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("ahead", 2);
        var cursor = await client.CursorNowAsync("ahead");
        await using var socket = await HubSocket.ConnectAsync(server);

        await socket.SubscribeAsync("s", ["ahead"], after: cursor[..cursor.LastIndexOf('.')] + ".999999");
        var reset = await socket.ReceiveAsync();
        var events = await socket.EventsAsync("s", 2);

        Assert.Equal(("reset", "cursor-ahead"), (reset.Op(), reset.Str("reason")));
        Assert.Equal([0, 1], events.Select(e => e.EventN()));
    }

    [Fact]
    public async Task Subscribe_CursorBeforeRetainedHistory_ResetsWithReasonCursorExpiredThenDeliversWhatIsLeft()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var before = await client.CursorNowAsync("retained");
        await client.PublishManyAsync("retained", 5);
        await server.Hub.Log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxEventsPerTopic = 2 }), DateTimeOffset.UtcNow);
        await using var socket = await HubSocket.ConnectAsync(server);

        var ack = await socket.SubscribeAsync("s", ["retained"], after: before);
        var reset = await socket.ReceiveAsync();
        var events = await socket.EventsAsync("s", 2);

        Assert.Equal(before, ack.Str("cursor"));
        Assert.Equal(("reset", "s", "cursor-expired"), (reset.Op(), reset.Str("subscription"), reset.Str("reason")));
        Assert.Equal([3, 4], events.Select(e => e.EventN()));
        Assert.Equal(events[0].EventSeq() - 1, SocketMessages.CursorSeq(reset.Str("cursor")));
    }

    [Fact]
    public async Task Resume_AfterForcedDisconnectsWhilePublishing_DeliversEveryEventOnceInOrder()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var published = 0;
        var stop = false;
        var publisher = Task.Run(async () =>
        {
            while (!Volatile.Read(ref stop))
            {
                await client.PublishAsync("resume.live", $$$"""{"data":{"n":{{{published}}}}}""");
                Interlocked.Increment(ref published);
            }
        });

        var received = new List<JsonElement>();
        var resumedWhilePublishing = 0;
        var socket = await HubSocket.ConnectAsync(server);
        try
        {
            await socket.SubscribeAsync("r", ["resume.live"], after: "earliest");
            foreach (var disconnectAt in new[] { 60, 150 })
            {
                while (received.Count < disconnectAt)
                {
                    received.Add(await socket.ReceiveAsync());
                }

                // Drop the connection with no close frame (a crash or lost network), miss some events, come back.
                socket.Abort();
                await socket.DisposeAsync();
                var missedFrom = Volatile.Read(ref published);
                await Waiting.UntilAsync(() => Volatile.Read(ref published) >= missedFrom + 20, "events published while disconnected");
                socket = await HubSocket.ConnectAsync(server);
                var lastCursor = received[^1].Str("cursor");
                var ack = await socket.SubscribeAsync("r", ["resume.live"], after: lastCursor);
                Assert.Equal(lastCursor, ack.Str("cursor"));
                resumedWhilePublishing++;
            }

            while (received.Count < 200)
            {
                received.Add(await socket.ReceiveAsync());
            }

            Volatile.Write(ref stop, true);
            await publisher.Within();
            while (received.Count < published)
            {
                received.Add(await socket.ReceiveAsync());
            }

            Assert.Empty(socket.Pending());
        }
        finally
        {
            Volatile.Write(ref stop, true);
            await socket.DisposeAsync();
        }

        Assert.Equal(2, resumedWhilePublishing);
        Assert.All(received, m => Assert.Equal(("event", "r"), (m.Op(), m.Str("subscription"))));
        Assert.Equal(Enumerable.Range(0, published), received.Select(m => m.EventN()));
    }

    [Fact]
    public async Task Subscribe_ConcurrentPublishersDuringCatchUp_EventsArriveInStrictSeqOrder()
    {
        const int Publishers = 4;
        const int PerPublisher = 250;
        // The socket publisher sends as fast as acks come back, faster than the default rate limit.
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxMessagesPerSecond = 10_000);
        using var client = server.CreateClient();
        await using var publisherSocket = await HubSocket.ConnectAsync(server);
        await using var socket = await HubSocket.ConnectAsync(server);
        await client.PublishManyAsync("chat.order.a", 100);

        // Catch-up from earliest turns into live delivery while HTTP and WebSocket publishers race.
        await socket.SubscribeAsync("ordered", ["chat.order.>"], after: "earliest");
        var http = Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (var batch = 0; batch < PerPublisher / 50; batch++)
            {
                await client.PublishManyAsync($"chat.order.p{p}", 50, perBatch: 50);
            }
        }));
        var viaSocket = Task.Run(async () =>
        {
            for (var n = 0; n < 100; n++)
            {
                var ack = await publisherSocket.RequestAsync($$$"""{"op":"publish","id":{{{n}}},"topic":"chat.order.ws","data":{"n":{{{n}}}}}""");
                Assert.Equal("ack", ack.Op());
            }
        });
        await Task.WhenAll(http.Append(viaSocket)).Within(TimeSpan.FromSeconds(30));
        var total = 100 + (Publishers * PerPublisher) + 100;
        var events = await socket.EventsAsync("ordered", total);

        var seqs = events.Select(e => e.EventSeq()).ToList();
        Assert.True(seqs.Zip(seqs.Skip(1)).All(pair => pair.First < pair.Second), "Events arrived out of seq order.");
        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), seqs);
        Assert.Empty(socket.Pending());
    }
}
