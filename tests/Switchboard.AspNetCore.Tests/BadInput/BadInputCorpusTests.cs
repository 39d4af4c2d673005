using System.Net.WebSockets;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>The bad-input server, plus the webhook, job and config app that the id and body cases aim at.</summary>
public sealed class BadInputCorpusServer : BadInputServer
{
    /// <summary>A webhook to a public address literal on a topic nothing publishes to, so it never delivers.</summary>
    public string WebhookId { get; private set; } = "";

    /// <summary>A queued job nobody claims.</summary>
    public string JobId { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var webhook = await Client.PostAsync("v1/webhooks", """{"url":"https://93.184.215.14/hook","topics":["never.delivered"]}""");
        WebhookId = HubApi.Parse(await webhook.Content.ReadAsStringAsync()).GetProperty("id").GetString()!;
        var job = await Client.PostAsync("v1/jobs", """{"type":"badinput","input":{"n":1}}""");
        JobId = HubApi.Parse(await job.Content.ReadAsStringAsync()).GetProperty("id").GetString()!;
        using var config = new HttpRequestMessage(HttpMethod.Put, "v1/config/badinput") { Content = HubApi.Json("""{"a":1,"flag":{"rollout":10}}""") };
        (await Client.SendAsync(config)).EnsureSuccessStatusCode();
    }

    /// <summary>The target with the placeholders of <see cref="HttpCase"/> filled in.</summary>
    public string Fill(string text) => text
        .Replace("{epoch}", Server.Hub.Log.Epoch, StringComparison.Ordinal)
        .Replace("{webhook}", WebhookId, StringComparison.Ordinal)
        .Replace("{job}", JobId, StringComparison.Ordinal);
}

/// <summary>
/// The corpus of issue #6: hundreds of hostile or broken requests over real sockets against one server, each with
/// the answer it must get. After every case the server must still answer and the seed events must be intact.
/// </summary>
public sealed class BadInputCorpusTests(BadInputCorpusServer hub) : IClassFixture<BadInputCorpusServer>
{
    public static TheoryData<string> HttpCases => [.. HttpCorpus.Cases.Keys];

    public static TheoryData<string> WebSocketCases => [.. WebSocketCorpus.Cases.Keys];

    [Fact]
    public void Corpus_HasAtLeast200Cases()
    {
        Assert.True(HttpCorpus.Cases.Count + WebSocketCorpus.Cases.Count >= 200, $"{HttpCorpus.Cases.Count} HTTP + {WebSocketCorpus.Cases.Count} WebSocket cases");
    }

    [Theory]
    [MemberData(nameof(HttpCases))]
    public async Task Http_HostileRequest_GetsItsProblemAndChangesNothing(string name)
    {
        var @case = HttpCorpus.Cases[name];
        var target = hub.Fill(@case.Target);
        var body = @case.Body is { } bytes ? System.Text.Encoding.UTF8.GetBytes(hub.Fill(System.Text.Encoding.UTF8.GetString(bytes))) : null;
        // Bodies with invalid UTF-8 must go out byte for byte, not through a string round trip.
        if (@case.Body is not null && !IsValidUtf8(@case.Body))
        {
            body = @case.Body;
        }

        var response = await RawHttp.SendAsync(hub.Server, @case.Method, target, body, @case.ContentType, @case.Headers);

        var what = $"{@case.Method} {RawHttp.Printable(target)}";
        Assert.True(response.Status == @case.Status, $"{what}: expected {@case.Status} {@case.Code}, got {response.Describe()}");
        if (@case.Code is { } code)
        {
            AssertProblem(response, @case.Status, code, @case.DetailContains, what);
        }

        await hub.AssertStillServingAsync(name);
    }

