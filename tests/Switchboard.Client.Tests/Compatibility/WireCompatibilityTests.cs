using System.Text.Json;
using Switchboard.Retention;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Compatibility;

/// <summary>
/// The JavaScript client (clients/js/dist, run by node) and <see cref="SwitchboardClient"/> read one stream on the same transport
/// and must see it identically: the same events (seq, topic, type, time, data) with the same cursors, the same resets, and
/// each one's cursors resume in the other with no gap and no repeat.
/// </summary>
public sealed class WireCompatibilityTests
{
    private static readonly string[] Patterns = ["wire.>", "solo"];

    // Published as written (some escaped, some not): the hub stores them compactly, and both clients must decode the same values.
    private static readonly string[] Texts =
    [
        "héllo wörld", "日本語のテキスト", "emoji 🎉 👩‍👩‍👧 🇫🇷", "RTL עברית مرحبا", "e\u0301 combining", "quote \" backslash \\ slash / tab \t newline \n",
        "\u0001\u001f control", "</script><!-- -->", "\u2028\u2029 separators", "", "\uFEFF bom", "𝕊𝕨𝕚𝕥𝕔𝕙 astral",
    ];

    // 780 events of which 520 match: more than one .NET poll page (500) and one JS page (1000), so the pages split differently.
    private const int HistoryCount = 780;
    private const int LiveCount = 60;
    private const int LiveMatching = LiveCount * 4 / 6;

    public static TheoryData<SwitchboardTransport> EveryTransport() =>
        [SwitchboardTransport.WebSocket, SwitchboardTransport.ServerSentEvents, SwitchboardTransport.LongPolling, SwitchboardTransport.Polling];

    [Theory]
    [MemberData(nameof(EveryTransport))]
    public async Task BothClients_SeeTheSameEventsAndCursors_AndTheSameResets(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync();
        using var client = new SwitchboardClient(Options(hub.BaseAddress, transport));
        await PublishAsync(client, 0, HistoryCount);
        var truth = await ReadHubAsync(hub);
        Assert.Equal(HistoryCount * 4 / 6, truth.Count);

        List<Sighting> fromEarliest;
        await using (var peer = JsPeer.Start(hub.BaseAddress, transport, "earliest", truth.Count, Patterns))
        {
            fromEarliest = await SubscribeAsync(client, "earliest", truth.Count);
            var js = await peer.CompleteAsync();

            AssertMatchesHub(truth, fromEarliest, ".NET from earliest");
            AssertMatchesHub(truth, js, "JS from earliest");
            AssertIdentical(fromEarliest, js, "from earliest");
        }

        // A cursor from another history (epoch-changed), then one that retention has overtaken (cursor-expired): both clients
        // report the same reset with the same fresh cursor, then the same events.
        var foreign = "0123456789abcdef." + truth[10].GetProperty("seq").GetInt64();
        var expired = fromEarliest[5].Cursor;
        await hub.Hub.Log.TrimAsync(new RetentionPolicy(new RetentionOptions { MaxEventsPerTopic = 40 }), DateTimeOffset.UtcNow);
        var retained = await ReadHubAsync(hub);
        Assert.InRange(retained.Count, 1, 119);

        foreach (var (after, reason) in new[] { (foreign, "epoch-changed"), (expired, "cursor-expired") })
        {
            await using var peer = JsPeer.Start(hub.BaseAddress, transport, after, retained.Count, Patterns);
            var dotnet = await SubscribeAsync(client, after, retained.Count);
            var js = await peer.CompleteAsync();

            Assert.True(dotnet[0].Kind == "reset" && dotnet[0].Reason == reason, $".NET from {after}: expected a {reason} reset first, saw {dotnet[0]}");
            AssertMatchesHub(retained, dotnet.Skip(1).ToList(), $".NET after {reason}");
            AssertMatchesHub(retained, js.Skip(1).ToList(), $"JS after {reason}");
            AssertIdentical(dotnet, js, $"after {reason}");
        }
    }

