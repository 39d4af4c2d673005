using System.Net;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>
/// One real hub (Kestrel on 127.0.0.1, SQLite in a temp folder) that every hostile request of a suite is sent to.
/// At start it publishes a few events to <see cref="SeedTopic"/> (among them data full of line breaks and
/// control characters); after every case <see cref="AssertStillServingAsync"/> checks the server still answers and
/// those events read back exactly as published.
/// </summary>
public class BadInputServer : IAsyncLifetime
{
    /// <summary>No case may be able to write here: not over HTTP (cases only send invalid requests) nor WebSocket (not publishable).</summary>
    public const string SeedTopic = "seed.intact";

    private static readonly string[] SeedBodies =
    [
        """{"type":"seed.plain","data":{"n":1}}""",
        // Line breaks and an SSE field inside the data: it must reach SSE clients as one data: line of JSON.
        """{"type":"seed.lines","data":"one\ntwo\r\nthree\rdata: injected\n\nid: 0\nevent: switchboard.reset"}""",
        """{"type":"seed.unicode","data":{"text":"żółw 🐢 \u2028\u2029 \u0000 \u001b[31m","emoji":"\ud83d\ude00"}}""",
        """{"data":{"nested":[1,[2,[3,{"b":null,"c":[true,false]}]]],"big":123456789012345678901234567890}}""",
        """{"type":"seed.empty","data":""}""",
    ];

    private IReadOnlyList<JsonElement> _seeded = [];

    public HubServer Server { get; private set; } = null!;

    /// <summary>One client for the checks between cases.</summary>
    public HttpClient Client { get; private set; } = null!;

    /// <summary>The events published at start, as the hub echoed them.</summary>
    public IReadOnlyList<JsonElement> Seeded => _seeded;

    /// <summary>Options of the hub under test; subclasses adjust them.</summary>
    protected virtual void Configure(SwitchboardOptions options)
    {
        // So the SSRF checks, not the scheme check, decide http:// webhook URLs.
        options.Webhooks.AllowHttp = true;
        // Cases open many sockets quickly; the rate limit has tests of its own.
        options.WebSockets.MaxMessagesPerSecond = 10_000;
    }

    /// <summary>The client that seeds and checks; a protected hub's subclass gives it a credential.</summary>
    protected virtual HttpClient CreateClient(HubServer server) => server.CreateClient();

    public virtual async Task InitializeAsync()
    {
        Server = await HubServer.StartAsync(Configure);
        Client = CreateClient(Server);
        var seeded = new List<JsonElement>();
        foreach (var body in SeedBodies)
        {
            seeded.Add(await Client.PublishAsync(SeedTopic, body));
        }

        seeded.AddRange(await Client.PublishBatchAsync($$"""[{"topic":"{{SeedTopic}}","data":"batch 1"},{"topic":"{{SeedTopic}}","type":"seed.batch","data":[1,"two",{"three":3}]}]"""));
        _seeded = seeded;
    }

    /// <summary>The server answers <c>/v1/health</c>, and the seed events read back exactly as they were published.</summary>
    public async Task AssertStillServingAsync(string afterWhat)
    {
        using (var health = await Client.GetAsync("v1/health").Within())
        {
            Assert.True(health.StatusCode == HttpStatusCode.OK, $"After {afterWhat}: /v1/health answered {(int)health.StatusCode}.");
        }

        var page = await Client.PollAsync($"topic={SeedTopic}&after=earliest&limit=1000");
        var expected = _seeded.Select(e => e.GetRawText()).ToArray();
        var actual = page.Events.Select(e => e.GetRawText()).ToArray();
        Assert.True(expected.SequenceEqual(actual),
            $"After {afterWhat}: the seed events changed.\nExpected: {string.Join("\n", expected)}\nActual: {string.Join("\n", actual)}");
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
