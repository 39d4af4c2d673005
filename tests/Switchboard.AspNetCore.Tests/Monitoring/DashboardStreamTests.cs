using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Monitoring;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Monitoring;

public sealed class DashboardStreamTests
{
    [Fact]
    public async Task DashboardStream_WhileOpen_CarriesSnapshotsThatCountPublishes_AndResumesLikeAnySseStream()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var headBefore = server.Hub.Log.HeadSeq;
        await client.PublishManyAsync("orders", 4, perBatch: 1);
        // Nobody watched: nothing was appended but the four events.
        Assert.Equal(headBefore + 4, server.Hub.Log.HeadSeq);

        string lastId;
        await using (var stream = await SseReader.OpenAsync(client, "dashboard/stream"))
        {
            JsonElement snapshot;
            do
            {
                var item = await stream.NextAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("the stream ended");
                snapshot = JsonDocument.Parse(item.Data).RootElement;
                Assert.Equal(DashboardSampler.SnapshotType, snapshot.GetProperty("type").GetString());
                Assert.Equal(DashboardSampler.Topic, snapshot.GetProperty("topic").GetString());
                lastId = item.EventId!;
            }
            while (snapshot.GetProperty("data").GetProperty("published").GetProperty("total").GetInt64() < 4);

            var data = snapshot.GetProperty("data");
            Assert.Equal(1, data.GetProperty("connections").GetProperty("sse").GetInt64());
            Assert.Contains(data.GetProperty("topics").EnumerateArray(), t => t.GetProperty("topic").GetString() == "orders");
            Assert.True(data.GetProperty("transports").TryGetProperty("websocket", out _));
            Assert.True(data.GetProperty("webhooks").TryGetProperty("endpoints", out _));
            Assert.True(data.GetProperty("jobs").TryGetProperty("queues", out _));
        }

        // Reconnecting with Last-Event-ID continues after that snapshot (the page's EventSource does this by itself).
        await using var resumed = await SseReader.OpenAsync(client, "dashboard/stream", lastEventId: lastId);
        var next = await resumed.NextAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(next);
        Assert.True(JsonDocument.Parse(next.Value.Data).RootElement.GetProperty("seq").GetInt64() > long.Parse(lastId.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void SnapshotTopic_HasShortRetention_UnlessTheOperatorSetsOne()
    {
        var defaults = new HubServerOptionsProbe(null);
        Assert.Equal(DashboardSampler.MaxSnapshotsKept, defaults.Rule.MaxEventsPerTopic);
        Assert.Equal(DashboardSampler.History, defaults.Rule.MaxAge);

        var own = new HubServerOptionsProbe(o => o.Retention.Topics[DashboardSampler.Topic] = new Switchboard.Retention.RetentionRule { MaxEventsPerTopic = 5 });
        Assert.Equal(5, own.Rule.MaxEventsPerTopic);
    }

    [Fact]
    public async Task DashboardStreamAndPlayground_OnAProtectedHub_NeedTheAdminScope_ThePagesDoNot()
    {
        await using var server = await HubServer.StartAsync(Security.SecurityKit.Protected());
        using var client = server.CreateClient();
        await Security.SecurityKit.AssertProblemAsync(await client.GetAsync("dashboard/stream"), HttpStatusCode.Unauthorized, "unauthorized");
        await Security.SecurityKit.AssertProblemAsync(await client.PostAsync("playground/sessions", null), HttpStatusCode.Unauthorized, "unauthorized");
        var reader = Security.SecurityKit.Token("viewer", [">"]);
        await Security.SecurityKit.AssertProblemAsync(await client.GetAsync($"dashboard/stream?access_token={reader}"), HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("dashboard")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("playground")).StatusCode);

        await using var stream = await SseReader.OpenAsync(client, $"dashboard/stream?access_token={Security.SecurityKit.AdminKey}");
        var snapshot = await stream.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(DashboardSampler.SnapshotType, snapshot!.Value.Data);
    }

    [Fact]
    public async Task DashboardPage_IsServedFromTheAssembly_WithItsScripts()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        var html = await client.GetStringAsync("dashboard");
        Assert.Contains("dashboard/stream", html, StringComparison.Ordinal);
        Assert.DoesNotContain("{{", html, StringComparison.Ordinal);
        using var script = await client.GetAsync("monitoring/dashboard.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        using var missing = await client.GetAsync("monitoring/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>The options an AddSwitchboard host ends up with, without starting it.</summary>
    private sealed class HubServerOptionsProbe
    {
        public HubServerOptionsProbe(Action<SwitchboardOptions>? configure)
        {
            var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
            services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
            services.AddSwitchboard(configure);
            using var provider = services.BuildServiceProvider();
            var retention = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Switchboard.Retention.RetentionOptions>>().Value;
            Rule = retention.Topics[DashboardSampler.Topic];
        }

        public Switchboard.Retention.RetentionRule Rule { get; }
    }
}