    [Theory]
    [MemberData(nameof(EveryTransport))]
    public async Task ACursorFromEitherClient_ResumesInTheOther_WithNoGapOrRepeat_WhileEventsArriveLive(SwitchboardTransport transport)
    {
        await using var hub = await HubServer.StartAsync();
        using var client = new SwitchboardClient(Options(hub.BaseAddress, transport));
        await PublishAsync(client, 0, HistoryCount);
        var history = await ReadHubAsync(hub);

        List<Sighting> dotnet, js;
        await using (var peer = JsPeer.Start(hub.BaseAddress, transport, "earliest", history.Count, Patterns))
        {
            dotnet = await SubscribeAsync(client, "earliest", history.Count);
            js = await peer.CompleteAsync();
        }

        // Mid-page positions: inside the first .NET poll page, and between the JS page's first and last events.
        const int FromDotnet = 137, FromJs = 311;
        await using var resumedInJs = JsPeer.Start(hub.BaseAddress, transport, dotnet[FromDotnet].Cursor, history.Count - FromDotnet - 1 + LiveMatching, Patterns);
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resumingInDotnet = SubscribeAsync(client, js[FromJs].Cursor, history.Count - FromJs - 1 + LiveMatching, () => connected.TrySetResult());
        await resumedInJs.UntilOpenAsync();
        await connected.Task.Within(TimeSpan.FromSeconds(20));

        await PublishAsync(client, HistoryCount, LiveCount, batch: false);
        var resumedDotnet = await resumingInDotnet.Within(TimeSpan.FromSeconds(60));
        var resumedJs = await resumedInJs.CompleteAsync();

        var all = await ReadHubAsync(hub);
        Assert.Equal(history.Count + LiveMatching, all.Count);
        AssertMatchesHub(all.Skip(FromDotnet + 1).ToList(), resumedJs, "JS resuming a .NET cursor");
        AssertMatchesHub(all.Skip(FromJs + 1).ToList(), resumedDotnet, ".NET resuming a JS cursor");
        AssertIdentical(resumedDotnet, resumedJs.Skip(FromJs - FromDotnet).ToList(), "the overlap of both resumed streams");
        AssertIdentical(dotnet.Skip(FromJs + 1).ToList(), resumedDotnet.Take(history.Count - FromJs - 1).ToList(), "history before and after resuming");
    }

    private static SwitchboardClientOptions Options(Uri baseAddress, SwitchboardTransport transport)
    {
        var options = Subscribing.FastClientOptions.For(baseAddress, transport);
        options.ConnectTimeout = TimeSpan.FromSeconds(5);
        return options;
    }

    /// <summary>
    /// Publishes events <paramref name="from"/> .. from+count-1: two thirds on wire.a, wire.b.c and solo (matched), the rest on
    /// other.x and wirex (not matched), with varied types and data.
    /// </summary>
    private static async Task PublishAsync(SwitchboardClient client, int from, int count, bool batch = true)
    {
        string[] topics = ["wire.a", "wire.a", "wire.b.c", "solo", "other.x", "wirex"];
        string?[] types = [null, "order.created", "wire-test", "x_y"];
        var events = Enumerable.Range(from, count).Select(i => new OutgoingEvent(topics[i % topics.Length], Data(i), types[i / 6 % types.Length])).ToList();
        if (batch)
        {
            foreach (var chunk in events.Chunk(60))
            {
                await client.PublishBatchAsync(chunk);
            }
        }
        else
        {
            foreach (var e in events)
            {
                await client.PublishAsync(e.Topic, e.Data, e.Type);
            }
        }
    }

