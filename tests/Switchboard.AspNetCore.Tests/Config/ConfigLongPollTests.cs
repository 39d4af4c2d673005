using System.Diagnostics;
using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Config;

public sealed class ConfigLongPollTests
{
    private static readonly TimeSpan LongTimeout = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task LongPoll_AnswersWithin100msOfAPut()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        using var writer = server.CreateClient();
        await writer.PutConfigAsync("fast", """{"n":0}""");
        var delays = new List<TimeSpan>();

        for (var n = 1; n <= 7; n++)
        {
            var held = server.Waiters().Held;
            var poll = client.GetAsync($"v1/config/fast?version={n}&wait=30");
            await Waiting.UntilAsync(() => server.Waiters().Held > held, "the long poll to be held");
            Assert.False(poll.IsCompleted, "The poll answered before the change.");

            var clock = Stopwatch.StartNew();
            var put = writer.PutConfigAsync("fast", $$"""{"n":{{n}}}""");
            var config = await ConfigApi.ExpectVersionAsync(await poll.Within(LongTimeout));
            delays.Add(clock.Elapsed);
            await put;

            Assert.Equal(n + 1, config.Version());
            Assert.Equal($$"""{"n":{{n}}}""", config.Values());
        }

        var median = delays.Order().ElementAt(delays.Count / 2);
        Assert.True(median < TimeSpan.FromMilliseconds(100), $"Median from PUT to answered poll: {median.TotalMilliseconds:0.0} ms ({string.Join(", ", delays.Select(d => d.TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))}).");
    }

    [Fact]
    public async Task LongPoll_NoChange_Answers304AtTheTimeout()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var put = await client.PutConfigAsync("quiet", """{"a":1}""");

        var clock = Stopwatch.StartNew();
        using var response = await client.GetAsync("v1/config/quiet?version=1&wait=1").Within(LongTimeout);
        clock.Stop();

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), $"Answered after {clock.Elapsed.TotalSeconds:0.00} s, before the wait of 1 s.");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.Equal(0, server.Waiters().Held);
    }

    [Fact]
    public async Task LongPoll_ChangeToAnotherApp_DoesNotReleaseIt()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        await client.PutConfigAsync("mine", """{"a":1}""");

        var clock = Stopwatch.StartNew();
        var poll = client.GetAsync("v1/config/mine?version=1&wait=1");
        await Waiting.UntilAsync(() => server.Waiters().Held == 1, "the long poll to be held");
        await client.PutConfigAsync("theirs", """{"b":1}""");
        using var response = await poll.Within(LongTimeout);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), $"Answered after {clock.Elapsed.TotalSeconds:0.00} s.");
    }

    [Fact]
    public async Task LongPoll_ClientBehind_AnswersAtOnce()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        await client.PutConfigAsync("behind", """{"a":1}""");
        await client.PutConfigAsync("behind", """{"a":2}""");

        var config = await ConfigApi.ExpectVersionAsync(await client.GetAsync("v1/config/behind?version=1&wait=30").Within(TimeSpan.FromSeconds(5)));

        Assert.Equal(2, config.Version());
    }

    [Fact]
    public async Task LongPoll_VersionZeroOnUnknownApp_WaitsForItsCreation()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();

        var poll = client.GetAsync("v1/config/later?version=0&wait=30");
        await Waiting.UntilAsync(() => server.Waiters().Held == 1, "the long poll to be held");
        await client.PutConfigAsync("later", """{"ready":true}""");
        var config = await ConfigApi.ExpectVersionAsync(await poll.Within(LongTimeout));

        Assert.Equal(1, config.Version());
    }

    [Fact]
    public async Task LongPoll_ClientAheadOfAResetStore_Is404ForAMissingApp()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();

        using var response = await client.GetAsync("v1/config/reset?version=7&wait=30").Within(TimeSpan.FromSeconds(5));

        await response.AssertProblemAsync(HttpStatusCode.NotFound, "config-not-found");
    }

    [Fact]
    public async Task Watch_ManyApps_AnswersWithTheAppsThatChanged()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PutConfigAsync("alpha", """{"a":1}""");
        await client.PutConfigAsync("beta", """{"b":1}""");

        var watch = client.GetAsync("v1/config?watch=alpha:1,beta:1,gamma:0&wait=30");
        await Waiting.UntilAsync(() => server.Waiters().Held == 1, "the watch to be held");
        Assert.False(watch.IsCompleted);
        await client.PatchConfigAsync("beta", """{"b":2}""");
        using var response = await watch.Within(LongTimeout);
        var changes = HubApi.Parse(await response.Content.ReadAsStringAsync()).GetProperty("changes");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var change = Assert.Single(changes.EnumerateArray());
        Assert.Equal("beta", change.GetProperty("app").GetString());
        Assert.Equal(2, change.Version());
        Assert.Equal("""{"b":2}""", change.Values());
        Assert.Equal(0, server.Waiters().Held);
    }

    [Fact]
    public async Task Watch_SeveralAlreadyChanged_AnswersAtOnceWithAll_AndNothingChangedIs304()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        await client.PutConfigAsync("one", """{"a":1}""");
        await client.PutConfigAsync("two", """{"b":1}""");

        using var now = await client.GetAsync("v1/config?watch=one:0,two:0&wait=30").Within(TimeSpan.FromSeconds(5));
        using var none = await client.GetAsync("v1/config?watch=one:1,two:1&wait=0.2").Within(TimeSpan.FromSeconds(5));
        var apps = HubApi.Parse(await now.Content.ReadAsStringAsync()).GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("app").GetString());

        Assert.Equal(["one", "two"], apps);
        Assert.Equal(HttpStatusCode.NotModified, none.StatusCode);
    }

    [Fact]
    public async Task LongPoll_Shutdown_AnswersHeldPollsWith304()
    {
        var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        await client.PutConfigAsync("stopping", """{"a":1}""");
        var poll = client.GetAsync("v1/config/stopping?version=1&wait=60");
        await Waiting.UntilAsync(() => server.Waiters().Held == 1, "the long poll to be held");

        var clock = Stopwatch.StartNew();
        await server.DisposeAsync();
        using var response = await poll.Within(LongTimeout);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Shutdown took {clock.Elapsed.TotalSeconds:0.0} s.");
    }
}
