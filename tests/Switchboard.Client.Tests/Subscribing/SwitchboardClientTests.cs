using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Subscribing;

public sealed class SwitchboardClientTests
{
    private const string Secret = "switchboard-client-test-secret-0123456789";

    public static TheoryData<SwitchboardTransport> EveryTransport() =>
        [SwitchboardTransport.WebSocket, SwitchboardTransport.ServerSentEvents, SwitchboardTransport.LongPolling, SwitchboardTransport.Polling];

    private static SwitchboardClientOptions Options(Uri baseAddress, params SwitchboardTransport[] transports)
    {
        var options = FastClientOptions.For(baseAddress, transports);
        options.UpgradeRetryDelay = TimeSpan.FromMilliseconds(300);
        options.MaxUpgradeRetryDelay = TimeSpan.FromSeconds(1);
        return options;
    }

    private static JsonElement Json<T>(T value) => JsonSerializer.SerializeToElement(value);

    private static int Number(HubEvent e) => e.Data.GetProperty("i").GetInt32();

    private static async Task<List<HubEvent>> TakeAsync(IAsyncEnumerable<HubEvent> events, int count)
    {
        var taken = new List<HubEvent>();
        using var timeout = new CancellationTokenSource(Waiting.DefaultTimeout);
        await foreach (var e in events.WithCancellation(timeout.Token))
        {
            taken.Add(e);
            if (taken.Count == count)
            {
                break;
            }
        }

        return taken;
    }

    [Theory]
    [MemberData(nameof(EveryTransport))]
    public async Task ForcedTransport_DeliversInOrder_AndResumesFromACursorWithoutGapOrRepeat(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        using var client = new SwitchboardClient(Options(hub.BaseAddress, transport));
        for (var i = 0; i < 10; i++)
        {
            await client.PublishAsync(i % 2 == 0 ? "orders.eu" : "orders.us", Json(new { i }));
            await client.PublishAsync("other", Json(new { i = -1 }));
        }

        var connected = new ConcurrentQueue<SwitchboardTransport>();
        var first = await TakeAsync(client.SubscribeAsync(["orders.*"], new SubscribeOptions { After = "earliest", OnConnected = connected.Enqueue }), 4);
        Assert.Equal([0, 1, 2, 3], first.Select(Number));
        Assert.Equal(transport, Assert.Single(connected.Distinct()));

        // Resume from the fourth event's cursor while more are published live.
        var resumed = client.SubscribeAsync(["orders.*"], first[^1].Cursor);
        var reading = TakeAsync(resumed, 10);
        for (var i = 10; i < 14; i++)
        {
            await client.PublishAsync("orders.eu", Json(new { i }));
        }

        var rest = await reading.Within(TimeSpan.FromSeconds(20));
        Assert.Equal(Enumerable.Range(4, 10), rest.Select(Number));
        Assert.True(rest.Zip(rest.Skip(1)).All(p => p.First.Seq < p.Second.Seq), "seqs increase");
        Assert.All(rest, e => Assert.False(string.IsNullOrEmpty(e.Cursor)));
    }

