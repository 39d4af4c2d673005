using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.Webhooks;
using Switchboard.Testing;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Tests.Monitoring;

public sealed class PlaygroundTests
{
    [Fact]
    public async Task PlaygroundSession_DeliversTheTopicByWebhookToTheBuiltInSink_DespiteTheLoopbackBlock()
    {
        // Default webhook options: loopback is refused for every endpoint a client registers.
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        using var refused = await client.PostAsync("v1/webhooks", $$"""{"url":"{{server.BaseAddress}}playground/sink/x","topics":["pg"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

        using var created = await client.PostAsync("playground/sessions?topic=pg.demo", "");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var session = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var receipts = session.GetProperty("receiptsTopic").GetString()!;
        var webhookId = session.GetProperty("webhookId").GetString()!;
        Assert.StartsWith("switchboard.playground.", receipts, StringComparison.Ordinal);

        await using var stream = await SseReader.OpenAsync(client, $"v1/stream?topic={receipts}");
        await client.PublishAsync("pg.demo", """{"data":{"n":1,"sentAt":1234}}""");
        var item = await stream.NextAsync() ?? throw new InvalidOperationException("no receipt");
        var receipt = JsonDocument.Parse(item.Data).RootElement;
        Assert.Equal("switchboard.playground.receipt", receipt.GetProperty("type").GetString());
        var data = receipt.GetProperty("data");
        Assert.Equal(1234, data.GetProperty("data").GetProperty("sentAt").GetInt64());
        Assert.StartsWith("msg_", data.GetProperty("webhookId").GetString(), StringComparison.Ordinal);
        Assert.True(data.GetProperty("bodyBytes").GetInt32() > 0);

        // Ending the session deletes its webhook endpoint.
        using var ended = await client.PostAsync($"playground/sessions/{session.GetProperty("id").GetString()}/end", "");
        Assert.Equal(HttpStatusCode.NoContent, ended.StatusCode);
        using var gone = await client.GetAsync($"v1/webhooks/{webhookId}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task PlaygroundWebhook_PatchedToAnotherHost_LosesTheLoopbackException()
    {
        var resolver = new RebindingResolver();
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w => w.AllowedNetworks.Clear()), services: s => s.AddSingleton<WebhookHostResolver>(resolver));
        using var client = server.CreateClient();
        using var created = await client.PostAsync("playground/sessions?topic=pg.patched", "");
        var session = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var webhookId = session.GetProperty("webhookId").GetString()!;

        // The same sink path on a name that resolves publicly when checked, and to loopback when connecting.
        var url = $"http://rebind.example:{server.BaseAddress.Port}/playground/sink/{session.GetProperty("id").GetString()}";
        using var patch = new HttpRequestMessage(HttpMethod.Patch, $"v1/webhooks/{webhookId}") { Content = HubApi.Json($$"""{"url":"{{url}}"}""") };
        using var patched = await client.SendAsync(patch);
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);

        await client.PublishAsync("pg.patched");
        await Waiting.UntilAsync(() => client.AttemptsAsync(webhookId).Result.Count > 0, "the first attempt");
        var attempt = (await client.AttemptsAsync(webhookId))[^1];
        Assert.Equal("failed", attempt.GetProperty("status").GetString());
        Assert.Contains("loopback", attempt.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sink_ForAnUnknownSession_IsNotFound_AndSessionsAreBounded()
    {
        await using var server = await HubServer.StartAsync(sqlite: false,
            services: s => s.Configure<Switchboard.Monitoring.MonitoringOptions>(o => o.MaxPlaygroundSessions = 1));
        using var client = server.CreateClient();
        using var unknown = await client.PostAsync("playground/sink/pg_nobody", """{"type":"x","data":1}""");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.Equal("unknown-playground-session", JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        using var unknownEnd = await client.PostAsync("playground/sessions/pg_nobody/end", "");
        Assert.Equal(HttpStatusCode.NotFound, unknownEnd.StatusCode);
        Assert.Equal("application/problem+json", unknownEnd.Content.Headers.ContentType?.MediaType);

        using var first = await client.PostAsync("playground/sessions?topic=a", "");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        using var second = await client.PostAsync("playground/sessions?topic=b", "");
        await second.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, "too-many-playgrounds");
    }

    [Fact]
    public async Task Sink_BodyThatIsNotAJsonObject_Is400Problem_AndPublishesNoReceipt()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        using var created = await client.PostAsync("playground/sessions?topic=pg.bad", "");
        var session = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var sink = $"playground/sink/{session.GetProperty("id").GetString()}";
        var receipts = session.GetProperty("receiptsTopic").GetString()!;

        // Each was an unhandled exception (an empty 500): JsonDocument.Parse threw, or TryGetProperty on a non-object did.
        (byte[] Body, string Code)[] cases =
        [
            ("garbage"u8.ToArray(), "malformed-json"),
            ([], "malformed-json"),
            ("""{"seq":1,"data":1} x"""u8.ToArray(), "malformed-json"),
            (System.Text.Encoding.UTF8.GetBytes(new string('[', 100) + new string(']', 100)), "malformed-json"),
            ([.. "{\"data\":\""u8, 0xFF, .. "\"}"u8], "malformed-json"),
            ("[1]"u8.ToArray(), "invalid-body"),
            ("1"u8.ToArray(), "invalid-body"),
        ];
        foreach (var (body, code) in cases)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var answer = await client.PostAsync(sink, content);
            await answer.AssertProblemAsync(HttpStatusCode.BadRequest, code);
        }

        Assert.Empty((await client.PollAsync($"topic={receipts}&after=earliest")).Events);
        using var good = await client.PostAsync(sink, """{"seq":7,"data":{"n":1}}""");
        Assert.Equal(HttpStatusCode.NoContent, good.StatusCode);
        Assert.Single((await client.PollAsync($"topic={receipts}&after=earliest")).Events);
    }

    /// <summary>rebind.example: a public address the first time it is asked, loopback after; IP literals are themselves.</summary>
    private sealed class RebindingResolver : WebhookHostResolver
    {
        private int _calls;

        public override Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
            host != "rebind.example" ? base.ResolveAsync(host, cancellationToken)
            : Task.FromResult<IPAddress[]>(Interlocked.Increment(ref _calls) == 1 ? [IPAddress.Parse("93.184.215.14")] : [IPAddress.Loopback]);
    }
}
