using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Subscriptions;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>
/// Redis losing its data (FLUSHALL) under readers that stay open: every reader, behind or caught up, on the node that
/// noticed or another, is reset (a gap, which clients get as <c>cursor-expired</c>) and then reads the new history
/// from its start; none skips events or reads the new history from its old position.
/// </summary>
public sealed class RedisLostHistoryTests : IAsyncLifetime
{
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private static readonly TopicFilter Topic = TopicFilter.Parse("a");
    private RedisServer _server = null!;
    private RedisConnection _admin = null!;

    public async Task InitializeAsync()
    {
        // A server of its own: the tests flush it.
        _server = await RedisServer.StartAsync();
        _admin = new RedisConnection(new RedisStoreOptions { Configuration = _server.Configuration + ",allowAdmin=true", KeyPrefix = _prefix });
    }

    public async Task DisposeAsync()
    {
        await _admin.DisposeAsync();
        await _server.DisposeAsync();
    }

    private static EventDraft Draft() => new("a", "message", "{}"u8.ToArray());

    private RedisEventLog Open(TimeSpan headPollInterval, string? user = null) => new(new RedisConnection(new RedisStoreOptions
    {
        Configuration = _server.Configuration + (user is null ? "" : $",user={user},password=pw"),
        KeyPrefix = _prefix,
        TailCacheSize = 16,
        HeadPollInterval = headPollInterval,
    }), null, _time) { OwnsConnection = true };

