using System.Net;
using Switchboard.AspNetCore.Http;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>
/// The webhook request bodies as DTOs: unknown members, wrong types, nulls, deep nesting, huge numbers, duplicate
/// members and non-object bodies each get their 400 (or the answer a valid body gets), never a 5xx.
/// </summary>
public sealed class WebhookRequestBodyTests
{
    private const string Url = "\"url\":\"http://127.0.0.1:9/hook\"";
    private const string Topics = "\"topics\":[\"orders\"]";

    /// <summary>A JSON object of <paramref name="members"/> after <paramref name="prefix"/> (members and a trailing comma, or nothing).</summary>
    private static string Obj(string prefix, string members) => "{" + prefix + members + "}";

    /// <summary>Wrong JSON types and values out of range for the members create and patch share, as a fragment after a valid body.</summary>
    private static IEnumerable<BodyCase> SharedMemberCases(string prefix) =>
    [
        new("url number", Obj(prefix, "\"url\":5"), 400, "invalid-body", "\"url\""),
        new("url object", Obj(prefix, "\"url\":{\"href\":\"x\"}"), 400, "invalid-body", "\"url\""),
        new("url null", Obj(prefix, "\"url\":null"), 400, "invalid-body", "\"url\""),
        new("topics string", Obj(prefix, "\"topics\":\"orders\""), 400, "invalid-body", "\"topics\""),
        new("topics of numbers", Obj(prefix, "\"topics\":[1]"), 400, "invalid-body", "\"topics\""),
        new("topics with null", Obj(prefix, "\"topics\":[null]"), 400, "invalid-body", "\"topics\""),
        new("topics null", Obj(prefix, "\"topics\":null"), 400, "invalid-body", "\"topics\""),
        new("topics nested arrays", Obj(prefix, "\"topics\":[[[\"orders\"]]]"), 400, "invalid-body", "\"topics\""),
        new("types number", Obj(prefix, "\"types\":5"), 400, "invalid-body", "\"types\""),
        new("types empty", Obj(prefix, "\"types\":[]"), 400, "invalid-body", "\"types\""),
        new("description object", Obj(prefix, "\"description\":{\"a\":1}"), 400, "invalid-body", "\"description\""),
        new("description too long", Obj(prefix, "\"description\":\"" + new string('d', 1025) + "\""), 400, "invalid-body", "\"description\""),
        new("mode number", Obj(prefix, "\"mode\":1"), 400, "invalid-body", "\"mode\""),
        new("mode null", Obj(prefix, "\"mode\":null"), 400, "invalid-body", "\"mode\""),
        new("mode in capitals", Obj(prefix, "\"mode\":\"Ordered\""), 400, "invalid-body", "\"mode\""),
        new("maxInFlight string", Obj(prefix, "\"maxInFlight\":\"5\""), 400, "invalid-body", "\"maxInFlight\""),
        new("maxInFlight fraction", Obj(prefix, "\"maxInFlight\":5.5"), 400, "invalid-body", "\"maxInFlight\""),
        new("maxInFlight true", Obj(prefix, "\"maxInFlight\":true"), 400, "invalid-body", "\"maxInFlight\""),
        new("maxInFlight null", Obj(prefix, "\"maxInFlight\":null"), 400, "invalid-body", "\"maxInFlight\""),
        new("maxInFlight 1e400", Obj(prefix, "\"maxInFlight\":1e400"), 400, "invalid-body", "\"maxInFlight\""),
        new("maxInFlight 20 digits", Obj(prefix, "\"maxInFlight\":99999999999999999999"), 400, "invalid-body", "\"maxInFlight\""),
        new("maxInFlight -20 digits", Obj(prefix, "\"maxInFlight\":-99999999999999999999"), 400, "invalid-body", "\"maxInFlight\""),
        new("maxInFlight 400 digits", Obj(prefix, "\"maxInFlight\":" + new string('9', 400)), 400, "invalid-body", "\"maxInFlight\""),
        new("rateLimit number", Obj(prefix, "\"rateLimit\":5"), 400, "invalid-body", "\"rateLimit\""),
        new("rateLimit empty", Obj(prefix, "\"rateLimit\":{}"), 400, "invalid-body", "\"rateLimit\""),
        new("rateLimit perSecond string", Obj(prefix, "\"rateLimit\":{\"perSecond\":\"5\"}"), 400, "invalid-body", "\"rateLimit\""),
        new("rateLimit perSecond null", Obj(prefix, "\"rateLimit\":{\"perSecond\":null}"), 400, "invalid-body", "\"rateLimit\""),
        new("rateLimit perSecond 1e400", Obj(prefix, "\"rateLimit\":{\"perSecond\":1e400}"), 400, "invalid-body", "\"rateLimit\""),
        new("rateLimit extra member", Obj(prefix, "\"rateLimit\":{\"perSecond\":5,\"burst\":10}"), 400, "invalid-body", "\"rateLimit\""),
        new("unknown member", Obj(prefix, "\"secret\":\"mine\""), 400, "invalid-body", "\"secret\""),
        new("unknown member in capitals", Obj(prefix, "\"URL\":\"http://127.0.0.1:9/hook\""), 400, "invalid-body", "\"URL\""),
        new("unknown member with a space", Obj(prefix, "\"max in flight\":1"), 400, "invalid-body", "\"max in flight\""),
        new("unknown member holding deep JSON", Obj(prefix, "\"nope\":{\"a\":[1,{\"b\":[2]}]}"), 400, "invalid-body", "\"nope\""),
        new("lone surrogate in url", Obj(prefix, "\"url\":\"http://127.0.0.1/\\uD800\""), 400, "invalid-body", "surrogate"),
    ];

