using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Security;

/// <summary>
/// <c>POST /v1/keys</c> with its body as a DTO: unknown members, wrong types, nulls, deep nesting, huge numbers,
/// duplicate members and non-object bodies each get their 400, never a 5xx, and none of them creates a key.
/// </summary>
public sealed class KeyRequestBodyTests
{
    [Fact]
    public async Task CreateKey_RefusesEveryHostileBody_WithItsProblem()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();

        await BodyCases.RunAsync(client, HttpMethod.Post, "v1/keys",
        [
            .. BodyCases.NotAnObject(),
            new("empty body", "", 400, "malformed-json"),
            new("empty object", "{}", 400, "invalid-scopes"),
            new("no scopes", """{"scopes":[]}""", 400, "invalid-scopes"),
            new("unknown scope", """{"scopes":["root"]}""", 400, "invalid-scopes"),
            new("scopes string", """{"scopes":"admin"}""", 400, "invalid-body", "\"scopes\""),
            new("scopes of numbers", """{"scopes":[1]}""", 400, "invalid-body", "\"scopes\""),
            new("scopes with null", """{"scopes":[null]}""", 400, "invalid-body", "\"scopes\""),
            new("scopes null", """{"scopes":null}""", 400, "invalid-body", "\"scopes\""),
            new("scopes nested", """{"scopes":[["admin"]]}""", 400, "invalid-body", "\"scopes\""),
            new("101 scopes", "{\"scopes\":[" + string.Join(",", Enumerable.Repeat("\"admin\"", 101)) + "]}", 400, "invalid-body", "\"scopes\""),
            new("topics of huge numbers", """{"scopes":["admin"],"topics":[1e400]}""", 400, "invalid-body", "\"topics\""),
            new("topics null", """{"scopes":["admin"],"topics":null}""", 400, "invalid-body", "\"topics\""),
            // It was a 201 for a key that may publish and read every topic.
            new("topics empty", """{"scopes":["publish","subscribe"],"topics":[]}""", 400, "invalid-body", "every topic"),
            new("bad topic pattern", """{"scopes":["publish"],"topics":["a..b"]}""", 400, "invalid-topic"),
            new("name number", """{"scopes":["admin"],"name":99999999999999999999}""", 400, "invalid-body", "\"name\""),
            new("name null", """{"scopes":["admin"],"name":null}""", 400, "invalid-body", "\"name\""),
            new("name 101 characters", $$"""{"scopes":["admin"],"name":"{{new string('n', 101)}}"}""", 400, "invalid-body", "\"name\""),
            new("unknown member", """{"scopes":["admin"],"expires":"never"}""", 400, "invalid-body", "\"expires\""),
            new("unknown member in capitals", """{"Scopes":["admin"]}""", 400, "invalid-body", "\"Scopes\""),
            new("lone surrogate in the name", """{"scopes":["admin"],"name":"\uD800"}""", 400, "invalid-body", "surrogate"),
        ]);

        // Nothing above created a key, so the hub is still open; the first key created protects it, so it comes last.
        using (var list = await client.GetAsync("v1/keys").Within())
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            Assert.Empty(HubApi.Parse(await list.Content.ReadAsStringAsync()).GetProperty("keys").EnumerateArray());
        }

        // A member given twice counts once, the last time, as on publish.
        using var created = await client.PostAsync("v1/keys", """{"scopes":["root"],"scopes":["admin"],"name":"x","name":"ops"}""");
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        Assert.Equal("ops", HubApi.Parse(text).GetProperty("name").GetString());
    }
}
