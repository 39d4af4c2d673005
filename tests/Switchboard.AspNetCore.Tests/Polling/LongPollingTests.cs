using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Log;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Polling;

public sealed class LongPollingTests
{
    private static readonly TimeSpan LongTimeout = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task LongPoll_MatchingPublishWhileHeld_ReturnsTheEventPromptly()
    {
        await using var server = await ObservedEventLog.StartServerAsync();
        var log = ObservedEventLog.Of(server);
        using var client = server.CreateClient();
        var emptyReads = log.EmptyReads;

        var elapsed = Stopwatch.StartNew();
        var poll = client.PollAsync("topic=held&wait=10", LongTimeout);
        await Waiting.UntilAsync(() => log.EmptyReads > emptyReads, "the long poll to find nothing and wait");
        Assert.False(poll.IsCompleted, "The poll answered before anything was published.");
        await client.PublishAsync("held.other");
        var published = await client.PublishAsync("held", """{"data":{"n":7}}""");
        var page = await poll.Within(LongTimeout);
        elapsed.Stop();

        Assert.Equal([published.Seq()], page.Seqs);
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(5), $"The held poll took {elapsed.Elapsed.TotalSeconds:0.00} s.");
        var next = await client.PollAsync("topic=held&after=" + page.Cursor);
        Assert.Empty(next.Events);
    }

    [Fact]
    public async Task LongPoll_EventsAlreadyAvailable_AnswersWithoutWaiting()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var published = await client.PublishManyAsync("ready", 3);

        var elapsed = Stopwatch.StartNew();
        var page = await client.PollAsync("topic=ready&after=earliest&wait=10", LongTimeout);

        Assert.Equal(published.Select(e => e.Seq()), page.Seqs);
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(5), $"took {elapsed.Elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public async Task LongPoll_NonMatchingPublish_DoesNotReleaseThePoll()
    {
        await using var server = await ObservedEventLog.StartServerAsync();
        var log = ObservedEventLog.Of(server);
        using var client = server.CreateClient();
        var emptyReads = log.EmptyReads;

        var elapsed = Stopwatch.StartNew();
        var poll = client.PollAsync("topic=topic-a&wait=1", LongTimeout);
        await Waiting.UntilAsync(() => log.EmptyReads > emptyReads, "the long poll to find nothing and wait");
        await client.PublishAsync("topic-b");
        // The publish wakes the poll; it must look again, find nothing for topic-a, and keep waiting.
        await Waiting.UntilAsync(() => log.EmptyReads > emptyReads + 1 || poll.IsCompleted, "the poll to re-check after the publish");
        var page = await poll.Within(LongTimeout);
        elapsed.Stop();

        Assert.Empty(page.Events);
        Assert.True(elapsed.Elapsed >= TimeSpan.FromSeconds(0.95), $"The poll answered after {elapsed.Elapsed.TotalSeconds:0.00} s, before its wait of 1 s ended.");
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(5), $"took {elapsed.Elapsed.TotalSeconds:0.00} s");
        // The cursor moved past the unrelated event, and nothing for topic-a was skipped.
        var later = await client.PublishAsync("topic-a");
        Assert.Equal([later.Seq()], (await client.PollAsync("topic=topic-a&after=" + page.Cursor)).Seqs);
    }

    [Fact]
    public async Task LongPoll_WaitAboveMaxWait_IsCappedAtMaxWait()
    {
        await using var server = await HubServer.StartAsync(o => o.Polling.MaxWait = TimeSpan.FromSeconds(1));
        using var client = server.CreateClient();

        var elapsed = Stopwatch.StartNew();
        var page = await client.PollAsync("topic=capped&wait=30", LongTimeout);
        elapsed.Stop();

        Assert.Empty(page.Events);
        Assert.InRange(elapsed.Elapsed, TimeSpan.FromSeconds(0.95), TimeSpan.FromSeconds(3));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1e3")]
    [InlineData("Infinity")]
    [InlineData("NaN")]
    public async Task LongPoll_InvalidWait_Returns400InvalidWait(string wait)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync($"v1/events?topic=a&wait={wait}").Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-wait");
    }

    [Fact]
    public async Task LongPoll_PublishRacingTheEmptyCheck_IsNotMissed()
    {
        RacingEventLog? racing = null;
        await using var server = await HubServer.StartAsync(sqlite: false, services: services =>
        {
            services.RemoveAll<IEventLog>();
            services.AddSingleton<IEventLog>(sp => racing = new RacingEventLog(new InMemoryEventLog(sp.GetRequiredService<TimeProvider>()), "race"));
        });
        using var client = server.CreateClient();

        var elapsed = Stopwatch.StartNew();
        var page = await client.PollAsync("topic=race&wait=20", LongTimeout);
        elapsed.Stop();

        Assert.True(racing?.Fired, "The racing append never happened, so the test proved nothing.");
        var raced = Assert.Single(page.Events);
        Assert.Equal("raced", raced.GetProperty("type").GetString());
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(10), $"The poll slept through a publish that raced its check: {elapsed.Elapsed.TotalSeconds:0.00} s.");
    }

    [Fact]
    public async Task LongPoll_MatchingPublish_AnswersWithin100MillisecondsMedian()
    {
        await using var server = await ObservedEventLog.StartServerAsync();
        var log = ObservedEventLog.Of(server);
        using var publisher = server.CreateClient();
        using var poller = server.CreateClient();

        var latencies = new List<double>();
        for (var trial = 0; trial < 5; trial++)
        {
            var emptyReads = log.EmptyReads;
            var poll = TimedPollAsync(poller, "topic=latency&wait=10");
            await Waiting.UntilAsync(() => log.EmptyReads > emptyReads, "the long poll to find nothing and wait");
            var published = await publisher.PublishAsync("latency", $$$"""{"data":{"n":{{{trial}}}}}""");
            var acknowledgedAt = Stopwatch.GetTimestamp();
            var (page, answeredAt) = await poll.Within(LongTimeout);

            Assert.Equal([published.Seq()], page.Seqs);
            latencies.Add(Math.Max(0, Stopwatch.GetElapsedTime(acknowledgedAt, answeredAt).TotalMilliseconds));
        }

        latencies.Sort();
        Assert.True(latencies[2] < 100, $"Median publish-ack → poll-answer latency {latencies[2]:0.0} ms; all: {string.Join(", ", latencies.Select(l => l.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))} ms.");
    }

    [Fact]
    public async Task LongPoll_ServerStopping_AnswersTheHeldPollEmpty()
    {
        await using var server = await ObservedEventLog.StartServerAsync();
        var log = ObservedEventLog.Of(server);
        using var client = server.CreateClient();
        var cursor = await client.CursorNowAsync("stopping");
        var emptyReads = log.EmptyReads;

        var elapsed = Stopwatch.StartNew();
        var poll = client.PollAsync($"topic=stopping&after={cursor}&wait=30", LongTimeout);
        await Waiting.UntilAsync(() => log.EmptyReads > emptyReads, "the long poll to find nothing and wait");
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var stop = server.App.StopAsync(stopTimeout.Token);
        var page = await poll.Within();
        await stop.Within();

        Assert.Empty(page.Events);
        Assert.Equal(cursor, page.Cursor);
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(10), $"took {elapsed.Elapsed.TotalSeconds:0.00} s");
    }

    private static async Task<(PollPage Page, long AnsweredAt)> TimedPollAsync(HttpClient client, string query)
    {
        var page = await client.PollAsync(query, LongTimeout);
        return (page, Stopwatch.GetTimestamp());
    }
}
