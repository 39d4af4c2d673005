using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Monitoring;

/// <summary>
/// Delivery latency is live latency: events a reader takes from history (a stream opened from an old cursor, a poll of
/// old events) are counted as catch-up and kept out of the latency histogram and the dashboard's p50/p99.
/// </summary>
public sealed class CatchUpLatencyTests
{
    private const int Old = 5;
    private const int Fresh = 3;

    [Fact]
    public async Task HistoryReadFromAnOldCursor_IsCatchUp_WhileEventsPushedAtTheTail_AreLiveLatency()
    {
        // The hub's wall clock jumps two minutes ahead once the first events are in: they are old history from then on.
        var clock = new ShiftedTimeProvider();
        await using var server = await HubServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var metrics = new MetricsRecorder(server);
        using var client = server.CreateClient();
        await client.PublishManyAsync("orders", Old, perBatch: 1);
        clock.Offset = TimeSpan.FromMinutes(2);

        await using var sse = await SseReader.OpenAsync(client, "v1/stream?topic=orders&after=earliest");
        await using var socket = await HubSocket.ConnectAsync(server);
        await socket.SubscribeAsync("s", ["orders"], after: "earliest");
        await sse.TakeAsync(Old);
        await socket.EventsAsync("s", Old);
        var page = JsonDocument.Parse(await client.GetStringAsync("v1/events?topic=orders&after=earliest")).RootElement;
        Assert.Equal(Old, page.GetProperty("events").GetArrayLength());

        foreach (var transport in new[] { "sse", "websocket", "short_poll" })
        {
            Assert.Equal(Old, metrics.Sum("switchboard.delivery.catch_up", $"transport={transport}"));
            Assert.Equal(0, metrics.Count("switchboard.delivery.latency", $"transport={transport}"));
        }

        // Now live: published while the stream and the socket are open, and polled right after.
        await client.PublishManyAsync("orders", Fresh, perBatch: 1);
        await sse.TakeAsync(Fresh);
        await socket.EventsAsync("s", Fresh);
        var next = JsonDocument.Parse(await client.GetStringAsync($"v1/events?topic=orders&after={page.GetProperty("cursor").GetString()}")).RootElement;
        Assert.Equal(Fresh, next.GetProperty("events").GetArrayLength());

        foreach (var transport in new[] { "sse", "websocket", "short_poll" })
        {
            Assert.Equal(Old + Fresh, metrics.Sum("switchboard.events.delivered", $"transport={transport}"));
            Assert.Equal(Old, metrics.Sum("switchboard.delivery.catch_up", $"transport={transport}"));
            Assert.Equal(Fresh, metrics.Count("switchboard.delivery.latency", $"transport={transport}"));
            // Two minutes would show here if a catch-up read had been counted as latency.
            Assert.InRange(metrics.Sum("switchboard.delivery.latency", $"transport={transport}") / Fresh, 0, 10);
        }
    }

    [Fact]
    public async Task DashboardSnapshot_ShowsCatchUpApart_AndKeepsItOutOfTheLatencyPercentiles()
    {
        var clock = new ShiftedTimeProvider();
        await using var server = await HubServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = server.CreateClient();
        await client.PublishManyAsync("orders", Old, perBatch: 1);
        clock.Offset = TimeSpan.FromMinutes(2);

        await using var dashboard = await SseReader.OpenAsync(client, "dashboard/stream");
        var cursor = JsonDocument.Parse(await client.GetStringAsync("v1/events?topic=orders&after=earliest")).RootElement.GetProperty("cursor").GetString();
        await client.PublishManyAsync("orders", Fresh, perBatch: 1);
        Assert.Equal(Fresh, JsonDocument.Parse(await client.GetStringAsync($"v1/events?topic=orders&after={cursor}")).RootElement.GetProperty("events").GetArrayLength());

        JsonElement shortPoll;
        JsonElement delivered;
        do
        {
            var item = await dashboard.NextAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("the stream ended");
            var data = JsonDocument.Parse(item.Data).RootElement.GetProperty("data");
            shortPoll = data.GetProperty("transports").GetProperty("short_poll");
            delivered = data.GetProperty("delivered");
        }
        while (shortPoll.GetProperty("delivered").GetInt64() < Old + Fresh || shortPoll.GetProperty("samples").GetInt64() < Fresh);

        Assert.Equal(Old, shortPoll.GetProperty("catchUp").GetInt64());
        Assert.Equal(Fresh, shortPoll.GetProperty("samples").GetInt64());
        Assert.True(shortPoll.GetProperty("p99").GetDouble() < 10_000, $"p99 {shortPoll.GetProperty("p99")} ms counts the two-minute-old events");
        Assert.True(delivered.GetProperty("catchUp").GetInt64() >= Old);
    }

    /// <summary>The system clock, with the wall time moved by <see cref="Offset"/>; timers and timestamps are untouched.</summary>
    private sealed class ShiftedTimeProvider : TimeProvider
    {
        private long _offsetTicks;

        public TimeSpan Offset
        {
            get => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
            set => Interlocked.Exchange(ref _offsetTicks, value.Ticks);
        }

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
    }
}
