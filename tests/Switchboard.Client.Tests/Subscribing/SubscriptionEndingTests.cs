using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Subscribing;

/// <summary>
/// Which failures end a subscription and which are retried, and how fast: the caller-error list shared with the JS
/// client, 403s, token renewal on expiry only, the back-off after connections that do not last, bounded poll pages.
/// </summary>
public sealed partial class SubscriptionEndingTests
{
    private const string Secret = "switchboard-client-test-secret-0123456789";

    private static SwitchboardClientOptions Options(Uri baseAddress, params SwitchboardTransport[] transports)
    {
        var options = FastClientOptions.For(baseAddress, transports);
        options.UpgradeRetryDelay = TimeSpan.FromSeconds(30);
        return options;
    }

    private static JsonElement Json<T>(T value) => JsonSerializer.SerializeToElement(value);

    private static string RepositoryFile(params string[] parts) => Path.Combine([NodeScript.RepositoryRoot(), .. parts]);

    [GeneratedRegex("`([a-z-]+)`")]
    private static partial Regex Code();

    /// <summary>The codes in the caller-error table of docs/clients.md (the rows after its marker comment).</summary>
    internal static HashSet<string> DocumentedCallerErrors()
    {
        var lines = File.ReadAllLines(RepositoryFile("docs", "clients.md"));
        var start = Array.FindIndex(lines, l => l.Contains("caller-errors:", StringComparison.Ordinal));
        Assert.True(start >= 0, "docs/clients.md has no caller-errors table");
        var rows = lines.Skip(start + 3).TakeWhile(l => l.StartsWith('|'));
        return [.. rows.SelectMany(r => Code().Matches(r.Split('|')[2]).Select(m => m.Groups[1].Value))];
    }

    [Fact]
    public void CallerErrors_AreTheTableInTheClientsDoc_AndTheJsClientsList()
    {
        var documented = DocumentedCallerErrors();
        Assert.Equal(documented.Order(), CallerErrors.Codes.Order());

        // The JS client's CALLER_ERRORS, read from its source: the same codes, so both clients end and retry alike.
        var source = File.ReadAllText(RepositoryFile("clients", "js", "src", "client.ts"));
        var list = Regex.Match(source, @"export const CALLER_ERRORS[^=]*=\s*Object\.freeze\(\[(?<items>[^\]]*)\]", RegexOptions.Singleline);
        Assert.True(list.Success, "CALLER_ERRORS not found in client.ts");
        var js = Regex.Matches(list.Groups["items"].Value, "'([a-z-]+)'").Select(m => m.Groups[1].Value);
        Assert.Equal(documented.Order(), js.Order());
    }

    [Theory]
    [InlineData("invalid_pattern", true)]
    [InlineData("duplicate_subscription", true)]
    [InlineData("forbidden", true)]
    [InlineData("origin-not-allowed", true)]
    [InlineData("store_unavailable", false)]
    [InlineData("rate_limited", false)]
    [InlineData("internal_error", false)]
    [InlineData("token_expired", false)]
    [InlineData("http-502", false)]
    public void CallerErrors_MatchBothSpellings_AndNothingElse(string code, bool ends) => Assert.Equal(ends, CallerErrors.Ends(code));

