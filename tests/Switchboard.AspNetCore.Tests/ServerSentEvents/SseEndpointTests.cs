using System.Diagnostics;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.ServerSentEvents;

public sealed class SseEndpointTests
{
    [Fact]
    public async Task Stream_Response_HasEventStreamNoStoreAndNoBufferingHeaders()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=headers");

        var response = reader.Response;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoStore, response.Headers.CacheControl?.ToString());
        Assert.Equal("no", Assert.Single(response.Headers.GetValues("X-Accel-Buffering")));
    }

    [Fact]
    public async Task Stream_RawFrames_AreRetryFirstThenExactlyIdAndDataPerEvent()
    {
        await using var server = await HubServer.StartAsync(o => o.Sse.ReconnectDelay = TimeSpan.FromMilliseconds(1500));
        using var client = server.CreateClient();
        using var response = await client.GetAsync("v1/stream?topic=raw", HttpCompletionOption.ResponseHeadersRead).Within();
        var lines = new RawLineReader(await response.Content.ReadAsStreamAsync());

        var retry = await lines.ReadFrameAsync();
        // A non-default type, a payload with an escaped line break, and pretty-printed data: still one data: line each.
        var first = await client.PublishAsync("raw", "{\"type\":\"order.created\",\"data\":{\"text\":\"line1\\nline2\\r\\n\",\n  \"nested\" : { \"a\" : [1, 2] }\n}}");
        var second = await client.PublishAsync("raw", """{"data":"plain"}""");
        var firstFrame = await lines.ReadFrameAsync();
        var secondFrame = await lines.ReadFrameAsync();

        Assert.Equal(["retry: 1500"], retry);
        foreach (var (frame, published) in new[] { (firstFrame, first), (secondFrame, second) })
        {
            Assert.Equal(2, frame.Count);
            Assert.StartsWith("id: ", frame[0], StringComparison.Ordinal);
            Assert.Equal("data: " + published.GetRawText(), frame[1]);
            Assert.DoesNotContain(frame, line => line.StartsWith("event:", StringComparison.Ordinal));
        }

        // Each id is the cursor that resumes right after its event.
        var firstId = firstFrame[0]["id: ".Length..];
        var secondId = secondFrame[0]["id: ".Length..];
        Assert.Equal([second.Seq()], (await client.PollAsync($"topic=raw&after={firstId}")).Seqs);
        Assert.Empty((await client.PollAsync($"topic=raw&after={secondId}")).Events);
    }

    [Fact]
    public async Task Stream_ByDefault_DeliversOnlyNewEvents()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("fresh", 3);

        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=fresh");
        var live = await client.PublishAsync("fresh", """{"data":{"n":100}}""");
        var item = await reader.NextAsync();

        Assert.NotNull(item);
        Assert.Equal("message", item.Value.EventType);
        Assert.Equal(live.GetRawText(), item.Value.Data);
    }

    [Fact]
    public async Task Stream_AfterEarliest_DeliversHistoryThenLiveEventsInOrder()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var history = await client.PublishManyAsync("replay", 3);
        await client.PublishAsync("replay.other");

        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=replay&after=earliest");
        var replayed = await reader.TakeAsync(3);
        var live = await client.PublishManyAsync("replay", 2, firstN: 3);
        var delivered = await reader.TakeAsync(2);

        var all = replayed.Concat(delivered).Select(i => HubApi.Parse(i.Data)).ToList();
        Assert.Equal([0, 1, 2, 3, 4], all.Select(e => e.N()));
        Assert.Equal(history.Concat(live).Select(e => e.Seq()), all.Select(e => e.Seq()));
    }

    [Fact]
    public async Task Stream_ReaderBehindTheStoresMemoryTail_DeliversEveryEventInOrder()
    {
        // History older than the store's memory tail is read from the SQLite file, a few events per flush.
        await using var server = await HubServer.StartAsync(
            o => o.Sse.BatchSize = 7,
            services: s => s.Configure<SqliteEventLogOptions>(o =>
            {
                o.TailCacheSize = 16;
                o.MaxScanRows = 5;
            }));
        using var client = server.CreateClient();
        var expected = new List<long>();
        for (var round = 0; round < 25; round++)
        {
            var batch = await client.PublishBatchAsync($$$"""[{"topic":"deep.a","data":{"n":{{{round}}}}},{"topic":"noise","data":1},{"topic":"noise","data":2}]""");
            expected.Add(batch[0].Seq());
        }

        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=deep.*&after=earliest");
        var history = await reader.TakeAsync(25);
        var live = await client.PublishAsync("deep.b");
        var next = await reader.NextAsync();

        Assert.Equal(expected, history.Select(i => HubApi.Parse(i.Data).Seq()));
        Assert.Equal(live.GetRawText(), next?.Data);
    }

    [Fact]
    public async Task Stream_SeveralPatterns_DeliversOnlyMatchingTopics()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=orders.*&topic=chat.>");
        foreach (var topic in new[] { "orders", "orders.eu", "orders.eu.x", "chat", "chat.a.b", "billing" })
        {
            await client.PublishAsync(topic);
        }

        var items = await reader.TakeAsync(2);

        Assert.Equal(["orders.eu", "chat.a.b"], items.Select(i => HubApi.Parse(i.Data).GetProperty("topic").GetString()));
    }

    [Fact]
    public async Task Stream_LastEventId_ResumesExactlyAfterThatEventAndWinsOverAfter()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("resume", 5);
        List<SseItem<string>> firstVisit;
        await using (var reader = await SseReader.OpenAsync(client, "v1/stream?topic=resume&after=earliest"))
        {
            firstVisit = await reader.TakeAsync(5);
        }

        await using var resumed = await SseReader.OpenAsync(client, "v1/stream?topic=resume&after=earliest", lastEventId: firstVisit[2].EventId);
        var rest = await resumed.TakeAsync(2);
        await client.PublishManyAsync("resume", 1, firstN: 5);
        var live = await resumed.NextAsync();

        Assert.Equal([3, 4], rest.Select(i => HubApi.Parse(i.Data).N()));
        Assert.Equal(firstVisit.Skip(3).Select(i => i.EventId), rest.Select(i => i.EventId));
        Assert.Equal(5, HubApi.Parse(live!.Value.Data).N());
    }

    /// <summary>
    /// Clients that cannot set headers resume with the id in the query: EventSource polyfills send <c>lastEventId=</c>,
    /// pages written for Mercure <c>lastEventID=</c>. Either resumes exactly after that event and wins over <c>after</c>;
    /// the header, when there is one, wins over both.
    /// </summary>
    [Fact]
    public async Task Stream_LastEventIdQueryParameter_ResumesLikeTheHeader()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("resumeq", 5);
        List<SseItem<string>> all;
        await using (var reader = await SseReader.OpenAsync(client, "v1/stream?topic=resumeq&after=earliest"))
        {
            all = await reader.TakeAsync(5);
        }

        foreach (var name in new[] { "lastEventId", "lastEventID" })
        {
            await using var resumed = await SseReader.OpenAsync(client, $"v1/stream?topic=resumeq&after=earliest&{name}={Uri.EscapeDataString(all[2].EventId!)}");
            var rest = await resumed.TakeAsync(2);
            Assert.Equal(all.Skip(3).Select(i => i.EventId), rest.Select(i => i.EventId));
        }

        await using var header = await SseReader.OpenAsync(client, $"v1/stream?topic=resumeq&lastEventId={Uri.EscapeDataString(all[0].EventId!)}", lastEventId: all[3].EventId);
        Assert.Equal(all[4].EventId, (await header.NextAsync())!.Value.EventId);
    }

    [Fact]
    public async Task Stream_Idle_SendsCommentHeartbeat()
    {
        await using var server = await HubServer.StartAsync(o => o.Sse.HeartbeatInterval = TimeSpan.FromMilliseconds(100));
        using var client = server.CreateClient();
        using var response = await client.GetAsync("v1/stream?topic=quiet", HttpCompletionOption.ResponseHeadersRead).Within();
        var lines = new RawLineReader(await response.Content.ReadAsStreamAsync());
        var timeout = TimeSpan.FromSeconds(5);

        Assert.StartsWith("retry: ", await lines.ReadLineAsync(timeout), StringComparison.Ordinal);
        var seen = new List<string>();
        var deadline = Stopwatch.StartNew();
        string? line;
        while ((line = await lines.ReadLineAsync(timeout)) is not null && !line.StartsWith(':'))
        {
            seen.Add(line);
            Assert.True(deadline.Elapsed < timeout, $"No heartbeat within {timeout}; saw [{string.Join(" | ", seen)}].");
        }

        Assert.NotNull(line);
        Assert.All(seen, l => Assert.Equal("", l));
        // The stream is still live after heartbeats.
        var published = await client.PublishAsync("quiet");
        while ((line = await lines.ReadLineAsync(timeout)) is not null && !line.StartsWith("data: ", StringComparison.Ordinal))
        {
        }

        Assert.Equal("data: " + published.GetRawText(), line);
    }

    [Fact]
    public async Task Stream_CursorFromAnotherEpoch_SendsResetThenContinuesFromRestart()
    {
        await using var server = await HubServer.StartAsync();
        await using var other = await HubServer.StartAsync();
        using var client = server.CreateClient();
        using var otherClient = other.CreateClient();
        var history = await client.PublishManyAsync("epoch", 3);
        await otherClient.PublishManyAsync("epoch", 4);
        var foreignCursor = (await otherClient.PollAsync("topic=epoch&after=earliest")).Cursor;

        await using var reader = await SseReader.OpenAsync(client, $"v1/stream?topic=epoch&after={foreignCursor}");
        var reset = await reader.NextAsync();
        var replayed = await reader.TakeAsync(3);
        var live = await client.PublishManyAsync("epoch", 1, firstN: 3);
        var next = await reader.NextAsync();

        Assert.NotNull(reset);
        Assert.Equal("switchboard.reset", reset.Value.EventType);
        var data = HubApi.Parse(reset.Value.Data);
        Assert.Equal("epoch-changed", data.GetProperty("reason").GetString());
        var cursor = data.GetProperty("cursor").GetString();
        Assert.Equal(cursor, reset.Value.EventId);
        Assert.Equal(history.Select(e => e.Seq()), replayed.Select(i => HubApi.Parse(i.Data).Seq()));
        Assert.All(replayed, i => Assert.Equal("message", i.EventType));
        Assert.Equal(live[0].GetRawText(), next!.Value.Data);
        // The reset cursor is a valid cursor of this hub.
        Assert.Equal(history.Concat(live).Select(e => e.Seq()), (await client.PollAsync($"topic=epoch&after={cursor}")).Seqs);
    }

    [Fact]
    public async Task Stream_CursorBeforeRetainedHistory_SendsCursorExpiredResetThenRetainedEvents()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Retention.MaxEventsPerTopic = 2;
            o.Retention.TrimInterval = TimeSpan.FromMilliseconds(50);
        });
        using var client = server.CreateClient();
        var firstCursor = await client.CursorNowAsync("retained");
        var published = await client.PublishManyAsync("retained", 5);
        await Eventually.UntilAsync(async () =>
        {
            using var response = await client.GetAsync($"v1/events?topic=retained&after={firstCursor}");
            return response.StatusCode == HttpStatusCode.Gone;
        }, "retention to trim the topic to 2 events");

        await using var reader = await SseReader.OpenAsync(client, $"v1/stream?topic=retained&after={firstCursor}");
        var reset = await reader.NextAsync();
        var retained = await reader.TakeAsync(2);

        Assert.NotNull(reset);
        Assert.Equal("switchboard.reset", reset.Value.EventType);
        var data = HubApi.Parse(reset.Value.Data);
        Assert.Equal("cursor-expired", data.GetProperty("reason").GetString());
        Assert.Equal(data.GetProperty("cursor").GetString(), reset.Value.EventId);
        Assert.Equal(published.TakeLast(2).Select(e => e.Seq()), retained.Select(i => HubApi.Parse(i.Data).Seq()));
    }

    [Fact]
    public async Task Stream_MaxStreamDuration_EndsTheStreamCleanly()
    {
        await using var server = await HubServer.StartAsync(o => o.Sse.MaxStreamDuration = TimeSpan.FromMilliseconds(300));
        using var client = server.CreateClient();
        var elapsed = Stopwatch.StartNew();

        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=short");
        var end = await reader.NextAsync(TimeSpan.FromSeconds(5));
        elapsed.Stop();

        Assert.Null(end);
        Assert.True(elapsed.Elapsed >= TimeSpan.FromMilliseconds(250), $"The stream ended after {elapsed.Elapsed.TotalMilliseconds:0} ms.");
    }

    [Fact]
    public async Task Stream_ServerStopping_EndsTheStreamInsteadOfHanging()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=shutdown");
        var published = await client.PublishAsync("shutdown");
        var delivered = await reader.NextAsync();

        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var elapsed = Stopwatch.StartNew();
        var stop = server.App.StopAsync(stopTimeout.Token);
        var end = await reader.NextAsync(TimeSpan.FromSeconds(5));
        await stop.Within();

        Assert.Equal(published.GetRawText(), delivered?.Data);
        Assert.Null(end);
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(10), $"Stopping took {elapsed.Elapsed.TotalSeconds:0.0} s.");
    }

    [Theory]
    [InlineData("v1/stream", "missing-topic")]
    [InlineData("v1/stream?topic=a..b", "invalid-pattern")]
    [InlineData("v1/stream?topic=a&after=not-a-cursor", "invalid-cursor")]
    public async Task Stream_InvalidRequest_Returns400ProblemBeforeStreaming(string path, string code)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead).Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task Stream_Items_CarryTheEventJson()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var reader = await SseReader.OpenAsync(client, "v1/stream?topic=json");

        var published = await client.PublishAsync("json", """{"type":"t.1","data":{"list":[1,{"x":"é"}]}}""");
        var item = await reader.NextAsync();

        var @event = HubApi.Parse(item!.Value.Data);
        Assert.True(JsonElement.DeepEquals(published, @event));
        Assert.Equal("t.1", @event.GetProperty("type").GetString());
    }
}
