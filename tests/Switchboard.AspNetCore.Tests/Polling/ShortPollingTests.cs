using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Polling;

public sealed class ShortPollingTests
{
    [Fact]
    public async Task Poll_ByDefault_ReturnsOnlyEventsPublishedAfterTheRequest()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishAsync("news", """{"data":{"n":0}}""");

        var first = await client.PollAsync("topic=news");
        var later = await client.PublishAsync("news", """{"data":{"n":1}}""");
        var next = await client.PollAsync("topic=news&after=" + first.Cursor);

        Assert.Empty(first.Events);
        Assert.Equal(["events", "cursor"], HubApi.Parse(first.Body).EnumerateObject().Select(p => p.Name));
        Assert.Equal([later.Seq()], next.Seqs);
        Assert.Equal(1, Assert.Single(next.Events).N());
    }

    [Fact]
    public async Task Poll_AfterLatestKeyword_ReturnsNothingOld()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishManyAsync("news", 3);

        var page = await client.PollAsync("topic=news&after=latest");

        Assert.Empty(page.Events);
    }

    [Fact]
    public async Task Poll_AfterEarliest_ReturnsAllEventsInOrder()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var published = await client.PublishManyAsync("news", 5);
        await client.PublishAsync("other");

        var page = await client.PollAsync("topic=news&after=earliest");

        Assert.Equal(published.Select(e => e.Seq()), page.Seqs);
        Assert.Equal([0, 1, 2, 3, 4], page.Events.Select(e => e.N()));
        Assert.Equal(published.Select(e => e.GetRawText()), page.Events.Select(e => e.GetRawText()));
    }

    [Fact]
    public async Task Poll_PagingWithCursorAndLimit2_ReturnsEveryEventExactlyOnce()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var published = new List<long>();
        for (var n = 0; n < 7; n++)
        {
            published.Add((await client.PublishAsync("pages", $$$"""{"data":{"n":{{{n}}}}}""")).Seq());
            await client.PublishAsync("noise"); // interleaved non-matching events must not disturb paging
        }

        var seen = new List<long>();
        var pageSizes = new List<int>();
        var cursor = "earliest";
        for (var i = 0; i < 10; i++)
        {
            var page = await client.PollAsync($"topic=pages&limit=2&after={cursor}");
            pageSizes.Add(page.Events.Count);
            seen.AddRange(page.Seqs);
            cursor = page.Cursor;
            if (page.Events.Count == 0)
            {
                break;
            }
        }

        Assert.Equal([2, 2, 2, 1, 0], pageSizes);
        Assert.Equal(published, seen);
        var late = await client.PublishAsync("pages");
        Assert.Equal([late.Seq()], (await client.PollAsync($"topic=pages&limit=2&after={cursor}")).Seqs);
    }

    [Fact]
    public async Task Poll_SeveralTopicsAndWildcards_ReturnsExactlyTheMatchingEvents()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        string[] topics = ["orders.eu", "orders.us", "orders.eu.paris", "chat", "chat.room1", "chat.room1.thread", "billing", "billingx", "audit.log"];
        foreach (var topic in topics)
        {
            await client.PublishAsync(topic);
        }

        var star = await client.PollAsync("topic=orders.*&after=earliest");
        var rest = await client.PollAsync("topic=chat.>&after=earliest");
        var several = await client.PollAsync("topic=orders.*&topic=billing&topic=*.log&after=earliest");
        var duplicate = await client.PollAsync("topic=billing&topic=billing&after=earliest");

        static IEnumerable<string?> Topics(PollPage page) => page.Events.Select(e => e.GetProperty("topic").GetString());
        Assert.Equal(["orders.eu", "orders.us"], Topics(star));
        Assert.Equal(["chat.room1", "chat.room1.thread"], Topics(rest));
        Assert.Equal(["orders.eu", "orders.us", "billing", "audit.log"], Topics(several));
        Assert.Equal(["billing"], Topics(duplicate));
    }

    [Theory]
    [InlineData("store.*")]
    [InlineData("store.a")]
    public async Task Poll_ReaderBehindTheStoresMemoryTail_PagesThroughEveryEventOnce(string pattern)
    {
        // A tiny tail cache and scan window force reads through the SQLite file, in several scans per page.
        await using var server = await HubServer.StartAsync(services: s => s.Configure<SqliteEventLogOptions>(o =>
        {
            o.TailCacheSize = 16;
            o.MaxScanRows = 5;
        }));
        using var client = server.CreateClient();
        var expected = new List<long>();
        for (var round = 0; round < 20; round++)
        {
            var batch = await client.PublishBatchAsync($$$"""[{"topic":"store.a","data":{"n":{{{round}}}}},{"topic":"noise","data":1},{"topic":"noise","data":2},{"topic":"store.b","data":{"n":{{{round}}}}}]""");
            expected.AddRange(batch.Where(e => pattern == "store.*" ? e.GetProperty("topic").GetString()!.StartsWith("store.", StringComparison.Ordinal) : e.GetProperty("topic").GetString() == pattern).Select(e => e.Seq()));
        }

        var seen = new List<long>();
        var cursor = "earliest";
        for (var i = 0; i < 100; i++)
        {
            var page = await client.PollAsync($"topic={pattern}&limit=7&after={cursor}");
            seen.AddRange(page.Seqs);
            if (page.Cursor == cursor && page.Events.Count == 0)
            {
                break;
            }

            cursor = page.Cursor;
        }

        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task Poll_WithoutLimit_Returns100Events()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var published = await client.PublishManyAsync("bulk", 150);

        var page = await client.PollAsync("topic=bulk&after=earliest");
        var rest = await client.PollAsync("topic=bulk&after=" + page.Cursor);

        Assert.Equal(published.Take(100).Select(e => e.Seq()), page.Seqs);
        Assert.Equal(published.Skip(100).Select(e => e.Seq()), rest.Seqs);
    }

    [Fact]
    public async Task Poll_LimitAboveMax_IsCappedAt1000()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var published = await client.PublishManyAsync("bulk", 1100, perBatch: 1000);

        var page = await client.PollAsync("topic=bulk&after=earliest&limit=5000");
        var rest = await client.PollAsync("topic=bulk&limit=5000&after=" + page.Cursor);

        Assert.Equal(1000, page.Events.Count);
        Assert.Equal(published.Take(1000).Select(e => e.Seq()), page.Seqs);
        Assert.Equal(published.Skip(1000).Select(e => e.Seq()), rest.Seqs);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("99999999999")]
    public async Task Poll_InvalidLimit_Returns400InvalidLimit(string limit)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync($"v1/events?topic=a&limit={limit}").Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-limit");
    }

    [Theory]
    [InlineData("v1/events?topic=a&limit=1&limit=2", "invalid-limit", "limit")]
    [InlineData("v1/events?topic=a&wait=1&wait=2", "invalid-wait", "wait")]
    [InlineData("v1/events?topic=a&after=latest&after=earliest", "invalid-cursor", "after")]
    [InlineData("v1/stream?topic=a&after=latest&after=earliest", "invalid-cursor", "after")]
    [InlineData("v1/stream?topic=a&lastEventId=x&lastEventID=y", "invalid-cursor", "lastEventId")]
    public async Task Read_AParameterGivenTwice_Returns400ThatSaysSo(string uri, string code, string name)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead).Within();

        // Not "limit must be a whole number" for limit=1&limit=2: the values are fine, there are two of them.
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
        Assert.Equal($"{name} is given 2 times; give it once.", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("v1/events", "missing-topic")]
    [InlineData("v1/events?after=earliest&limit=5", "missing-topic")]
    [InlineData("v1/events?topic=", "invalid-pattern")]
    public async Task Poll_MissingOrEmptyTopic_Returns400(string path, string code)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync(path).Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
    }

    [Theory]
    [InlineData("a.>.b")]
    [InlineData("a*")]
    [InlineData("a..b")]
    [InlineData("a%20b")]
    [InlineData(">x")]
    public async Task Poll_InvalidPattern_Returns400InvalidPattern(string pattern)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync($"v1/events?topic=ok&topic={pattern}").Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-pattern");
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("abc.xyz")]
    [InlineData("abc.-1")]
    [InlineData(".5")]
    [InlineData("ab-c.5")]
    public async Task Poll_MalformedCursor_Returns400InvalidCursor(string cursor)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync($"v1/events?topic=a&after={cursor}").Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-cursor");
    }

    [Fact]
    public async Task Poll_Response_HasNoStoreCacheControlPollIntervalAndWeakETag()
    {
        await using var server = await HubServer.StartAsync(o => o.Polling.PollIntervalSeconds = 7);
        using var client = server.CreateClient();

        using var response = await client.GetAsync("v1/events?topic=a").Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoStore, response.Headers.CacheControl?.ToString());
        Assert.Equal("7", Assert.Single(response.Headers.GetValues("X-Poll-Interval")));
        Assert.NotNull(response.Headers.ETag);
        Assert.True(response.Headers.ETag.IsWeak, response.Headers.ETag.ToString());
    }

    [Fact]
    public async Task Poll_IfNoneMatchCurrentETag_Returns304UntilAMatchingPublish()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var cursor = await client.CursorNowAsync("etag");
        var url = $"v1/events?topic=etag&after={cursor}";
        using var first = await client.GetAsync(url).Within();
        var etag = first.Headers.ETag!.ToString();

        using var unchanged = await GetWithETagAsync(client, url, etag);
        await client.PublishAsync("unrelated");
        using var afterUnrelated = await GetWithETagAsync(client, url, etag);
        var published = await client.PublishAsync("etag");
        using var afterMatching = await GetWithETagAsync(client, url, etag);

        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Equal(etag, unchanged.Headers.ETag?.ToString());
        Assert.Equal(HttpStatusCode.NotModified, afterUnrelated.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterMatching.StatusCode);
        Assert.NotEqual(etag, afterMatching.Headers.ETag?.ToString());
        var page = HubApi.ToPage(await afterMatching.Content.ReadAsStringAsync());
        Assert.Equal([published.Seq()], page.Seqs);
        using var withNewTag = await GetWithETagAsync(client, url, afterMatching.Headers.ETag!.ToString());
        Assert.Equal(HttpStatusCode.NotModified, withNewTag.StatusCode);
    }

    private static async Task<HttpResponseMessage> GetWithETagAsync(HttpClient client, string url, string etag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("If-None-Match", etag);
        return await client.SendAsync(request).Within();
    }
}
