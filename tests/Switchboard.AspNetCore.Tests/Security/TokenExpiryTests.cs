using System.Net.WebSockets;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;
using static Switchboard.AspNetCore.Tests.Security.SecurityKit;

namespace Switchboard.AspNetCore.Tests.Security;

/// <summary>A token that expires during a long-lived connection ends it; a WebSocket client can refresh in time.</summary>
public sealed class TokenExpiryTests
{
    // Long enough to connect and subscribe on a loaded machine (exp has whole seconds, so up to one is lost).
    private static readonly TimeSpan ShortLife = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task Sse_EndsAtExpiry_WithATokenExpiredEvent()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var issuedAt = DateTimeOffset.UtcNow;
        var token = Token("alice", ["chat.>"], lifetime: ShortLife);
        await using var stream = await SseReader.OpenAsync(client, $"v1/stream?topic=chat.room1&access_token={token}");
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room1");
        Assert.Contains("chat.room1", (await stream.NextAsync())!.Value.Data);

        var last = await stream.NextAsync(TimeSpan.FromSeconds(15));
        Assert.Equal("switchboard.token-expired", last!.Value.EventType);
        Assert.Null(await stream.NextAsync(TimeSpan.FromSeconds(15))); // and the stream ended

        // Reconnecting with the expired token is refused, so the client knows to fetch a new one. (The stream's timer
        // and the wall clock can differ by a few milliseconds; wait until the token's exp is behind the wall clock.)
        await Waiting.UntilAsync(() => DateTimeOffset.UtcNow > issuedAt + ShortLife + TimeSpan.FromSeconds(1), "the token's exp to pass on the wall clock");
        using var again = await client.GetAsync($"v1/stream?topic=chat.room1&access_token={token}", credential: null);
        await AssertProblemAsync(again, System.Net.HttpStatusCode.Unauthorized, "token-expired");
    }

    [Fact]
    public async Task JobStream_EndsAtExpiry_WithATokenExpiredEvent_LikeSse()
    {
        await using var server = await StartAsync();
        using var submitter = Client(server, PublishKey);
        using var submitted = await submitter.PostAsync("v1/jobs", """{"type":"resize","input":{}}""");
        var id = System.Text.Json.JsonDocument.Parse(await submitted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var client = server.CreateClient();
        var token = Token("alice", [$"jobs.{id}"], lifetime: ShortLife);

        await using var stream = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream?access_token={token}");
        Assert.Equal("job.queued", HubApi.Parse((await stream.NextAsync())!.Value.Data).GetProperty("type").GetString());

        // The job never finishes, so only the token's expiry can end the stream.
        var last = await stream.NextAsync(TimeSpan.FromSeconds(15));
        Assert.Equal("switchboard.token-expired", last!.Value.EventType);
        Assert.Null(await stream.NextAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task WebSocket_ClosesAtExpiry_With1008()
    {
        await using var server = await StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server, accessToken: Token("alice", ["chat.>"], lifetime: ShortLife));
        await socket.SubscribeAsync("s", ["chat.room1"]);
        var (status, description) = await socket.WaitForCloseAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Equal("token expired", description);
    }

    [Fact]
    public async Task WebSocket_Refresh_KeepsTheConnectionPastTheFirstExpiry()
    {
        await using var server = await StartAsync();
        var expiresAt = DateTimeOffset.UtcNow + ShortLife;
        await using var socket = await HubSocket.ConnectAsync(server, accessToken: Token("alice", ["chat.>"], lifetime: ShortLife));
        await socket.SubscribeAsync("s", ["chat.room1"]);
        var refreshed = await socket.RequestAsync($$"""{"op":"refresh","id":"r","token":"{{Token("alice", ["chat.>"])}}"}""");
        Assert.Equal("ack", refreshed.Op());

        // Once the first token's expiry has passed, the connection still delivers.
        await Waiting.UntilAsync(() => DateTimeOffset.UtcNow > expiresAt + TimeSpan.FromSeconds(1), "the first token's expiry to pass");
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room1", """{"data":{"n":7}}""");
        Assert.Equal(7, (await socket.EventsAsync("s", 1))[0].EventN());
        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task WebSocket_RefreshWithNarrowerGrants_EndsTheSubscriptionsItNoLongerCovers()
    {
        await using var server = await StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server, accessToken: Token("alice", ["chat.>"]));
        await socket.SubscribeAsync("one", ["chat.room1"]);
        await socket.SubscribeAsync("two", ["chat.room2"]);
        await socket.SendAsync($$"""{"op":"refresh","id":"r","token":"{{Token("alice", ["chat.room1"])}}"}""");
        var ended = await socket.WaitForAsync(m => m.Op() == "error" && m.Str("code") == "forbidden", "the ended subscription's error");
        Assert.Contains("\"two\"", ended.Str("message"));
        // Named by its own field, not only in the prose, so a client ends exactly that subscription and keeps "one".
        Assert.Equal("two", ended.Str("subscription"));
        Assert.False(ended.TryGetProperty("id", out _), "the error answers no request");
        await socket.WaitForAsync(m => m.Op() == "ack" && m.Str("id") == "r", "the refresh ack");

        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room2", """{"data":{"n":2}}""");
        await publisher.PublishAsync("chat.room1", """{"data":{"n":1}}""");
        Assert.Equal(1, (await socket.EventsAsync("one", 1))[0].EventN());
        Assert.DoesNotContain(socket.Pending(), m => m.Op() == "event" && m.Str("subscription") == "two");
    }

    [Theory]
    [InlineData("bob", "subject_mismatch")]
    [InlineData("expired", "token_expired")]
    [InlineData("garbage", "invalid_token")]
    public async Task WebSocket_BadRefresh_IsAnError_AndTheConnectionKeepsItsToken(string kind, string code)
    {
        await using var server = await StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server, accessToken: Token("alice", ["chat.>"]));
        var fresh = kind switch
        {
            "bob" => Token("bob", [">"]),
            "expired" => Switchboard.AspNetCore.Auth.SubscriberTokens.Create(Secret, "alice", [">"], [], null, TimeSpan.FromMinutes(1), now: DateTimeOffset.UtcNow.AddHours(-1)),
            _ => "garbage",
        };
        var refused = await socket.RequestAsync($$"""{"op":"refresh","id":"r","token":"{{fresh}}"}""");
        Assert.Equal(code, refused.Str("code"));
        var stillNarrow = await socket.RequestAsync("""{"op":"subscribe","id":"s","topics":["orders"]}""");
        Assert.Equal("forbidden", stillNarrow.Str("code"));
    }
}
