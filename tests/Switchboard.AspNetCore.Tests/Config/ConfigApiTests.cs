using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Config;

public sealed class ConfigApiTests
{
    [Fact]
    public async Task Put_NewApp_CreatesVersionOneAndGetReturnsItWithETag()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var created = await client.SendConfigAsync(HttpMethod.Put, "shop", """{"theme":"dark","limit":5}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var config = await client.GetConfigAsync("shop");

        Assert.Equal("shop", config.GetProperty("app").GetString());
        Assert.Equal(1, config.Version());
        Assert.Equal("""{"theme":"dark","limit":5}""", config.Values());
        using var response = await client.GetAsync("v1/config/shop").Within();
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal(created.Headers.ETag, response.Headers.ETag);
    }

    [Fact]
    public async Task Get_IfNoneMatchCurrentETag_Answers304UntilTheNextVersion()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PutConfigAsync("etag", """{"a":1}""");
        using var first = await client.GetAsync("v1/config/etag").Within();
        var etag = first.Headers.ETag!;

        using var same = new HttpRequestMessage(HttpMethod.Get, "v1/config/etag");
        same.Headers.IfNoneMatch.Add(etag);
        using var notModified = await client.SendAsync(same).Within();
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        await client.PutConfigAsync("etag", """{"a":2}""");
        using var again = new HttpRequestMessage(HttpMethod.Get, "v1/config/etag");
        again.Headers.IfNoneMatch.Add(etag);
        using var changed = await client.SendAsync(again).Within();
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag);
    }

    [Fact]
    public async Task Writes_WithIfMatchOfAnOlderETag_Are412_AndStoreNothing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PutConfigAsync("cas", """{"a":1}""");
        using var read = await client.GetAsync("v1/config/cas").Within();
        var stale = read.Headers.ETag!.Tag;
        var current = await client.PutConfigAsync("cas", """{"a":2}""");
        using var reread = await client.GetAsync("v1/config/cas").Within();

        // A client that read version 1 and writes "only if it is still what I read" must not overwrite version 2
        // (RFC 9110 13.1.1): it was ignored, and the stale write was stored as version 3.
        using var put = await client.SendConfigAsync(HttpMethod.Put, "cas", """{"a":3}""", ifMatch: stale);
        var problem = await put.AssertProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        Assert.Equal(reread.Headers.ETag!.Tag, problem.GetProperty("etag").GetString());
        using var patch = await client.SendConfigAsync(HttpMethod.Patch, "cas", """{"b":1}""", "application/merge-patch+json", ifMatch: stale);
        await patch.AssertProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        using var delete = new HttpRequestMessage(HttpMethod.Delete, "v1/config/cas/keys/a");
        delete.Headers.TryAddWithoutValidation("If-Match", stale);
        using var deleted = await client.SendAsync(delete).Within();
        await deleted.AssertProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        using var weak = await client.SendConfigAsync(HttpMethod.Put, "cas", """{"a":3}""", ifMatch: "W/" + (await client.GetAsync("v1/config/cas").Within()).Headers.ETag!.Tag);
        await weak.AssertProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");

        var unchanged = await client.GetConfigAsync("cas");
        Assert.Equal(current.Version(), unchanged.Version());
        Assert.Equal("""{"a":2}""", unchanged.Values());
        Assert.Equal(2, (await client.PollAsync("topic=config.cas&after=earliest")).Events.Count);
    }

    [Fact]
    public async Task Writes_WithIfMatchOfTheCurrentETag_OrIfNoneMatchStarOnANewApp_AreStored()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        // If-None-Match: * creates only: the second such PUT finds the app and is refused.
        using var created = await client.SendConfigAsync(HttpMethod.Put, "cas2", """{"a":1}""", ifNoneMatch: "*");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var again = await client.SendConfigAsync(HttpMethod.Put, "cas2", """{"a":9}""", ifNoneMatch: "*");
        await again.AssertProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");

        using var put = await client.SendConfigAsync(HttpMethod.Put, "cas2", """{"a":2}""", ifMatch: $"\"0-0\", {created.Headers.ETag!.Tag}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var patch = await client.SendConfigAsync(HttpMethod.Patch, "cas2", """{"b":1}""", "application/merge-patch+json", ifMatch: put.Headers.ETag!.Tag);
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        using var any = await client.SendConfigAsync(HttpMethod.Put, "cas2", """{"c":1}""", ifMatch: "*");
        Assert.Equal(HttpStatusCode.OK, any.StatusCode);
        using var missing = await client.SendConfigAsync(HttpMethod.Put, "nothing-here", """{"c":1}""", ifMatch: "*");
        await missing.AssertProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        Assert.Equal(4, (await client.GetConfigAsync("cas2")).Version());
    }

    [Fact]
    public async Task Put_SameValuesAgain_DoesNotMakeANewVersion()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PutConfigAsync("same", """{"a":1}""");

        var again = await client.PutConfigAsync("same", """{ "a" : 1 }""");
        var changed = await client.PutConfigAsync("same", """{"a":2}""");

        Assert.Equal(1, again.Version());
        Assert.Equal(2, changed.Version());
    }

    [Fact]
    public async Task Put_EachVersion_IsAnEventOnTheConfigTopic()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PutConfigAsync("evented", """{"a":1}""");
        await client.PatchConfigAsync("evented", """{"b":true}""");

        var page = await client.PollAsync("topic=config.evented&after=earliest");

        Assert.Equal(2, page.Events.Count);
        Assert.All(page.Events, e => Assert.Equal("config.changed", e.GetProperty("type").GetString()));
        var last = page.Events[^1].GetProperty("data");
        Assert.Equal(2, last.GetProperty("version").GetInt64());
        Assert.Equal("""{"a":1,"b":true}""", last.GetProperty("values").GetRawText());
    }

    [Fact]
    public async Task Patch_FollowsJsonMergePatch()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PutConfigAsync("merge", """{"title":"Hello","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"text"}""");

        // The example of RFC 7396 section 3.
        var patched = await client.PatchConfigAsync("merge", """{"title":"Goodbye!","author":{"familyName":null},"phoneNumber":"+01-123-456-7890","tags":["example"]}""");

        Assert.Equal(2, patched.Version());
        Assert.Equal("""{"title":"Goodbye!","author":{"givenName":"John"},"tags":["example"],"content":"text","phoneNumber":"+01-123-456-7890"}""", patched.Values());
    }