    [Theory]
    [MemberData(nameof(WebSocketCases))]
    public async Task WebSocket_HostileMessage_GetsAnErrorOrAClose(string name)
    {
        var @case = WebSocketCorpus.Cases[name];
        await using var socket = await HubSocket.ConnectAsync(hub.Server);
        foreach (var request in @case.Setup)
        {
            var ack = await socket.RequestAsync(request);
            Assert.True(ack.Op() == "ack", $"Setup {request} answered {ack.GetRawText()}");
        }

        socket.Pending(); // events of the setup subscriptions
        await socket.SendAsync(@case.Payload, @case.Type);

        if (@case.ErrorCode is { } code)
        {
            var error = await socket.WaitForAsync(m => m.Op() != "event", $"the answer to case {name}");
            Assert.True(error.Op() == "error", $"Expected an error {code}, got {error.GetRawText()}");
            Assert.Equal(code, error.Str("code"));
            Assert.False(string.IsNullOrWhiteSpace(error.Str("message")), "the error needs a message");
            // Still served: the error was an answer, not the end.
            await socket.AssertPingPongAsync();
        }
        else
        {
            var (status, reason) = await socket.WaitForCloseAsync();
            if (@case.Close == WebSocketCloseStatus.InvalidPayloadData)
            {
                // The runtime checks UTF-8 itself: it sends 1007 without a reason and aborts the connection right after
                // (ASP.NET Core's AbortStream), so the close frame is sometimes lost with the connection. Either way the
                // connection must end, not answer.
                Assert.True(status == WebSocketCloseStatus.InvalidPayloadData || (status is null && socket.Failure is not null),
                    $"Expected close 1007 (or the connection dropped after it), got {(int?)status} '{reason}'");
            }
            else
            {
                Assert.True(status == @case.Close, $"Expected close {(int?)@case.Close}, got {(int?)status} '{reason}'");
                Assert.False(string.IsNullOrWhiteSpace(reason), $"the close {(int?)status} needs a reason");
            }
        }

        await hub.AssertStillServingAsync(name);
    }

    [Fact]
    public async Task Sse_SeedDataWithLineBreaks_ArrivesAsOneDataLineOfJsonPerEvent()
    {
        // The seed events carry CR, LF, "data: injected", "id: 0" and "event: switchboard.reset" inside their data.
        using var response = await hub.Client.GetAsync($"v1/stream?topic={BadInputServer.SeedTopic}&after=earliest", HttpCompletionOption.ResponseHeadersRead).Within();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new ServerSentEvents.RawLineReader(await response.Content.ReadAsStreamAsync());

        Assert.StartsWith("retry: ", await reader.ReadLineAsync());
        Assert.Equal("", await reader.ReadLineAsync());
        foreach (var seeded in hub.Seeded)
        {
            var frame = await reader.ReadFrameAsync();
            var cursor = hub.Server.Hub.FormatCursor(seeded.GetProperty("seq").GetInt64());
            // Exactly two lines: the id and one data line holding the whole event; no line of the data became a field.
            Assert.Equal(2, frame.Count);
            Assert.Equal("id: " + cursor, frame[0]);
            Assert.StartsWith("data: ", frame[1]);
            Assert.Equal(seeded.GetRawText(), frame[1]["data: ".Length..]);
            Assert.DoesNotContain('\r', frame[1]);
        }
    }

    private static void AssertProblem(RawResponse response, int status, string code, string? detailContains, string what)
    {
        Assert.True(response.MediaType == "application/problem+json", $"{what}: expected application/problem+json, got {response.Describe()}");
        JsonElement problem;
        try
        {
            problem = response.Json();
        }
        catch (JsonException ex)
        {
            throw new Xunit.Sdk.XunitException($"{what}: the problem body is not JSON ({ex.Message}): {response.Describe()}");
        }

        Assert.True(problem.TryGetProperty("code", out var actualCode) && actualCode.GetString() == code, $"{what}: expected code {code}, got {response.Describe()}");
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.Equal($"urn:switchboard:problem:{code}", problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), $"{what}: empty title");
        var detail = problem.GetProperty("detail").GetString();
        Assert.False(string.IsNullOrWhiteSpace(detail), $"{what}: empty detail");
        if (detailContains is not null)
        {
            Assert.Contains(detailContains, detail, StringComparison.Ordinal);
        }
    }

    private static bool IsValidUtf8(byte[] bytes)
    {
        try
        {
            _ = new System.Text.UTF8Encoding(false, true).GetString(bytes);
            return true;
        }
        catch (System.Text.DecoderFallbackException)
        {
            return false;
        }
    }
}