    [Fact]
    public async Task Create_RefusesEveryHostileBody_WithItsProblem()
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var valid = $"{Url},{Topics},";
        BodyCase[] own =
        [
            new("empty body", "", 400, "invalid-body", "\"url\" is required"),
            new("empty object", "{}", 400, "invalid-body", "\"url\" is required"),
            new("no topics", Obj(Url, ""), 400, "missing-topic"),
            new("after number", Obj(valid, "\"after\":5"), 400, "invalid-body", "\"after\""),
            new("after null", Obj(valid, "\"after\":null"), 400, "invalid-body", "\"after\""),
            new("after garbage", Obj(valid, "\"after\":\"garbage\""), 400, "invalid-cursor"),
            new("bad pattern", Obj(Url, ", \"topics\":[\"bad topic\"]"), 400, "invalid-pattern"),
            new("bad url", "{\"url\":\"ftp://x\"," + Topics + "}", 400, "invalid-url"),
            // A member given twice counts once, the last time, as on publish.
            new("duplicate url, the last one good", "{\"url\":\"ftp://x\"," + Url + "," + Topics + "}", 201),
            new("duplicate topics, the last one bad", Obj(valid, "\"topics\":[\"bad topic\"]"), 400, "invalid-pattern"),
            // Null where null means "none".
            new("types null", Obj(valid, "\"types\":null"), 201),
            new("description null", Obj(valid, "\"description\":null"), 201),
            new("rateLimit null", Obj(valid, "\"rateLimit\":null"), 201),
        ];

        await BodyCases.RunAsync(client, HttpMethod.Post, "v1/webhooks", [.. BodyCases.NotAnObject(), .. SharedMemberCases(valid), .. own]);

