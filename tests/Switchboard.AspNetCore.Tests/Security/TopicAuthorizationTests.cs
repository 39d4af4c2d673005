using System.Net;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;
using static Switchboard.AspNetCore.Tests.Security.SecurityKit;

namespace Switchboard.AspNetCore.Tests.Security;

/// <summary>
/// A token for <c>chat.room1</c> reads chat.room1 and nothing else, over every transport: short and long polling,
/// SSE, WebSocket, job status, config, and the webhook API.
/// </summary>
public sealed class TopicAuthorizationTests
{
    private static readonly string Room1Token = Token("alice", ["chat.room1"], ["chat.room1"], presence: "Alice");

    public static TheoryData<string> OutOfScope => new() { "chat.room2", "orders", "chat.>", "chat.*", "chat.room1,chat.room2", ">" };

    [Theory]
    [MemberData(nameof(OutOfScope))]
    public async Task ShortPoll_OutOfScope_Is403(string topics)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var query = string.Join("&", topics.Split(',').Select(t => "topic=" + Uri.EscapeDataString(t)));
        using var refused = await client.GetAsync($"v1/events?{query}", Room1Token);
        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task ShortPoll_InScope_ReadsOnlyItsRoom()
    {
        await using var server = await StartAsync();
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room1", """{"data":{"text":"hi"}}""");
        await publisher.PublishAsync("chat.room2", """{"data":{"text":"secret"}}""");
        using var reader = Client(server, Room1Token);
        var page = await reader.PollAsync("topic=chat.room1&after=earliest");
        Assert.Equal(["chat.room1"], page.Events.Select(e => e.GetProperty("topic").GetString()));
    }

    [Theory]
    [InlineData("chat.room2")]
    [InlineData("orders")]
    public async Task LongPoll_OutOfScope_Is403AtOnce(string topic)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var refused = await client.GetAsync($"v1/events?topic={topic}&wait=30", Room1Token);
        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task LongPoll_InScope_IsAnsweredByAPublish()
    {
        await using var server = await StartAsync();
        using var reader = Client(server, Room1Token);
        // The cursor first, so the held poll waits from before the publish however late it reaches the server.
        var cursor = (await reader.PollAsync("topic=chat.room1")).Cursor;
        var held = reader.PollAsync($"topic=chat.room1&after={cursor}&wait=30");
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room1", """{"data":{"text":"hi"}}""");
        var page = await held.Within();
        Assert.Single(page.Events);
    }

    [Theory]
    [InlineData("chat.room2")]
    [InlineData("orders")]
    [InlineData("chat.>")]
    public async Task Sse_OutOfScope_Is403_WithTheQueryToken(string topic)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var refused = await client.GetAsync($"v1/stream?topic={Uri.EscapeDataString(topic)}&access_token={Room1Token}", credential: null);
        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Sse_InScope_StreamsItsRoom_WithTheQueryToken()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        await using var stream = await SseReader.OpenAsync(client, $"v1/stream?topic=chat.room1&access_token={Room1Token}");
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room2", """{"data":{"text":"secret"}}""");
        await publisher.PublishAsync("chat.room1", """{"data":{"text":"hi"}}""");
        var item = await stream.NextAsync();
        Assert.Contains("\"topic\":\"chat.room1\"", item!.Value.Data);
    }

    [Fact]
    public async Task WebSocket_SubscribeOutOfScope_GetsAnError_AndInScopeWorks()
    {
        await using var server = await StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server, accessToken: Room1Token);
        foreach (var topic in new[] { "chat.room2", "orders", "chat.>" })
        {
            var refused = await socket.RequestAsync($$"""{"op":"subscribe","id":"s-{{topic}}","topics":["{{topic}}"]}""");
            Assert.Equal("error", refused.Op());
            Assert.Equal("forbidden", refused.Str("code"));
        }

        var presence = await socket.RequestAsync("""{"op":"presence","id":"p","topic":"chat.room2"}""");
        Assert.Equal("forbidden", presence.Str("code"));

        var ack = await socket.SubscribeAsync("room1", ["chat.room1"]);
        Assert.Equal("ack", ack.Op());
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("chat.room2", """{"data":{"n":2}}""");
        await publisher.PublishAsync("chat.room1", """{"data":{"n":1}}""");
        var events = await socket.EventsAsync("room1", 1);
        Assert.Equal(1, events[0].EventN());
        Assert.DoesNotContain(socket.Pending(), m => m.Op() == "event");
    }

    [Fact]
    public async Task WebSocket_PublishOutsideTheTokensPublishList_IsForbidden()
    {
        await using var server = await StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server, accessToken: Room1Token);
        var refused = await socket.RequestAsync("""{"op":"publish","id":"1","topic":"chat.room2","data":{}}""");
        Assert.Equal("forbidden", refused.Str("code"));
        var ok = await socket.RequestAsync("""{"op":"publish","id":"2","topic":"chat.room1","data":{}}""");
        Assert.Equal("ack", ok.Op());
    }

    [Fact]
    public async Task WebSocket_WithoutCredentials_IsRefusedOnProtectedTopics()
    {
        await using var server = await StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server);
        var refused = await socket.RequestAsync("""{"op":"subscribe","id":"s","topics":["chat.room1"]}""");
        Assert.Equal("unauthorized", refused.Str("code"));
    }

    [Fact]
    public async Task WebSocket_PresenceName_ComesFromTheToken_NotTheQuery()
    {
        await using var server = await StartAsync();
        await using var socket = await HubSocket.ConnectAsync(server, name: "Mallory", accessToken: Room1Token);
        await socket.JoinAsync("j", "chat.room1");
        var presence = await socket.RequestAsync("""{"op":"presence","id":"p","topic":"chat.room1"}""");
        Assert.Equal(["Alice"], presence.Members());
    }

    [Fact]
    public async Task WebSocket_PresenceName_FromALongOrHidingSubject_IsCleanedAndShortened()
    {
        await using var server = await StartAsync();
        var subject = "\u202Eevil\u0007" + new string('s', 1_000);
        await using var socket = await HubSocket.ConnectAsync(server, accessToken: Token(subject, ["chat.room1"], ["chat.room1"]));
        await socket.JoinAsync("j", "chat.room1");
        var presence = await socket.RequestAsync("""{"op":"presence","id":"p","topic":"chat.room1"}""");
        Assert.Equal(["evil" + new string('s', 60)], presence.Members());
    }

    [Theory]
    [InlineData("\u202Egnp.exe")]
    [InlineData("   ")]
    [InlineData("a\u200Bb")]
    public async Task Token_WithAPresenceClaimThatHidesText_IsRefused(string presence)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var refused = await client.GetAsync("v1/events?topic=chat.room1", Token("alice", ["chat.room1"], ["chat.room1"], presence: presence));
        await AssertProblemAsync(refused, HttpStatusCode.Unauthorized, "invalid-token");
    }

    [Fact]
    public async Task Job_IsReadableOnlyWithItsTopic()
    {
        await using var server = await StartAsync();
        using var submitter = Client(server, PublishKey);
        using var submitted = await submitter.PostAsync("v1/jobs", """{"type":"resize","input":{}}""");
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var id = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        using var client = server.CreateClient();
        using var refused = await client.GetAsync($"v1/jobs/{id}", Room1Token);
        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        using var refusedStream = await client.GetAsync($"v1/jobs/{id}/stream", Room1Token);
        await AssertProblemAsync(refusedStream, HttpStatusCode.Forbidden, "forbidden");

        using var allowed = await client.GetAsync($"v1/jobs/{id}", Token("alice", [$"jobs.{id}"]));
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    /// <summary>
    /// A name that cannot exist is 400 with its own code for every caller, checked before access: the check reads only
    /// the name, so it tells a caller without access nothing. A valid name is still refused as before (401, 403).
    /// </summary>
    [Theory]
    [InlineData("v1/config/a..b", "invalid-app")]
    [InlineData("v1/config/a.b/history", "invalid-app")]
    [InlineData("v1/jobs/a..b", "invalid-job-id")]
    [InlineData("v1/jobs/a.b/result", "invalid-job-id")]
    [InlineData("v1/jobs/a..b/stream", "invalid-job-id")]
    public async Task AMalformedAppOrJobId_Is400BeforeTheAccessCheck_ForEveryCaller(string path, string code)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();

        foreach (var credential in new[] { null, Room1Token, ReaderKey, AdminKey })
        {
            using var answered = await client.GetAsync(path, credential);
            var problem = await AssertProblemAsync(answered, HttpStatusCode.BadRequest, code);
            Assert.Equal("urn:switchboard:problem:" + code, problem.GetProperty("type").GetString());
        }

        // A well-formed name still meets the access check first, whether or not it exists.
        var valid = path.Replace("a..b", "web", StringComparison.Ordinal).Replace("a.b", "web", StringComparison.Ordinal);
        using (var anonymous = await client.GetAsync(valid, null))
        {
            await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, "unauthorized");
        }

        using var outOfScope = await client.GetAsync(valid, Room1Token);
        await AssertProblemAsync(outOfScope, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Config_IsReadableOnlyWithItsTopic_AndWritableOnlyByAdmin()
    {
        await using var server = await StartAsync();
        using var admin = Client(server, AdminKey);
        using var written = await admin.PutAsync("v1/config/web", HubApi.Json("""{"theme":"dark"}"""));
        Assert.Equal(HttpStatusCode.Created, written.StatusCode);

        using var client = server.CreateClient();
        using var refused = await client.GetAsync("v1/config/web", Room1Token);
        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        using var refusedWatch = await client.GetAsync("v1/config?watch=web:0", Room1Token);
        await AssertProblemAsync(refusedWatch, HttpStatusCode.Forbidden, "forbidden");
        using var allowed = await client.GetAsync("v1/config/web", Token("device-1", ["config.web"]));
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);

        using var tokenWrite = Client(server, Token("device-1", ["config.web"], ["config.web"]));
        using var refusedWrite = await tokenWrite.PutAsync("v1/config/web", HubApi.Json("""{"theme":"light"}"""));
        await AssertProblemAsync(refusedWrite, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Webhooks_NeedTheAdminScope()
    {
        await using var server = await StartAsync();
        using var anonymous = server.CreateClient();
        await AssertProblemAsync(await anonymous.GetAsync("v1/webhooks", credential: null), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await anonymous.GetAsync("v1/webhooks", Room1Token), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await anonymous.GetAsync("v1/webhooks", PublishKey), HttpStatusCode.Forbidden, "forbidden");
        using var tokenCreate = Client(server, Room1Token);
        await AssertProblemAsync(await tokenCreate.PostAsync("v1/webhooks", """{"url":"https://example.com/hook","topics":["chat.room2"]}"""), HttpStatusCode.Forbidden, "forbidden");
        using var allowed = await anonymous.GetAsync("v1/webhooks", AdminKey);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }
}