    private static JsonElement Data(int i) => (i % 5) switch
    {
        0 => JsonSerializer.SerializeToElement(new { i, text = Texts[i % Texts.Length] }),
        1 => JsonSerializer.SerializeToElement(Texts[i % Texts.Length] + i),
        2 => Parse("{\"i\":" + i + ""","n":[0,-1,0.5,-2.5e-3,1e21,9007199254740991,true,false,null],"deep":{"a":{"b":{"c":[[],{}]}}}}"""),
        3 => JsonSerializer.SerializeToElement(i),
        _ => Parse($$"""{"i":{{i}},"ключ":"значение 🎉 ☃","k\u00e9y":"\ud83d\ude00","nul":"a\u0000b"}"""),
    };

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>Reads the matching events straight from the hub (a short poll from earliest): the reference both clients are held to.</summary>
    private static async Task<List<JsonElement>> ReadHubAsync(HubServer hub)
    {
        using var http = hub.CreateClient();
        var query = string.Join('&', Patterns.Select(p => "topic=" + Uri.EscapeDataString(p)));
        using var document = JsonDocument.Parse(await http.GetStringAsync($"v1/events?{query}&after=earliest&limit=1000"));
        return [.. document.RootElement.Clone().GetProperty("events").EnumerateArray()];
    }

    /// <summary>Subscribes with the .NET client until <paramref name="count"/> events arrived; resets are kept in their place among them.</summary>
    private static async Task<List<Sighting>> SubscribeAsync(SwitchboardClient client, string after, int count, Action? onConnected = null)
    {
        var seen = new List<Sighting>();
        var options = new SubscribeOptions
        {
            After = after,
            OnReset = r =>
            {
                lock (seen)
                {
                    seen.Add(Sighting.Reset(r));
                }
            },
            OnConnected = _ => onConnected?.Invoke(),
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = 0;
        await foreach (var e in client.SubscribeAsync(Patterns, options, timeout.Token))
        {
            lock (seen)
            {
                seen.Add(Sighting.Event(e));
            }

            if (++events == count)
            {
                break;
            }
        }

        return seen;
    }

    /// <summary>The client's events are exactly the hub's: same seqs in order, topic, type, time and data; no reset among them.</summary>
    private static void AssertMatchesHub(List<JsonElement> truth, List<Sighting> seen, string what)
    {
        Assert.True(seen.All(s => s.Kind == "event"), $"{what}: unexpected reset {seen.FirstOrDefault(s => s.Kind != "event")}");
        Assert.True(truth.Count == seen.Count, $"{what}: {seen.Count} events, the hub has {truth.Count}");
        for (var i = 0; i < truth.Count; i++)
        {
            var expected = truth[i];
            var actual = seen[i];
            var type = expected.GetProperty("type").GetString();
            var time = expected.GetProperty("time").GetString()!;
            var same = actual.Seq == expected.GetProperty("seq").GetInt64()
                && actual.Topic == expected.GetProperty("topic").GetString()
                && actual.Type == type
                && actual.Time == DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture)
                && (actual.WireTime is null || actual.WireTime == time)
                && actual.Data is { } data && JsonElement.DeepEquals(data, expected.GetProperty("data"));
            Assert.True(same, $"{what}, event {i}:\n  hub    {expected.GetRawText()}\n  client {actual}");
        }
    }

    /// <summary>Both clients reported the same things in the same order, cursors included.</summary>
    private static void AssertIdentical(List<Sighting> dotnet, List<Sighting> js, string what)
    {
        Assert.True(dotnet.Count == js.Count, $"{what}: .NET saw {dotnet.Count} items, JS {js.Count}");
        for (var i = 0; i < dotnet.Count; i++)
        {
            var (a, b) = (dotnet[i], js[i]);
            var same = a.Kind == b.Kind && a.Seq == b.Seq && a.Topic == b.Topic && a.Type == b.Type && a.Time == b.Time
                && a.Cursor == b.Cursor && a.Reason == b.Reason
                && (a.Data, b.Data) switch
                {
                    (null, null) => true,
                    ({ } x, { } y) => JsonElement.DeepEquals(x, y),
                    _ => false,
                };
            Assert.True(same, $"{what}, item {i}:\n  .NET {a}\n  JS   {b}");
        }
    }
}
