using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>One hub for the bad-input cases; each case uses its own connection.</summary>
public sealed class BadInputHub : IAsyncLifetime
{
    public HubServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await HubServer.StartAsync(o =>
    {
        o.Limits.MaxPatternsPerSubscription = 4;
        o.WebSockets.MaxMessagesPerSecond = 1000;
    });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Every malformed or refused request gets an <c>error</c> with a stable code, and the connection stays usable.</summary>
public sealed class WebSocketBadInputTests(BadInputHub hub) : IClassFixture<BadInputHub>
{
    public static TheoryData<string, string> Cases => new()
    {
        { "not json", "invalid_json" },
        { """{"op":"ping","id":"x" """, "invalid_json" },
        { "[1,2]", "invalid_message" },
        { "\"ping\"", "invalid_message" },
        { """{"id":"x"}""", "missing_field" },
        { """{"op":7,"id":"x"}""", "missing_field" },
        { """{"op":"subscribe","topics":["a"]}""", "missing_field" },
        { """{"op":"subscribe","id":"s"}""", "missing_field" },
        { """{"op":"subscribe","id":"s","topics":[]}""", "missing_field" },
        { """{"op":"subscribe","id":"s","topics":"a"}""", "missing_field" },
        { """{"op":"subscribe","id":5,"topics":["a"]}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":[5]}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["chat.*"],"presence":true}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["chat.room1"],"presence":"yes"}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["chat.room1"],"presence":1}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["a"],"history":-1}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["a"],"history":"3"}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["a"],"history":3,"after":"earliest"}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["a"],"after":5}""", "invalid_field" },
        { """{"op":"subscribe","id":"s","topics":["a..b"]}""", "invalid_pattern" },
        { """{"op":"subscribe","id":"s","topics":["a.>.b"]}""", "invalid_pattern" },
        { """{"op":"subscribe","id":"s","topics":["a","b","c","d","e"]}""", "too_many_patterns" },
        { """{"op":"subscribe","id":"s","topics":["a"],"after":"not a cursor"}""", "invalid_cursor" },
        { """{"op":"frobnicate","id":"f"}""", "unknown_op" },
        { """{"op":"publish","id":"p","topic":"chat.a b","data":1}""", "invalid_topic" },
        { """{"op":"publish","id":"p","topic":"chat.>","data":1}""", "invalid_topic" },
        { """{"op":"publish","id":"p","data":1}""", "missing_field" },
        { """{"op":"publish","id":"p","topic":"orders","data":1}""", "forbidden" },
        { """{"op":"publish","id":"p","topic":"chat.a","type":"switchboard.reset","data":1}""", "reserved_type" },
        { """{"op":"publish","id":"p","topic":"chat.a","type":"","data":1}""", "invalid_type" },
        { """{"op":"publish","id":"p","topic":"chat.a","type":7,"data":1}""", "invalid_field" },
        { """{"op":"presence","id":"q"}""", "missing_field" },
        { """{"op":"presence","id":"q","topic":"chat.*"}""", "invalid_topic" },
        { """{"op":"unsubscribe","id":"u"}""", "missing_field" },
        { """{"op":"unsubscribe","id":"u","subscription":"nope"}""", "not_subscribed" },
        { """{"op":"unsubscribe","id":"u","topics":["nope"]}""", "not_subscribed" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Send_BadRequest_ErrorsWithCodeAndConnectionStaysUsable(string message, string code)
    {
        await using var socket = await HubSocket.ConnectAsync(hub.Server);

        await socket.SendAsync(message);
        var error = await socket.ReceiveAsync();

        Assert.True(error.Op() == "error", $"Expected an error for {message}, got {error.GetRawText()}");
        Assert.Equal(code, error.Str("code"));
        Assert.False(string.IsNullOrWhiteSpace(error.Str("message")));
        // The reply names the request when it had a usable id.
        var requestId = TryId(message);
        if (requestId is not null)
        {
            Assert.Equal(requestId, error.GetProperty("id").GetRawText());
            Assert.Equal(["op", "id", "code", "message"], error.EnumerateObject().Select(p => p.Name));
        }
        else
        {
            Assert.Equal(["op", "code", "message"], error.EnumerateObject().Select(p => p.Name));
        }

        await socket.AssertPingPongAsync();
        Assert.Empty(socket.Pending());
    }

    [Fact]
    public async Task Subscribe_DuplicateId_ErrorsAndKeepsTheFirstSubscription()
    {
        await using var socket = await HubSocket.ConnectAsync(hub.Server);
        using var client = hub.Server.CreateClient();
        await socket.SubscribeAsync("dup", ["bad.dup.one"]);

        var error = await socket.RequestAsync("""{"op":"subscribe","id":"dup","topics":["bad.dup.two"]}""");
        await client.PublishAsync("bad.dup.two", """{"data":{"n":2}}""");
        await client.PublishAsync("bad.dup.one", """{"data":{"n":1}}""");
        var next = await socket.ReceiveAsync();

        Assert.Equal(("error", "duplicate_subscription", "dup"), (error.Op(), error.Str("code"), error.Str("id")));
        Assert.Equal(1, next.EventN());
        Assert.Equal("bad.dup.one", next.Event().Str("topic"));
        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Publish_Refused_StoresNothingAndPublishingStillWorks()
    {
        await using var socket = await HubSocket.ConnectAsync(hub.Server);
        using var client = hub.Server.CreateClient();

        var forbidden = await socket.RequestAsync("""{"op":"publish","id":1,"topic":"bad.refused","data":{}}""");
        var reserved = await socket.RequestAsync("""{"op":"publish","id":2,"topic":"chat.refused","type":"switchboard.x","data":{}}""");
        var ok = await socket.RequestAsync("""{"op":"publish","id":3,"topic":"chat.refused","data":{"n":3}}""");

        Assert.Equal(["forbidden", "reserved_type"], new[] { forbidden, reserved }.Select(e => e.Str("code")));
        Assert.Equal("ack", ok.Op());
        Assert.Empty((await client.PollAsync("topic=bad.refused&after=earliest")).Events);
        Assert.Equal([3], (await client.PollAsync("topic=chat.refused&after=earliest")).Events.Select(e => e.N()));
    }

    private static string? TryId(string message)
    {
        try
        {
            using var document = JsonDocument.Parse(message);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("id", out var id)
                && id.ValueKind is JsonValueKind.String or JsonValueKind.Number
                ? id.GetRawText()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
