using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Switchboard.Auth;
using Switchboard.Testing;

namespace Switchboard.Storage.Redis.Tests;

/// <summary>API keys live in Redis: a key created through one node works on every node, and so does its revocation.</summary>
public sealed class MultiNodeAuthTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const string AdminKey = "sk_test_multinode_admin_00000000000";

    [Fact]
    public async Task KeyCreatedOnNode1_PublishesOnNode2_AndRevokedOnNode3_StopsEverywhere()
    {
        await using var nodes = await Nodes.StartAsync(redis.Server, configure: o =>
            o.Auth.ApiKeys.Add(new ConfiguredApiKey { Key = AdminKey, Scopes = [ApiKeyScopes.Admin] }));
        using var admin1 = Client(nodes[1], AdminKey);
        using var created = await admin1.PostAsync("v1/keys", new StringContent("""{"scopes":["publish"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var key = body.GetProperty("key").GetString()!;

        using var publisher2 = Client(nodes[2], key);
        using var published = await publisher2.PostAsync("v1/topics/orders/events", new StringContent("""{"data":1}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, published.StatusCode);

        using var admin3 = Client(nodes[3], AdminKey);
        Assert.Contains(body.GetProperty("id").GetString()!, await admin3.GetStringAsync("v1/keys"));
        using var revoked = await admin3.DeleteAsync($"v1/keys/{body.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        // Node 2 trusted the key it found for up to 10 s; after that the revocation holds there too.
        await Waiting.UntilAsync(() =>
        {
            using var attempt = publisher2.PostAsync("v1/topics/orders/events", new StringContent("""{"data":2}""", Encoding.UTF8, "application/json")).GetAwaiter().GetResult();
            return attempt.StatusCode == HttpStatusCode.Unauthorized;
        }, "node 2 to refuse the revoked key", TimeSpan.FromSeconds(30));
    }

    private static HttpClient Client(HubServer server, string key)
    {
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}
