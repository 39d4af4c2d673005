using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Xunit.Abstractions;

namespace Switchboard.AspNetCore.Tests.Config;

/// <summary>One change seen by thousands of held long polls: all are answered, in batches, and the server keeps serving meanwhile.</summary>
public sealed class ConfigHerdTests(ITestOutputHelper output)
{
    private const int Clients = 5000;
    private const int BatchSize = 250;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(40);

    [Fact]
    public async Task OneChange_5000HeldPolls_AreAllAnsweredInBatches_WhileTheServerStillAnswers()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Config.ReleaseBatchSize = BatchSize;
            o.Config.ReleaseInterval = Interval;
            // Every client here shares 127.0.0.1; the per-IP caps are for real networks.
            o.Limits.MaxConnectionsPerIp = 0;
            o.Limits.RequestsPerSecondPerIp = 0;
        });
        using var writer = server.CreateClient();
        await writer.PutConfigAsync("herd", """{"flag":false}""");
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Clients + 100,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        using var crowd = new HttpClient(handler) { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        var clock = Stopwatch.StartNew();
        var answeredAt = new ConcurrentBag<(TimeSpan At, HttpStatusCode Status, long Version)>();
        var polls = new List<Task>(Clients);

        // Connect in steps (the listen backlog is finite), each step held before the next.
        for (var started = 0; started < Clients; started += 500)
        {
            for (var i = 0; i < 500; i++)
            {
                polls.Add(PollAsync());
            }

            await Waiting.UntilAsync(() => server.Waiters().Held == started + 500, $"{started + 500} polls to be held", TimeSpan.FromSeconds(60));
        }

        var batchesBefore = server.Waiters().Batches;
        var changedAt = clock.Elapsed;
        await writer.PutConfigAsync("herd", """{"flag":true}""");
        // Another request while the crowd is being answered.
        var healthStart = clock.Elapsed;
        using (var health = await writer.GetAsync("v1/health").Within())
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        var healthTook = clock.Elapsed - healthStart;
        var answeredBeforeHealth = answeredAt.Count;
        await Task.WhenAll(polls).Within(TimeSpan.FromSeconds(60));

        var answers = answeredAt.ToList();
        Assert.Equal(Clients, answers.Count);
        Assert.All(answers, a => Assert.Equal((HttpStatusCode.OK, 2L), (a.Status, a.Version)));
        var times = answers.Select(a => a.At - changedAt).Order().ToList();
        var first = times[0];
        var last = times[^1];
        var p50 = times[times.Count / 2];
        var p99 = times[(int)(times.Count * 0.99)];
        var batches = server.Waiters().Batches - batchesBefore;
        var summary = $"first {first.TotalMilliseconds:0} ms, p50 {p50.TotalMilliseconds:0} ms, p99 {p99.TotalMilliseconds:0} ms, last {last.TotalMilliseconds:0} ms, "
            + $"{batches} batches, health took {healthTook.TotalMilliseconds:0} ms with {answeredBeforeHealth} answered before it";

        output.WriteLine(summary);
        Assert.True(batches >= Clients / BatchSize, $"Expected at least {Clients / BatchSize} release batches: {summary}");
        // Batched: the answers spread over at least (batches - 1) intervals instead of arriving together.
        var minimumSpread = Interval * ((Clients / BatchSize) - 1) * 0.9;
        Assert.True(last - first >= minimumSpread, $"Answers were not spread over {minimumSpread.TotalMilliseconds:0} ms: {summary}");
        Assert.True(last < TimeSpan.FromSeconds(2), $"The last answer came too late: {summary}");
        Assert.True(healthTook < TimeSpan.FromSeconds(1), $"The server did not answer meanwhile: {summary}");
        Assert.True(answeredBeforeHealth < Clients, $"The health request was not answered during the release: {summary}");

        async Task PollAsync()
        {
            using var response = await crowd.GetAsync("v1/config/herd?version=1&wait=60");
            var body = await response.Content.ReadAsStringAsync();
            var version = response.StatusCode == HttpStatusCode.OK ? HubApi.Parse(body).Version() : -1;
            answeredAt.Add((clock.Elapsed, response.StatusCode, version));
        }
    }
}