        // The refusals created nothing; the four accepted bodies created one endpoint each.
        var list = HubApi.Parse(await (await client.GetAsync("v1/webhooks")).Content.ReadAsStringAsync()).GetProperty("data");
        Assert.Equal(4, list.GetArrayLength());
    }

    [Fact]
    public async Task Patch_RefusesEveryHostileBody_AndChangesNothing()
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(Obj(Url, "," + Topics + ",\"description\":\"kept\""));
        var path = $"v1/webhooks/{webhook.GetProperty("id").GetString()}";
        BodyCase[] own =
        [
            // after is a create member only.
            new("after", """{"after":"earliest"}""", 400, "invalid-body", "\"after\""),
            new("ordered with maxInFlight 5", """{"mode":"ordered","maxInFlight":5}""", 400, "invalid-body", "\"maxInFlight\""),
        ];

        await BodyCases.RunAsync(client, HttpMethod.Patch, path, [.. BodyCases.NotAnObject(), .. SharedMemberCases(""), .. own]);
        Assert.Equal("kept", (await client.GetWebhookAsync(webhook.GetProperty("id").GetString()!)).GetProperty("description").GetString());

        await BodyCases.RunAsync(client, HttpMethod.Patch, path,
        [
            new("empty body", "", 200),
            new("empty object", "{}", 200),
            new("duplicate description", """{"description":"first","description":"second"}""", 200),
        ]);
        Assert.Equal("second", (await client.GetWebhookAsync(webhook.GetProperty("id").GetString()!)).GetProperty("description").GetString());
        await BodyCases.RunAsync(client, HttpMethod.Patch, path, [new("description null", """{"description":null}""", 200)]);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, (await client.GetWebhookAsync(webhook.GetProperty("id").GetString()!)).GetProperty("description").ValueKind);
    }

    [Fact]
    public async Task ReplayAndRecover_RefuseEveryHostileBody_WithTheirProblems()
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(Obj(Url, "," + Topics));
        var id = webhook.GetProperty("id").GetString();

        await BodyCases.RunAsync(client, HttpMethod.Post, $"v1/webhooks/{id}/replay",
        [
            .. BodyCases.NotAnObject(),
            new("empty body", "", 400, "invalid-body", "\"after\" is required"),
            new("after empty", """{"after":""}""", 400, "invalid-body", "\"after\" is required"),
            new("after number", """{"after":5}""", 400, "invalid-body", "\"after\" is required"),
            new("after 1e400", """{"after":1e400}""", 400, "invalid-body", "\"after\" is required"),
            new("after null", """{"after":null}""", 400, "invalid-body", "\"after\" is required"),
            new("after array", """{"after":["earliest"]}""", 400, "invalid-body", "\"after\" is required"),
            new("unknown member", """{"after":"earliest","since":"2026-01-01T00:00:00Z"}""", 400, "invalid-body", "\"since\""),
            new("unknown member in capitals", """{"After":"earliest"}""", 400, "invalid-body", "\"After\""),
            new("garbage cursor", """{"after":"garbage"}""", 400, "invalid-cursor"),
            new("duplicate after, the last one good", """{"after":"garbage","after":"earliest"}""", 200),
            new("earliest", """{"after":"earliest"}""", 200),
        ]);

        await BodyCases.RunAsync(client, HttpMethod.Post, $"v1/webhooks/{id}/recover",
        [
            .. BodyCases.NotAnObject(),
            new("empty body", "", 400, "invalid-body", "\"since\" is required"),
            new("since number", """{"since":1764288000}""", 400, "invalid-body", "\"since\" is required"),
            new("since 20 digits", """{"since":99999999999999999999}""", 400, "invalid-body", "\"since\" is required"),
            new("since null", """{"since":null}""", 400, "invalid-body", "\"since\" is required"),
            new("since object", """{"since":{"$date":"2026-01-01"}}""", 400, "invalid-body", "\"since\" is required"),
            new("since not a time", """{"since":"yesterday"}""", 400, "invalid-time"),
            new("unknown member", """{"since":"2026-01-01T00:00:00Z","after":"earliest"}""", 400, "invalid-body", "\"after\""),
            new("duplicate since, the last one good", """{"since":"yesterday","since":"2026-01-01T00:00:00Z"}""", 200),
            new("a time", """{"since":"2026-01-01T00:00:00Z"}""", 200),
        ]);
    }

    [Theory]
    [InlineData("$.url", "url")]
    [InlineData("$.topics[0]", "topics")]
    [InlineData("$.rateLimit.perSecond", "rateLimit")]
    [InlineData("$['max in flight']", "max in flight")]
    [InlineData("$['it's']", "it's")]
    [InlineData("$['a.b']", "a.b")]
    [InlineData("$", null)]
    [InlineData("$.", null)]
    [InlineData(null, null)]
    public void TheFirstMemberOfAPath_NamesTheCulprit(string? path, string? member) =>
        Assert.Equal(member, JsonRequest.FirstMember(path));
}