    [Fact]
    public async Task Patch_UnknownApp_CreatesIt()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();

        var created = await client.PatchConfigAsync("fresh", """{"on":true,"gone":null}""");

        Assert.Equal(1, created.Version());
        Assert.Equal("""{"on":true}""", created.Values());
    }

    [Fact]
    public async Task DeleteKey_RemovesTheKeyAsANewVersion_AndAMissingKeyIs404()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PutConfigAsync("keys", """{"keep":1,"drop":2}""");

        var deleted = await ConfigApi.ExpectVersionAsync(await client.DeleteAsync("v1/config/keys/keys/drop").Within());
        using var missing = await client.DeleteAsync("v1/config/keys/keys/drop").Within();
        using var noApp = await client.DeleteAsync("v1/config/nothing/keys/drop").Within();

        Assert.Equal(2, deleted.Version());
        Assert.Equal("""{"keep":1}""", deleted.Values());
        await missing.AssertProblemAsync(HttpStatusCode.NotFound, "config-key-not-found");
        await noApp.AssertProblemAsync(HttpStatusCode.NotFound, "config-key-not-found");
    }

    [Fact]
    public async Task History_ListsVersionsNewestFirst_KeepingHistoryPerApp()
    {
        await using var server = await HubServer.StartAsync(o => o.Config.HistoryPerApp = 3);
        using var client = server.CreateClient();
        for (var i = 1; i <= 5; i++)
        {
            await client.PutConfigAsync("hist", $$"""{"n":{{i}}}""");
        }

        var all = HubApi.Parse(await client.GetStringAsync("v1/config/hist/history").Within());
        var two = HubApi.Parse(await client.GetStringAsync("v1/config/hist/history?limit=2").Within());

        Assert.Equal([5L, 4L, 3L], all.GetProperty("versions").EnumerateArray().Select(v => v.Version()));
        Assert.Equal([5L, 4L], two.GetProperty("versions").EnumerateArray().Select(v => v.Version()));
        Assert.Equal("""{"n":4}""", two.GetProperty("versions")[1].Values());
    }

    [Fact]
    public async Task Settings_SurviveARestart_OnSqlite()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "config.db");
        await using (var first = await HubServer.StartAsync(sqlitePath: path))
        {
            using var client = first.CreateClient();
            await client.PutConfigAsync("durable", """{"a":1}""");
            await client.PatchConfigAsync("durable", """{"b":2}""");
        }

        await using var second = await HubServer.StartAsync(sqlitePath: path);
        using var again = second.CreateClient();
        var config = await again.GetConfigAsync("durable");
        var next = await again.PatchConfigAsync("durable", """{"c":3}""");

        Assert.Equal(2, config.Version());
        Assert.Equal("""{"a":1,"b":2}""", config.Values());
        Assert.Equal(3, next.Version());
    }

    [Fact]
    public async Task Settings_OutliveRetentionOfTheConfigTopic()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Retention.MaxEventsPerTopic = 1;
            o.Retention.TrimInterval = TimeSpan.FromMilliseconds(20);
        });
        using var client = server.CreateClient();
        await client.PutConfigAsync("trimmed", """{"a":1}""");
        await client.PutConfigAsync("other", """{"x":1}""");
        await client.PatchConfigAsync("trimmed", """{"b":2}""");
        await client.PatchConfigAsync("trimmed", """{"c":3}""");
        await Eventually.UntilAsync(async () => (await client.PollAsync("topic=config.trimmed&after=earliest")).Events.Count == 1, "retention to trim config.trimmed to one event");

        var config = await client.GetConfigAsync("trimmed");
        var history = HubApi.Parse(await client.GetStringAsync("v1/config/trimmed/history").Within());

        Assert.Equal(3, config.Version());
        Assert.Equal("""{"a":1,"b":2,"c":3}""", config.Values());
        Assert.Equal(3, history.GetProperty("versions").GetArrayLength());
    }

    [Theory]
    [InlineData("GET", "v1/config/nothing", null, HttpStatusCode.NotFound, "config-not-found")]
    [InlineData("GET", "v1/config/nothing/history", null, HttpStatusCode.NotFound, "config-not-found")]
    [InlineData("PUT", "v1/config/bad.app", "{}", HttpStatusCode.BadRequest, "invalid-app")]
    [InlineData("PUT", "v1/config/bad%20app", "{}", HttpStatusCode.BadRequest, "invalid-app")]
    [InlineData("PUT", "v1/config/app", "[1,2]", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("PUT", "v1/config/app", "\"text\"", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("PUT", "v1/config/app", "", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("PUT", "v1/config/app", "{\"a\":", HttpStatusCode.BadRequest, "malformed-json")]
    [InlineData("PUT", "v1/config/app", "{\"flag\":{\"rollout\":101}}", HttpStatusCode.BadRequest, "invalid-flag")]
    [InlineData("PUT", "v1/config/app", "{\"flag\":{\"rollout\":\"half\"}}", HttpStatusCode.BadRequest, "invalid-flag")]
    [InlineData("PUT", "v1/config/app", "{\"\":1}", HttpStatusCode.BadRequest, "invalid-key")]
    [InlineData("PATCH", "v1/config/app", "null", HttpStatusCode.BadRequest, "invalid-body")]
    [InlineData("GET", "v1/config/app?version=-1", null, HttpStatusCode.BadRequest, "invalid-version")]
    [InlineData("GET", "v1/config/app?version=x&wait=1", null, HttpStatusCode.BadRequest, "invalid-version")]
    [InlineData("GET", "v1/config/app?version=1&wait=NaN", null, HttpStatusCode.BadRequest, "invalid-wait")]
    [InlineData("GET", "v1/config/app?wait=5", null, HttpStatusCode.BadRequest, "missing-version")]
    [InlineData("GET", "v1/config/app/history?limit=0", null, HttpStatusCode.BadRequest, "invalid-limit")]
    [InlineData("GET", "v1/config", null, HttpStatusCode.BadRequest, "invalid-watch")]
    [InlineData("GET", "v1/config?watch=a:1,a:2", null, HttpStatusCode.BadRequest, "invalid-watch")]
    [InlineData("GET", "v1/config?watch=a:one", null, HttpStatusCode.BadRequest, "invalid-version")]
    [InlineData("GET", "v1/config?watch=a.b:1", null, HttpStatusCode.BadRequest, "invalid-app")]
    [InlineData("POST", "v1/config/app", "{}", HttpStatusCode.MethodNotAllowed, "method-not-allowed")]
    [InlineData("DELETE", "v1/config/app", null, HttpStatusCode.MethodNotAllowed, "method-not-allowed")]
    [InlineData("GET", "v1/config/app/keys/a", null, HttpStatusCode.MethodNotAllowed, "method-not-allowed")]
    public async Task BadRequests_AreProblems(string method, string path, string? body, HttpStatusCode status, string code)
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        using var response = await client.SendAsync(request).Within();

        await response.AssertProblemAsync(status, code);
    }

    [Fact]
    public async Task Put_OverMaxBytes_Is413_AndTooManyKeys_Is400()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Config.MaxBytes = 1024;
            o.Config.MaxKeys = 3;
        }, sqlite: false);
        using var client = server.CreateClient();

        using var large = await client.SendConfigAsync(HttpMethod.Put, "big", $$"""{"a":"{{new string('x', 2000)}}"}""");
        using var keys = await client.SendConfigAsync(HttpMethod.Put, "big", """{"a":1,"b":2,"c":3,"d":4}""");
        using var text = await client.SendConfigAsync(HttpMethod.Put, "big", "{}", "text/plain");

        await large.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await keys.AssertProblemAsync(HttpStatusCode.BadRequest, "too-many-keys");
        await text.AssertProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task Patch_GrowingPastMaxBytes_Is413AndKeepsTheVersion()
    {
        await using var server = await HubServer.StartAsync(o => o.Config.MaxBytes = 600, sqlite: false);
        using var client = server.CreateClient();
        await client.PutConfigAsync("grow", $$"""{"a":"{{new string('x', 400)}}"}""");

        using var grown = await client.SendConfigAsync(HttpMethod.Patch, "grow", $$"""{"b":"{{new string('y', 400)}}"}""");

        await grown.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Equal(1, (await client.GetConfigAsync("grow")).Version());
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(10, -1)]
    public async Task Options_ThatCannotWork_FailAtStart(int batchSize, int intervalMs)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => HubServer.StartAsync(o =>
        {
            o.Config.ReleaseBatchSize = batchSize;
            o.Config.ReleaseInterval = TimeSpan.FromMilliseconds(intervalMs);
        }, sqlite: false));

        Assert.Contains("Config:", error.Message, StringComparison.Ordinal);
    }
}