    [Fact]
    public async Task WebSocket_TransientErrorOnSubscribe_IsRetried_NotTheEndOfTheSubscription()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress)
        {
            ReplaceAckWith = """{"op":"error","id":"s","code":"store_unavailable","message":"Redis is down"}""",
        };
        using var client = new SwitchboardClient(Options(proxy.BaseAddress, SwitchboardTransport.WebSocket));
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await using var collector = new Collector(client, ["room"]);

        await Waiting.UntilAsync(() => proxy.Upgrades >= 3 || collector.Running.IsCompleted, "three subscribe attempts");
        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        proxy.ReplaceAckWith = null;
        await publisher.PublishAsync("room", Json(new { i = 1 }));
        await Waiting.UntilAsync(() => !collector.Events.IsEmpty || collector.Running.IsCompleted, "the event once the store is back");

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.Single(collector.Events);
    }

    [Fact]
    public async Task WebSocket_CallerErrorOnSubscribe_EndsTheSubscription()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress)
        {
            ReplaceAckWith = """{"op":"error","id":"s","code":"duplicate_subscription","message":"Subscription \"s\" already exists"}""",
        };
        using var client = new SwitchboardClient(Options(proxy.BaseAddress, SwitchboardTransport.WebSocket));
        await using var collector = new Collector(client, ["room"]);

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => collector.Running.Within());
        Assert.Equal("duplicate_subscription", error.Code);
        Assert.Equal(1, proxy.Upgrades);
    }

    [Fact]
    public async Task A403WithoutACode_EndsTheSubscription_InsteadOfFallingBack()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress) { ForbidWebSockets = true };
        using var client = new SwitchboardClient(Options(proxy.BaseAddress));
        await using var collector = new Collector(client, ["room"]);

        var error = await Assert.ThrowsAsync<SwitchboardAccessDeniedException>(() => collector.Running.Within());
        Assert.Equal(403, error.StatusCode);
        Assert.Empty(collector.Connections);
    }

    [Fact]
    public async Task AConnectionClosedRightAfterItsAck_IsRetriedWithGrowingBackoff_NotInATightLoop()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress) { CloseAfterAck = true };
        var options = Options(proxy.BaseAddress, SwitchboardTransport.WebSocket);
        options.MaxReconnectDelay = TimeSpan.FromSeconds(2);
        using var client = new SwitchboardClient(options);
        await using var collector = new Collector(client, ["room"]);
        await Waiting.UntilAsync(() => !collector.Connections.IsEmpty || collector.Running.IsCompleted, "the first ack");

        // A measuring window, not a wait for something: how many connections a hub that acks and closes sees in 3 s. With
        // the back-off reset at every ack this is hundreds; growing from 20 ms towards 2 s it is about ten.
        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        var upgrades = Volatile.Read(ref proxy.Upgrades);
        Assert.True(upgrades is >= 2 and < 30, $"{upgrades} connections in 3 s");
    }

    [Fact]
    public async Task AConnectionThatDeliveredAnEvent_ResetsTheBackoff()
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        await using var proxy = new HubProxy(hub.BaseAddress);
        var options = Options(proxy.BaseAddress, SwitchboardTransport.WebSocket);
        options.InitialReconnectDelay = TimeSpan.FromMilliseconds(50);
        options.MaxReconnectDelay = TimeSpan.FromMinutes(1);
        using var client = new SwitchboardClient(options);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        await using var collector = new Collector(client, ["room"]);

        // Each connection delivers an event before it is cut, so every reconnect is a first one: quick, however many.
        for (var i = 1; i <= 8; i++)
        {
            await Waiting.UntilAsync(() => collector.Connections.Count >= i || collector.Running.IsCompleted, $"connection {i}");
            await publisher.PublishAsync("room", Json(new { i }));
            await Waiting.UntilAsync(() => collector.Events.Count >= i || collector.Running.IsCompleted, $"event {i}");
            proxy.DropAll();
        }

        await Waiting.UntilAsync(() => collector.Connections.Count >= 9 || collector.Running.IsCompleted, "the ninth connection", TimeSpan.FromSeconds(5));
        Assert.Equal(8, collector.Events.Count);
    }

    [Fact]
    public async Task RefreshWithNarrowerGrants_EndsThatSubscriptionOnly_WithAccessDenied()
    {
        await using var hub = await HubServer.StartAsync(o =>
        {
            o.Auth.JwtSecret = Secret;
            o.Auth.ClockSkew = TimeSpan.Zero;
        }, sqlite: false);
        var calls = 0;
        var options = Options(hub.BaseAddress, SwitchboardTransport.WebSocket);
        options.TokenRefreshBefore = TimeSpan.FromSeconds(3);
        // The first token reads orders and chat; every later one chat only.
        options.GetTokenAsync = _ => ValueTask.FromResult(Interlocked.Increment(ref calls) == 1
            ? SubscriberTokens.Create(Secret, "alice", ["orders.>", "chat.>"], [], null, TimeSpan.FromSeconds(6))
            : SubscriberTokens.Create(Secret, "alice", ["chat.>"], [], null, TimeSpan.FromHours(1)));
        using var client = new SwitchboardClient(options);
        var publisherOptions = Options(hub.BaseAddress);
        publisherOptions.Token = SubscriberTokens.Create(Secret, "backend", [], [">"], null, TimeSpan.FromHours(1));
        using var publisher = new SwitchboardClient(publisherOptions);
        await using var orders = new Collector(client, ["orders.>"]);
        await using var chat = new Collector(client, ["chat.>"]);
        await Waiting.UntilAsync(() => (!orders.Connections.IsEmpty && !chat.Connections.IsEmpty) || orders.Running.IsCompleted || chat.Running.IsCompleted, "both connected");

        var error = await Assert.ThrowsAsync<SwitchboardAccessDeniedException>(() => orders.Running.Within(TimeSpan.FromSeconds(20)));
        Assert.Equal("forbidden", error.Code);

        await publisher.PublishAsync("chat.lobby", Json(new { i = 1 }));
        await Waiting.UntilAsync(() => !chat.Events.IsEmpty || chat.Running.IsCompleted, "the chat subscription's event");
        Assert.False(chat.Running.IsCompleted, chat.Running.Exception?.ToString());
        Assert.Equal([SwitchboardTransport.WebSocket], chat.Connections);
    }

    [Theory]
    [InlineData(SwitchboardTransport.WebSocket)]
    [InlineData(SwitchboardTransport.ServerSentEvents)]
    [InlineData(SwitchboardTransport.LongPolling)]
    public async Task AnInvalidToken_EndsTheSubscription_WithoutAskingTheProviderAgain(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync(o => o.Auth.JwtSecret = Secret, sqlite: false);
        var calls = 0;
        var options = Options(hub.BaseAddress, transport);
        options.GetTokenAsync = _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult(SubscriberTokens.Create("another-secret-that-is-long-enough-0123456789", "mallory", [">"], [], null, TimeSpan.FromHours(1)));
        };
        using var client = new SwitchboardClient(options);
        await using var collector = new Collector(client, ["orders"]);

        var error = await Assert.ThrowsAsync<SwitchboardAccessDeniedException>(() => collector.Running.Within());
        Assert.Equal(401, error.StatusCode);
        Assert.Equal("invalid-token", error.Code);
        Assert.Equal(1, Volatile.Read(ref calls));
    }

    [Theory]
    [InlineData(SwitchboardTransport.WebSocket)]
    [InlineData(SwitchboardTransport.LongPolling)]
    public async Task AnExpiredToken_IsRenewedThroughTheProvider(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync(o =>
        {
            o.Auth.JwtSecret = Secret;
            o.Auth.ClockSkew = TimeSpan.Zero;
        }, sqlite: false);
        var calls = 0;
        var options = Options(hub.BaseAddress, transport);
        // The provider's first token is already expired (a stale cache); the second is good.
        var now = DateTimeOffset.UtcNow;
        var stale = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(now.AddHours(-2));
        options.GetTokenAsync = _ => ValueTask.FromResult(Interlocked.Increment(ref calls) == 1
            ? SubscriberTokens.Create(Secret, "alice", ["orders.>"], [], null, TimeSpan.FromHours(1), timeProvider: stale)
            : SubscriberTokens.Create(Secret, "alice", ["orders.>"], [], null, TimeSpan.FromHours(1)));
        options.TokenRefreshBefore = TimeSpan.Zero;
        using var client = new SwitchboardClient(options);
        var publisherOptions = Options(hub.BaseAddress);
        publisherOptions.Token = SubscriberTokens.Create(Secret, "backend", [], [">"], null, TimeSpan.FromHours(1));
        using var publisher = new SwitchboardClient(publisherOptions);
        await using var collector = new Collector(client, ["orders.eu"]);
        await publisher.PublishAsync("orders.eu", Json(new { i = 1 }));

        await Waiting.UntilAsync(() => !collector.Events.IsEmpty || collector.Running.IsCompleted, "the event with the renewed token");
        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.InRange(Volatile.Read(ref calls), 2, 4);
    }

    /// <summary>Records the URL of every request, so a test sees the limits the client asked for.</summary>
    private sealed class RecordingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        public ConcurrentQueue<Uri> Requests { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Enqueue(request.RequestUri!);
            return base.SendAsync(request, cancellationToken);
        }
    }

    [Theory]
    [InlineData(SwitchboardTransport.Polling)]
    [InlineData(SwitchboardTransport.LongPolling)]
    public async Task APollPageOverTheBound_IsAskedForAgainWithASmallerLimit_AndNothingIsLost(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync(sqlite: false);
        using var publisher = new SwitchboardClient(Options(hub.BaseAddress));
        var text = new string('x', 1500);
        for (var batch = 0; batch < 10; batch++)
        {
            await publisher.PublishBatchAsync([.. Enumerable.Range(batch * 20, 20).Select(i => new OutgoingEvent("big", Json(new { i, text })))]);
        }

        // 200 events of about 1.6 KB: a 500-event page is some 320 KB, over the bound of 16 × 8 KiB = 128 KiB.
        var options = Options(hub.BaseAddress, transport);
        options.MaxMessageBytes = 8 * 1024;
        var recording = new RecordingHandler();
        using var http = new HttpClient(recording) { Timeout = Timeout.InfiniteTimeSpan };
        using var client = new SwitchboardClient(options, http);
        await using var collector = new Collector(client, ["big"]);
        await Waiting.UntilAsync(() => collector.Events.Count >= 200 || collector.Running.IsCompleted, "all 200 events", TimeSpan.FromSeconds(30));

        Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        Assert.Equal(Enumerable.Range(0, 200), collector.Events.Select(e => e.Data.GetProperty("i").GetInt32()));
        var limits = recording.Requests.Select(u => Regex.Match(u.Query, @"limit=(\d+)")).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(500, limits);
        Assert.Contains(limits, l => l < 100);

        // Small events again: the pages grow back to the full limit rather than staying small for good.
        var shrunk = recording.Requests.Count;
        var published = 0;
        while (!recording.Requests.Skip(shrunk).Any(u => u.Query.Contains("limit=500", StringComparison.Ordinal)))
        {
            Assert.True(published < 50, $"no full-size page after {published} small events: {string.Join(", ", recording.Requests.Skip(shrunk).TakeLast(3).Select(u => u.Query))}");
            await publisher.PublishAsync("big", Json(new { i = 200 + published }));
            var expected = 200 + ++published;
            await Waiting.UntilAsync(() => collector.Events.Count >= expected || collector.Running.IsCompleted, "the small event", TimeSpan.FromSeconds(30));
            Assert.False(collector.Running.IsCompleted, collector.Running.Exception?.ToString());
        }

        Assert.Equal(Enumerable.Range(0, 200 + published), collector.Events.Select(e => e.Data.GetProperty("i").GetInt32()));
    }
}
