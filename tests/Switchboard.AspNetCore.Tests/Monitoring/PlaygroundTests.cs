using System.Net;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

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
    public async Task Sink_ForAnUnknownSession_IsNotFound_AndSessionsAreBounded()
    {
        await using var server = await HubServer.StartAsync(sqlite: false,
            services: s => Microsoft.Extensions.DependencyInjection.OptionsServiceCollectionExtensions.Configure<Switchboard.AspNetCore.Monitoring.MonitoringOptions>(s, o => o.MaxPlaygroundSessions = 1));
        using var client = server.CreateClient();
        using var unknown = await client.PostAsync("playground/sink/pg_nobody", """{"type":"x","data":1}""");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using var first = await client.PostAsync("playground/sessions?topic=a", "");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        using var second = await client.PostAsync("playground/sessions?topic=b", "");
        await second.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, "too-many-playgrounds");
    }
}