    [Fact]
    public async Task AReaderBehindTheTail_ReadingBeforeTheNodeNoticed_IsResetNotMovedPastTheLostEvents()
    {
        // The node never polls within the test: the read itself meets the wiped Redis.
        await using var log = Open(TimeSpan.FromMinutes(10));
        var epoch = log.Epoch;
        await log.AppendAsync([.. Enumerable.Range(0, 30).Select(_ => Draft())]);
        using var tail = new LogTail(log, Topic, 0, new TailOptions { BatchSize = 10 });

        await _admin.Database.ExecuteAsync("FLUSHALL");
        var step = await tail.ReadAsync();

        // Not an empty read moving the reader to the head, which would skip 30 events without a word.
        Assert.Equal(TailStepKind.Gap, step.Kind);
        Assert.NotEqual(epoch, log.Epoch);
        Assert.Equal(new LogGap(30, HistoryLost: true), step.Gap);
        Assert.Equal(30, tail.AfterSeq);
        var next = await log.AppendAsync([Draft()]);
        Assert.Equal(31, next.Events[0].Seq);
        Assert.Equal([31L], (await tail.ReadAsync()).Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task ACaughtUpReaderOnANodeAheadOfTheOneThatNoticed_IsResetAndReadsTheNewHistoryFromItsStart()
    {
        var user = $"nodea{Guid.NewGuid():N}";
        await _admin.Database.ExecuteAsync("ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all");
        await using var nodeA = Open(TimeSpan.FromMinutes(10), user);
        // Neither node polls within the test, so which one notices the wipe first is the test's choice.
        await using var nodeB = Open(TimeSpan.FromMinutes(10));
        var epoch = nodeB.Epoch;

        // Node A stops hearing of appends (its subscription is closed), so it stays at 0 while node B moves to 5.
        await _admin.Database.ExecuteAsync("ACL", "SETUSER", user, "resetchannels");
        await nodeB.AppendAsync([.. Enumerable.Range(0, 5).Select(_ => Draft())]);
        using var tail = new LogTail(nodeB, Topic, 0);
        Assert.Equal(5, (await tail.ReadAsync()).Events.Count);
        Assert.Equal(0, nodeA.HeadSeq);

        // Redis is wiped; node A notices first and starts the new history after its own head, 0.
        await _admin.Database.ExecuteAsync("FLUSHALL");
        nodeA.RefreshHeadSeq();
        Assert.NotEqual(epoch, nodeA.Epoch);
        await _admin.Database.ExecuteAsync("ACL", "SETUSER", user, "allchannels");
        nodeB.RefreshHeadSeq();
        Assert.Equal(nodeA.Epoch, nodeB.Epoch);
        var appended = await nodeA.AppendAsync([.. Enumerable.Range(0, 5).Select(_ => Draft())]);
        Assert.Equal([1L, 2, 3, 4, 5], appended.Events.Select(e => e.Seq));
        await Waiting.UntilAsync(() => nodeB.HeadSeq == 5, "node B at the new head");

        // Node B's reader, at 5 of the old history, must not read the new one from 5: its events 1 to 5 are new.
        var step = await tail.ReadAsync();
        Assert.Equal(TailStepKind.Gap, step.Kind);
        Assert.Equal(new LogGap(0, HistoryLost: true), step.Gap);
        var events = (await tail.ReadAsync()).Events;
        Assert.Equal([1L, 2, 3, 4, 5], events.Select(e => e.Seq));
        Assert.All(events, e => Assert.Equal(nodeA.Epoch, e.Epoch));
    }

    [Fact]
    public async Task ACaughtUpReaderOnTheNodeThatNoticed_IsToldOnce_AndMissesNothing()
    {
        await using var log = Open(TimeSpan.FromMilliseconds(50));
        var epoch = log.Epoch;
        await log.AppendAsync([.. Enumerable.Range(0, 3).Select(_ => Draft())]);
        using var tail = new LogTail(log, Topic, 0);
        Assert.Equal(3, (await tail.ReadAsync()).Events.Count);

        await _admin.Database.ExecuteAsync("FLUSHALL");
        await Waiting.UntilAsync(() => log.Epoch != epoch, "the node to notice the new epoch");
        await log.AppendAsync([Draft()]);

        Assert.Equal(new LogGap(3, HistoryLost: true), (await tail.ReadAsync()).Gap);
        Assert.Equal([4L], (await tail.ReadAsync()).Events.Select(e => e.Seq));
        Assert.Empty((await tail.ReadAsync()).Events);
    }

    [Fact]
    public async Task OpenStreamsAndHeldPolls_AreToldCursorExpired_NewRequestsEpochChanged_AndTheStreamGetsTheNewHistory()
    {
        await using var node = await Nodes.StartNodeAsync(_server, _prefix, observed: true, redisOptions: o => o.HeadPollInterval = TimeSpan.FromMilliseconds(100));
        using var client = node.CreateClient();
        await client.PublishAsync("a", "1");
        await client.PublishAsync("a", "2");
        var (_, cursor) = await client.PollAsync("topic=a");
        var held = client.GetAsync($"v1/events?topic=a&after={cursor}&wait=30");
        // Held: it read, registered, read again and found nothing both times (nothing else reads yet).
        await Waiting.UntilAsync(() => ObservedLog.Of(node).EmptyReads >= 2, "the poll to be held");
        await using var sse = await SseReader.OpenAsync(client, "v1/stream?topic=a&after=earliest");
        Assert.Equal(["1", "2"], [Api.DataOf((await NextAsync(sse)).Data), Api.DataOf((await NextAsync(sse)).Data)]);
        await using var socket = await SocketClient.SubscribeAsync(node, "a", after: "earliest");
        Assert.Equal(["1", "2"], [await socket.NextEventDataAsync(), await socket.NextEventDataAsync()]);
        var epoch = node.Hub.Log.Epoch;

        await _admin.Database.ExecuteAsync("FLUSHALL");
        await Waiting.UntilAsync(() => node.Hub.Log.Epoch != epoch, "the node to notice the new epoch");
        using (var answered = await held.Within())
        {
            Assert.Equal(System.Net.HttpStatusCode.Gone, answered.StatusCode);
            var problem = JsonDocument.Parse(await answered.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("cursor-expired", problem.GetProperty("code").GetString());
            Assert.Equal($"{node.Hub.Log.Epoch}.2", problem.GetProperty("cursor").GetString());
            // The detail says what happened: not retention, which this hub may not even have configured.
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains("reset or replaced", detail, StringComparison.Ordinal);
            Assert.DoesNotContain("retention", detail, StringComparison.Ordinal);
        }

        // A new request with a cursor of the lost history is told so.
        using (var fresh = await client.GetAsync($"v1/events?topic=a&after={cursor}").Within())
        {
            Assert.Equal(System.Net.HttpStatusCode.Gone, fresh.StatusCode);
            var problem = JsonDocument.Parse(await fresh.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("epoch-changed", problem.GetProperty("code").GetString());
            Assert.Equal($"{node.Hub.Log.Epoch}.2", problem.GetProperty("cursor").GetString());
        }

        await client.PublishAsync("a", "3");

        var reset = await NextAsync(sse);
        Assert.Equal("switchboard.reset", reset.EventType);
        var body = JsonDocument.Parse(reset.Data).RootElement;
        Assert.Equal("cursor-expired", body.GetProperty("reason").GetString());
        Assert.Equal($"{node.Hub.Log.Epoch}.2", body.GetProperty("cursor").GetString());
        var next = await NextAsync(sse);
        Assert.Equal("message", next.EventType);
        Assert.Equal("3", Api.DataOf(next.Data));
        var socketReset = await socket.NextAsync();
        Assert.Equal("reset", socketReset.GetProperty("op").GetString());
        Assert.Equal("cursor-expired", socketReset.GetProperty("reason").GetString());
        Assert.Equal($"{node.Hub.Log.Epoch}.2", socketReset.GetProperty("cursor").GetString());
        Assert.Equal("3", await socket.NextEventDataAsync());
    }

    private static async Task<System.Net.ServerSentEvents.SseItem<string>> NextAsync(SseReader sse)
    {
        while (true)
        {
            var item = await sse.NextAsync() ?? throw new InvalidOperationException("The stream ended.");
            if (!string.IsNullOrEmpty(item.Data))
            {
                return item;
            }
        }
    }
}
