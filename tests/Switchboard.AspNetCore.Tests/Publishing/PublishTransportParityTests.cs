using System.Net;
using System.Text.Json;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Publishing;

/// <summary>
/// One bad draft, three ways in: HTTP single publish, HTTP batch publish and the WebSocket publish op answer with the
/// same code (the WebSocket spelling has '_' for '-'), because they share EventDraftValidator.
/// </summary>
public sealed class PublishTransportParityTests
{
    private const int MaxEventBytes = 1024;

    /// <summary>A draft breaking one rule (topic, type as JSON or absent, data) and the code and status every transport answers.</summary>
    public static TheoryData<string, string, string?, string, string, int> BadDrafts => new()
    {
        { "empty topic segment", "chat..x", "\"t\"", "1", "invalid-topic", 400 },
        { "topic with a space", "chat.a b", "\"t\"", "1", "invalid-topic", 400 },
        { "topic over the length limit", "chat." + new string('x', 260), "\"t\"", "1", "invalid-topic", 400 },
        { "empty type", "chat.parity", "\"\"", "1", "invalid-type", 400 },
        { "type with a control character", "chat.parity", "\"a\\u0001b\"", "1", "invalid-type", 400 },
        { "type over the length limit", "chat.parity", "\"" + new string('t', 129) + "\"", "1", "invalid-type", 400 },
        { "reserved type", "chat.parity", "\"switchboard.ping\"", "1", "reserved-type", 400 },
        { "data over MaxEventBytes", "chat.parity", null, "\"" + new string('x', MaxEventBytes - 1) + "\"", "payload-too-large", 413 },
    };

    [Theory]
    [MemberData(nameof(BadDrafts))]
    public async Task Publish_SameBadDraft_SameCodeOverHttpSingleHttpBatchAndWebSocket(string name, string topic, string? type, string data, string code, int status)
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxEventBytes = MaxEventBytes);
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        var typeMember = type is null ? "" : $"\"type\":{type},";

        using var single = await client.PostAsync(HubApi.EventsPath(topic), $$"""{{{typeMember}}"data":{{data}}}""");
        using var batch = await client.PostAsync("v1/events", $$"""[{"topic":{{JsonSerializer.Serialize(topic)}},{{typeMember}}"data":{{data}}}]""");
        var ws = await socket.RequestAsync($$"""{"op":"publish","id":"p","topic":{{JsonSerializer.Serialize(topic)}},{{typeMember}}"data":{{data}}}""");

        await single.AssertProblemAsync((HttpStatusCode)status, code);
        var batchProblem = await batch.AssertProblemAsync((HttpStatusCode)status, code);
        Assert.StartsWith("Event 0: ", batchProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(ws.Op() == "error", $"{name}: {ws.GetRawText()}");
        Assert.Equal((ErrorMapping.WebSocketCode(code), "p"), (ws.Str("code"), ws.Str("id")));
        Assert.Equal(0, server.Hub.Log.HeadSeq);
    }

    [Fact]
    public async Task Publish_DataAtMaxEventBytesOnceMinified_AcceptedOverEveryTransport()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxEventBytes = MaxEventBytes);
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        // Pretty-printed beyond the limit, exactly at it once compact.
        var data = "[ \"" + new string('x', MaxEventBytes - 4) + "\" ]";

        await client.PublishAsync("chat.parity", $$"""{"data":{{data}}}""");
        await client.PublishBatchAsync($$"""[{"topic":"chat.parity","data":{{data}}}]""");
        var ws = await socket.RequestAsync($$"""{"op":"publish","id":"p","topic":"chat.parity","data":{{data}}}""");

        Assert.Equal("ack", ws.Op());
        Assert.Equal(3, server.Hub.Log.HeadSeq);
    }

    /// <summary>
    /// Where the transports differ, on purpose: a member of the wrong JSON kind is a matter of each message's shape, and
    /// clients already match these codes (WebSocket: missing_field / invalid_field; HTTP: the draft's own codes).
    /// </summary>
    [Theory]
    [InlineData("\"type\":5", "invalid-type", "invalid_field")]
    [InlineData("\"type\":{}", "invalid-type", "invalid_field")]
    public async Task Publish_MistypedMember_KeepsEachTransportsShapeCode(string member, string httpCode, string webSocketCode)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);

        using var single = await client.PostAsync(HubApi.EventsPath("chat.parity"), $$"""{{{member}},"data":1}""");
        var ws = await socket.RequestAsync($$"""{"op":"publish","id":"p","topic":"chat.parity",{{member}},"data":1}""");

        await single.AssertProblemAsync(HttpStatusCode.BadRequest, httpCode);
        Assert.Equal(webSocketCode, ws.Str("code"));
    }
}