    [Theory]
    [MemberData(nameof(EveryTransport))]
    public async Task Dispose_EndsRunningSubscriptions_ClosesTheirConnections_AndRefusesLaterCalls(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        var client = new SwitchboardClient(Options(proxy.BaseAddress, transport));
        var events = new ConcurrentQueue<HubEvent>();
        var connected = new TaskCompletionSource();
        var running = Task.Run(async () =>
        {
            await foreach (var e in client.SubscribeAsync(["room"], new SubscribeOptions { OnConnected = _ => connected.TrySetResult() }))
            {
                events.Enqueue(e);
            }
        });
        await connected.Task.Within();
        await publisher.PublishAsync("room", Json(new { i = 1 }));
        await Waiting.UntilAsync(() => !events.IsEmpty || running.IsCompleted, "the first event");

        client.Dispose();

        // The subscription ends at once, as cancelling it would, instead of reconnecting for ever on a disposed client.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => running.Within(TimeSpan.FromSeconds(5)));
        await Waiting.UntilAsync(() => proxy.OpenConnections == 0, $"the subscription's connections to close (open: {proxy.OpenConnections})", TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.PublishAsync("room", Json(new { i = 2 })));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var _ in client.SubscribeAsync(["room"]))
            {
            }
        });
        Assert.Equal([1], events.Select(Number));
        client.Dispose(); // a second Dispose does nothing
    }

    [Fact]
    public async Task AwaitUsing_DisposesTheClient_EndingItsSubscriptionsAndClosingTheirConnections()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        var connected = new TaskCompletionSource();
        Task running;
        await using (var client = new SwitchboardClient(Options(proxy.BaseAddress)))
        {
            running = Task.Run(async () =>
            {
                await foreach (var _ in client.SubscribeAsync(["room"], new SubscribeOptions { OnConnected = _ => connected.TrySetResult() }))
                {
                }
            });
            await connected.Task.Within();
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(() => running.Within(TimeSpan.FromSeconds(5)));
        await Waiting.UntilAsync(() => proxy.OpenConnections == 0, $"the subscription's connections to close (open: {proxy.OpenConnections})", TimeSpan.FromSeconds(5));
    }

    [Theory]
    [MemberData(nameof(EveryTransport))]
    public async Task EveryTransport_HandsOutTheSameCursorsAsWebSocket(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        using var client = new SwitchboardClient(Options(hub.BaseAddress, transport));
        using var reference = new SwitchboardClient(Options(hub.BaseAddress, SwitchboardTransport.WebSocket));
        for (var i = 0; i < 5; i++)
        {
            await client.PublishAsync("orders.eu", Json(new { i }));
            await client.PublishAsync("noise", Json(new { i }));
        }

        var mine = await TakeAsync(client.SubscribeAsync(["orders.eu"], "earliest"), 5);
        var theirs = await TakeAsync(reference.SubscribeAsync(["orders.eu"], "earliest"), 5);
        Assert.Equal(theirs.Select(e => (e.Seq, e.Cursor)), mine.Select(e => (e.Seq, e.Cursor)));
    }

    [Fact]
    public async Task Auto_FallsBackToSse_ThenLongPolling_AndReturnsToWebSocket()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress) { RefuseWebSockets = true };
        using var client = new SwitchboardClient(Options(proxy.BaseAddress));
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await using var collector = new Collector(client, ["room"]);

        await collector.UntilTransportAsync(SwitchboardTransport.ServerSentEvents);
        await publisher.PublishAsync("room", Json(new { i = 1 }));
        await collector.UntilCountAsync(1);

        proxy.RefuseSse = true;
        proxy.DropAll();
        await collector.UntilTransportAsync(SwitchboardTransport.LongPolling);
        await publisher.PublishAsync("room", Json(new { i = 2 }));
        await collector.UntilCountAsync(2);

        proxy.RefuseWebSockets = false;
        proxy.RefuseSse = false;
        await collector.UntilTransportAsync(SwitchboardTransport.WebSocket);
        await publisher.PublishAsync("room", Json(new { i = 3 }));
        await collector.UntilCountAsync(3);

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.Equal([1, 2, 3], collector.Events.Select(Number));
        Assert.DoesNotContain(SwitchboardTransport.Polling, collector.Connections);
    }

    [Fact]
    public async Task Auto_FallsBackToLongPolling_WhenSseIsBufferedByAProxy()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress) { RefuseWebSockets = true, BufferSse = true };
        var options = Options(proxy.BaseAddress);
        options.ConnectTimeout = TimeSpan.FromMilliseconds(500);
        options.UpgradeRetryDelay = TimeSpan.FromSeconds(30);
        using var client = new SwitchboardClient(options);
        await using var collector = new Collector(client, ["room"]);

        await collector.UntilTransportAsync(SwitchboardTransport.LongPolling);
        await client.PublishAsync("room", Json(new { i = 1 }));
        await collector.UntilCountAsync(1);
        Assert.DoesNotContain(SwitchboardTransport.ServerSentEvents, collector.Connections);
    }

    [Fact]
    public async Task Auto_WhileTheHubIsDown_KeepsRetryingWebSocket_InsteadOfFallingBack()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        var options = Options(proxy.BaseAddress);
        options.UpgradeRetryDelay = TimeSpan.FromSeconds(30); // a fall-back would stay put for the whole test
        using var logs = new ReconnectCounter();
        using var client = new SwitchboardClient(options, loggerFactory: logs.Factory);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await using var collector = new Collector(client, ["room"]);
        await collector.UntilTransportAsync(SwitchboardTransport.WebSocket);
        await publisher.PublishAsync("room", Json(new { i = 1 }));
        await collector.UntilCountAsync(1);

        // A restarting hub: its port refuses connections for a while.
        proxy.GoOffline();
        await Waiting.UntilAsync(() => logs.Failures >= 5 || collector.Running.IsCompleted, $"five refused connection attempts (saw {logs.Failures})");
        await publisher.PublishAsync("room", Json(new { i = 2 }));
        proxy.GoOnline();
        await collector.UntilCountAsync(2);

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.Equal([1, 2], collector.Events.Select(Number));
        Assert.Equal([SwitchboardTransport.WebSocket, SwitchboardTransport.WebSocket], collector.Connections);
        Assert.Equal(0, logs.FallBacks);
    }

    [Fact]
    public async Task Auto_DuringANetworkCut_KeepsRetryingWebSocket_AndIsBackOnItAsSoonAsTheNetworkIs()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        var options = Options(proxy.BaseAddress);
        options.StreamIdleTimeout = TimeSpan.FromSeconds(1.5);
        options.UpgradeRetryDelay = TimeSpan.FromSeconds(30); // a fall-back would stay put for the whole test
        using var logs = new ReconnectCounter();
        using var client = new SwitchboardClient(options, loggerFactory: logs.Factory);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await using var collector = new Collector(client, ["room"]);
        await collector.UntilTransportAsync(SwitchboardTransport.WebSocket);
        await publisher.PublishAsync("room", Json(new { i = 1 }));
        await collector.UntilCountAsync(1);

        // Packets are lost both ways: handshakes time out as a proxy swallowing upgrades would make them, but plain
        // requests time out too, so it is the network, not WebSocket.
        proxy.Blackhole = true;
        proxy.FreezeAll();
        await publisher.PublishAsync("room", Json(new { i = 2 }));
        await Waiting.UntilAsync(() => logs.Failures >= 2 || collector.Running.IsCompleted, $"two failed attempts during the cut (saw {logs.Failures})", TimeSpan.FromSeconds(30));
        Assert.Equal(0, logs.FallBacks);
        proxy.Blackhole = false;
        await collector.UntilCountAsync(2);

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.Equal([1, 2], collector.Events.Select(Number));
        Assert.Equal([SwitchboardTransport.WebSocket, SwitchboardTransport.WebSocket], collector.Connections);
        Assert.Equal(0, logs.FallBacks);
    }

    [Fact]
    public async Task LongPolling_FirstRequestLostToADeadNetwork_TimesOutAfterConnectTimeout_NotRequestTimeout()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        var options = Options(proxy.BaseAddress, SwitchboardTransport.LongPolling);
        options.ConnectTimeout = TimeSpan.FromSeconds(2);
        options.RequestTimeout = TimeSpan.FromSeconds(60);
        using var logs = new ReconnectCounter();
        using var client = new SwitchboardClient(options, loggerFactory: logs.Factory);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await publisher.PublishAsync("room", Json(new { i = 1 }));

        // The first request of the connection goes into a dead network; the next one, after it times out, gets through.
        proxy.Blackhole = true;
        await using var collector = new Collector(client, ["room"]);
        await Waiting.UntilAsync(() => logs.Failures >= 1 || collector.Running.IsCompleted, "the first poll to time out", TimeSpan.FromSeconds(20));
        proxy.Blackhole = false;
        await collector.UntilCountAsync(1);

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.Equal([1], collector.Events.Select(Number));
    }

    [Fact]
    public async Task Auto_WebSocketUpgradeAnswered503WithRetryAfter_WaitsAndRetriesWebSocket()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress) { BusyWebSockets = true };
        var options = Options(proxy.BaseAddress);
        options.UpgradeRetryDelay = TimeSpan.FromSeconds(30);
        using var client = new SwitchboardClient(options);
        await using var collector = new Collector(client, ["room"]);

        await Waiting.UntilAsync(() => proxy.BusyRefusals >= 2 || collector.Running.IsCompleted, "two refused upgrades");
        proxy.BusyWebSockets = false;
        await collector.UntilTransportAsync(SwitchboardTransport.WebSocket);
        await client.PublishAsync("room", Json(new { i = 1 }));
        await collector.UntilCountAsync(1);

        Assert.Equal([SwitchboardTransport.WebSocket], collector.Connections);
    }

    [Fact]
    public async Task WebSocket_ThatGoesSilentWithoutClosing_IsReconnectedAfterTheIdleTimeout()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        var options = Options(proxy.BaseAddress, SwitchboardTransport.WebSocket);
        options.StreamIdleTimeout = TimeSpan.FromSeconds(1.5);
        using var client = new SwitchboardClient(options);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await using var collector = new Collector(client, ["room"]);
        await collector.UntilTransportAsync(SwitchboardTransport.WebSocket);
        await publisher.PublishAsync("room", Json(new { i = 1 }));
        await collector.UntilCountAsync(1);

        proxy.FreezeAll();
        await publisher.PublishAsync("room", Json(new { i = 2 })); // stuck in the frozen connection
        await collector.UntilCountAsync(2);

        Assert.Equal([1, 2], collector.Events.Select(Number));
        Assert.Equal(2, collector.Connections.Count);
    }

    /// <summary>Counts the subscription's failed connection attempts and fall-backs, from its log.</summary>
    private sealed class ReconnectCounter : ILoggerProvider, ILogger
    {
        private int _failures;
        private int _fallBacks;

        public ReconnectCounter() => Factory = LoggerFactory.Create(builder => builder.AddProvider(this).SetMinimumLevel(LogLevel.Debug));

        public ILoggerFactory Factory { get; }

        public int Failures => Volatile.Read(ref _failures);

        public int FallBacks => Volatile.Read(ref _fallBacks);

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // 41: falling back to the next transport; 42: reconnecting the same one.
            if (eventId.Id is 41 or 42)
            {
                Interlocked.Increment(ref _failures);
            }

            if (eventId.Id == 41)
            {
                Interlocked.Increment(ref _fallBacks);
            }
        }

        public void Dispose() => Factory.Dispose();
    }

    [Fact]
    public async Task ManyEvents_AcrossForcedDisconnectsAndSwitches_NoGapNoRepeat()
    {
        const int Count = 600;
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        var options = Options(proxy.BaseAddress);
        options.UpgradeRetryDelay = TimeSpan.FromMilliseconds(150);
        options.MaxUpgradeRetryDelay = TimeSpan.FromMilliseconds(300);
        using var client = new SwitchboardClient(options);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await using var collector = new Collector(client, ["load.*"]);
        await collector.UntilTransportAsync(SwitchboardTransport.WebSocket);

        var disconnects = 0;
        for (var i = 0; i < Count; i++)
        {
            await publisher.PublishAsync($"load.{i % 3}", Json(new { i }));
            if (i % 40 == 39)
            {
                // Alternate which transports the proxy lets through, then cut everything: the next connection lands elsewhere.
                var phase = i / 40 % 4;
                proxy.RefuseWebSockets = phase is 1 or 2;
                proxy.RefuseSse = phase == 2;
                var before = collector.Connections.Count;
                proxy.DropAll();
                disconnects++;
                await collector.UntilCountAsync(i + 1);
                await Waiting.UntilAsync(() => collector.Connections.Count > before || collector.Running.IsCompleted, "a reconnect after the cut");
            }
        }

        await collector.UntilCountAsync(Count);
        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        var events = collector.Events.ToList();
        Assert.Equal(Enumerable.Range(0, Count), events.Select(Number));
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.Seq < p.Second.Seq), "seqs increase");
        Assert.True(disconnects >= 10, $"{disconnects} disconnects");
        var switches = collector.Connections.Zip(collector.Connections.Skip(1)).Count(p => p.First != p.Second);
        Assert.True(switches >= 10, $"{switches} transport switches: {string.Join(",", collector.Connections)}");
    }

    [Fact]
    public async Task Publish_RetriedAfterALostAnswer_AppendsExactlyOnce()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        using var client = new SwitchboardClient(Options(proxy.BaseAddress));
        proxy.DropPublishAnswers(2);

        var single = await client.PublishAsync("orders", Json(new { i = 1 }), type: "order.created");
        var batch = await client.PublishBatchAsync([new OutgoingEvent("orders", Json(new { i = 2 })), new OutgoingEvent("orders", Json(new { i = 3 }))]);

        Assert.Equal(2, proxy.DroppedPublishes);
        Assert.True(single.Replayed, "the retry was answered from the idempotency record");
        Assert.Equal("order.created", single.Type);
        Assert.Equal(2, batch.Count);
        using var http = hub.CreateClient();
        var stored = await http.GetFromJsonAsync<JsonElement>("v1/events?topic=orders&after=earliest");
        Assert.Equal([1, 2, 3], stored.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("data").GetProperty("i").GetInt32()));
    }

    [Fact]
    public async Task Publish_WithAnInvalidTopic_FailsWithTheProblemCode()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        using var client = new SwitchboardClient(Options(hub.BaseAddress));
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => client.PublishAsync("bad..topic", Json(1)));
        Assert.Equal("invalid-topic", error.Code);
    }

    [Theory]
    [InlineData(SwitchboardTransport.WebSocket)]
    [InlineData(SwitchboardTransport.ServerSentEvents)]
    [InlineData(SwitchboardTransport.LongPolling)]
    public async Task ShortLivedTokens_AreRefreshedThroughGetTokenAsync(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync(o =>
        {
            o.Auth.JwtSecret = Secret;
            o.Auth.ClockSkew = TimeSpan.Zero;
        }, sqlite: false);
        var calls = 0;
        var options = Options(hub.BaseAddress, transport);
        options.TokenRefreshBefore = TimeSpan.FromSeconds(1);
        options.GetTokenAsync = _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult(SubscriberTokens.Create(Secret, "alice", ["orders.>"], [], null, TimeSpan.FromSeconds(3)));
        };
        using var client = new SwitchboardClient(options);
        var publisherOptions = Options(hub.BaseAddress);
        publisherOptions.Token = SubscriberTokens.Create(Secret, "backend", [], ["orders.>"], null, TimeSpan.FromHours(1));
        using var publisher = new SwitchboardClient(publisherOptions);
        await using var collector = new Collector(client, ["orders.>"]);

        await publisher.PublishAsync("orders.eu", Json(new { i = 1 }));
        await collector.UntilCountAsync(1);
        // Long enough that the first token has expired, with its replacements in use.
        await Waiting.UntilAsync(() => Volatile.Read(ref calls) >= 3 || collector.Running.IsCompleted, "two token refreshes", TimeSpan.FromSeconds(20));
        await publisher.PublishAsync("orders.eu", Json(new { i = 2 }));
        await collector.UntilCountAsync(2);

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.Equal([1, 2], collector.Events.Select(Number));
        Assert.Equal(transport, Assert.Single(collector.Connections.Distinct()));
    }

    public static TheoryData<SwitchboardTransport[]> TransportLists() =>
    [
        [SwitchboardTransport.WebSocket], [SwitchboardTransport.ServerSentEvents], [SwitchboardTransport.LongPolling], [SwitchboardTransport.Polling], [],
    ];

    [Theory]
    [MemberData(nameof(TransportLists))]
    public async Task ForbiddenTopic_EndsTheSubscriptionWithAccessDenied(SwitchboardTransport[] transports)
    {
        await using var hub = await HubServer.StartAsync(o => o.Auth.JwtSecret = Secret, sqlite: false);
        var options = Options(hub.BaseAddress, transports);
        options.Token = SubscriberTokens.Create(Secret, "mallory", ["chat.>"], [], null, TimeSpan.FromHours(1));
        using var client = new SwitchboardClient(options);

        var error = await Assert.ThrowsAsync<SwitchboardAccessDeniedException>(() => TakeAsync(client.SubscribeAsync(["orders"]), 1));
        Assert.Equal("forbidden", error.Code);
    }

    [Fact]
    public async Task ABadCredential_WithNoWayToRefreshIt_EndsWithAccessDenied()
    {
        await using var hub = await HubServer.StartAsync(o => o.Auth.JwtSecret = Secret, sqlite: false);
        var options = Options(hub.BaseAddress);
        options.Token = SubscriberTokens.Create("another-secret-that-is-long-enough-0123456789", "mallory", [">"], [], null, TimeSpan.FromHours(1));
        using var client = new SwitchboardClient(options);

        await Assert.ThrowsAsync<SwitchboardAccessDeniedException>(() => TakeAsync(client.SubscribeAsync(["orders"]), 1));
        await Assert.ThrowsAsync<SwitchboardAccessDeniedException>(() => client.PublishAsync("orders", Json(1)));
    }

    [Fact]
    public async Task AForeignCursor_IsReportedAsAReset_AndTheSubscriptionContinues()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        using var client = new SwitchboardClient(Options(hub.BaseAddress));
        await client.PublishAsync("a", Json(new { i = 7 }));
        var resets = new ConcurrentQueue<HubReset>();

        var events = await TakeAsync(client.SubscribeAsync(["a"], new SubscribeOptions { After = "0123456789abcdef.7", OnReset = resets.Enqueue }), 1);

        Assert.Equal(7, Number(Assert.Single(events)));
        Assert.Equal("epoch-changed", Assert.Single(resets).Reason);
    }
}
