using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Switchboard.Config;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

public sealed class RedisConfigStoreTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 0, 0, 0, TimeSpan.Zero);

    private RedisConfigStore NewStore() => new(new RedisConnection(new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = $"t{Guid.NewGuid():N}:" }));

    private static ConfigVersion Version(string app, long version, string json) => new(app, version, Encoding.UTF8.GetBytes(json), T0.AddSeconds(version));

    [Fact]
    public async Task Save_KeepsHistoryNewestFirst_AndLoadsTheLatestOfEveryApp()
    {
        await using var store = NewStore();
        for (var v = 1; v <= 4; v++)
        {
            await store.SaveAsync(Version("shop", v, $$"""{"v":{{v}}}"""), keepHistory: 3);
        }

        await store.SaveAsync(Version("blog", 1, """{"a|b":"c|d"}"""), keepHistory: 3);

        var history = await store.ReadHistoryAsync("shop", 10);
        Assert.Equal([4L, 3L, 2L], history.Select(h => h.Version));
        Assert.Equal("""{"v":4}""", Encoding.UTF8.GetString(history[0].Values));
        Assert.Equal(T0.AddSeconds(4), history[0].CreatedAt);
        var latest = (await store.LoadLatestAsync()).OrderBy(v => v.App, StringComparer.Ordinal).ToList();
        Assert.Equal([("blog", 1L), ("shop", 4L)], latest.Select(v => (v.App, v.Version)));
        Assert.Equal("""{"a|b":"c|d"}""", Encoding.UTF8.GetString(latest[0].Values));
    }

    [Fact]
    public async Task Save_OfAVersionThatIsNotTheNext_IsAConflict()
    {
        await using var store = NewStore();
        await store.SaveAsync(Version("shop", 1, "{}"), 10);
        await Assert.ThrowsAsync<ConfigConflictException>(() => store.SaveAsync(Version("shop", 1, """{"other":1}"""), 10));
        await Assert.ThrowsAsync<ConfigConflictException>(() => store.SaveAsync(Version("fresh", 2, "{}"), 10));
        Assert.Equal("{}", Encoding.UTF8.GetString(Assert.Single(await store.ReadHistoryAsync("shop", 10)).Values));
    }

    [Fact]
    public async Task ConfigLongPollOnNode3_IsReleasedByAChangeOnNode1()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server);
        using var writer = nodes[1].CreateClient();
        using var poller = nodes[3].CreateClient();
        using (var first = await writer.PutAsync("v1/config/shop", Json("""{"newCheckout":false}""")).Within())
        {
            Assert.True(first.IsSuccessStatusCode, await first.Content.ReadAsStringAsync());
        }

        // Node 3 serves version 1 as soon as it has heard of it; then holds a poll for anything newer.
        await Waiting.EventuallyAsync(async () =>
        {
            using var read = await poller.GetAsync("v1/config/shop");
            return read.StatusCode == HttpStatusCode.OK ? true : throw new InvalidOperationException($"{(int)read.StatusCode}");
        });
        var held = poller.GetAsync("v1/config/shop?version=1&wait=30");
        var clock = Stopwatch.StartNew();
        using (var change = await writer.PatchAsync("v1/config/shop", Json("""{"newCheckout":true}""")).Within())
        {
            Assert.True(change.IsSuccessStatusCode, await change.Content.ReadAsStringAsync());
        }

        using var answer = await held.Within(TimeSpan.FromSeconds(20));
        var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2, body.GetProperty("version").GetInt64());
        Assert.True(body.GetProperty("values").GetProperty("newCheckout").GetBoolean());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"released after {clock.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task IfMatchWrites_OfTheSameReadVersion_OnTwoNodes_OnlyTheFirstLands()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2);
        using var client1 = nodes[1].CreateClient();
        using var client2 = nodes[2].CreateClient();
        using (var first = await client1.PutAsync("v1/config/cas", Json("""{"v":1}""")).Within())
        {
            Assert.True(first.IsSuccessStatusCode, await first.Content.ReadAsStringAsync());
        }

        // Both writers read version 1 (node 2 once it has heard of it) and hold its tag.
        var tag = await Waiting.EventuallyAsync(async () =>
        {
            using var read = await client2.GetAsync("v1/config/cas");
            return read.StatusCode == HttpStatusCode.OK ? read.Headers.ETag!.Tag : throw new InvalidOperationException($"{(int)read.StatusCode}");
        });

        using var won = await client1.SendAsync(Conditional(HttpMethod.Put, """{"v":"one"}""", tag)).Within();
        Assert.Equal(HttpStatusCode.OK, won.StatusCode);
        // Node 2 may not have heard of version 2 yet: its write then loses the race in Redis, and the condition is
        // checked again against the version that won.
        using var lost = await client2.SendAsync(Conditional(HttpMethod.Patch, """{"v":"two"}""", tag)).Within();
        Assert.Equal(HttpStatusCode.PreconditionFailed, lost.StatusCode);
        Assert.Equal("precondition-failed", JsonDocument.Parse(await lost.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());

        var final = await Waiting.EventuallyAsync(async () =>
        {
            var read = JsonDocument.Parse(await client2.GetStringAsync("v1/config/cas")).RootElement;
            return read.GetProperty("version").GetInt64() == 2 ? read : throw new InvalidOperationException($"version {read.GetProperty("version")}");
        });
        Assert.Equal("one", final.GetProperty("values").GetProperty("v").GetString());
    }

    private static HttpRequestMessage Conditional(HttpMethod method, string body, string ifMatch)
    {
        var request = new HttpRequestMessage(method, "v1/config/cas") { Content = Json(body) };
        if (method == HttpMethod.Patch)
        {
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/merge-patch+json");
        }

        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return request;
    }

    [Fact]
    public async Task ConcurrentPatches_OnTwoNodes_BothLand_InDistinctVersions()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, count: 2);
        using var client1 = nodes[1].CreateClient();
        using var client2 = nodes[2].CreateClient();
        var patches = Enumerable.Range(0, 10).Select(i => (i % 2 == 0 ? client1 : client2).PatchAsync("v1/config/flags", Json($$"""{"k{{i}}":{{i}}}"""))).ToArray();
        foreach (var response in await Task.WhenAll(patches).Within())
        {
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            response.Dispose();
        }

        // Node 1 may hear of node 2's last write a moment later.
        var final = await Waiting.EventuallyAsync(async () =>
        {
            var read = JsonDocument.Parse(await client1.GetStringAsync("v1/config/flags")).RootElement;
            return read.GetProperty("version").GetInt64() == 10 ? read : throw new InvalidOperationException($"version {read.GetProperty("version")}");
        });
        Assert.Equal(10, final.GetProperty("values").EnumerateObject().Count());
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
