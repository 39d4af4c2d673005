using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using static Switchboard.AspNetCore.Tests.Security.SecurityKit;

namespace Switchboard.AspNetCore.Tests.Security;

/// <summary>What the hub accepts as a credential, and the 401 it answers for anything else.</summary>
public sealed class CredentialTests
{
    private const string Grants = """{"subscribe":["chat.>"],"publish":[]}""";

    public static TheoryData<string, string, string> BadTokens()
    {
        var now = DateTimeOffset.UtcNow;
        var exp = now.AddHours(1).ToUnixTimeSeconds();
        return new()
        {
            { "forged (another secret)", SubscriberTokens.Create("not-the-hub-secret-0123456789-abcdefgh", "alice", ["chat.>"], [], null, TimeSpan.FromHours(1)), "invalid-token" },
            { "expired", SubscriberTokens.Create(Secret, "alice", ["chat.>"], [], null, TimeSpan.FromHours(1), now: now.AddHours(-2)), "token-expired" },
            { "alg none, empty signature", Unsigned("""{"alg":"none","typ":"JWT"}""", $$"""{"sub":"alice","exp":{{exp}},"switchboard":{{Grants}}}""") + ".", "invalid-token" },
            { "alg none, no signature part", Unsigned("""{"alg":"none","typ":"JWT"}""", $$"""{"sub":"alice","exp":{{exp}},"switchboard":{{Grants}}}"""), "invalid-token" },
            { "alg none, signature kept", Unsigned("""{"alg":"none","typ":"JWT"}""", $$"""{"sub":"alice","exp":{{exp}},"switchboard":{{Grants}}}""") + "." + HsSignature("x", "y"), "invalid-token" },
            { "HS384 with the right secret", Signed("HS384", $$"""{"sub":"alice","exp":{{exp}},"switchboard":{{Grants}}}"""), "invalid-token" },
            { "payload swapped after signing", Swapped(), "invalid-token" },
            { "not yet valid (nbf)", Signed("HS256", $$"""{"sub":"alice","nbf":{{now.AddHours(1).ToUnixTimeSeconds()}},"exp":{{now.AddHours(2).ToUnixTimeSeconds()}},"switchboard":{{Grants}}}"""), "invalid-token" },
            { "no exp", Signed("HS256", $$"""{"sub":"alice","switchboard":{{Grants}}}"""), "invalid-token" },
            { "no sub", Signed("HS256", $$"""{"exp":{{exp}},"switchboard":{{Grants}}}"""), "invalid-token" },
            { "switchboard claim not an object", Signed("HS256", $$"""{"sub":"alice","exp":{{exp}},"switchboard":"chat.>"}"""), "invalid-token" },
            { "invalid topic pattern in the claim", Signed("HS256", $$$"""{"sub":"alice","exp":{{{exp}}},"switchboard":{"subscribe":["chat..x"]}}"""), "invalid-token" },
            { "presence name with a newline", Signed("HS256", $$$"""{"sub":"alice","exp":{{{exp}}},"switchboard":{"subscribe":["chat.>"],"presence":"a\nb"}}"""), "invalid-token" },
            { "garbage", "not-a-token", "invalid-token" },
            { "three garbage parts", "abc.def.ghi", "invalid-token" },
            { "unknown API key", "sk_this_key_does_not_exist_0000000", "invalid-api-key" },
        };
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadCredential_Is401_InTheHeader_AndInTheQuery(string what, string token, string code)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var header = await AssertProblemAsync(await client.GetAsync("v1/events?topic=chat.room1", token), HttpStatusCode.Unauthorized, code);
        Assert.DoesNotContain(token, header.GetRawText()); // the answer never echoes the credential
        using var query = await client.GetAsync($"v1/stream?topic=chat.room1&access_token={Uri.EscapeDataString(token)}", credential: null);
        await AssertProblemAsync(query, HttpStatusCode.Unauthorized, code);
        Assert.Contains("Bearer", query.Headers.WwwAuthenticate.ToString());
        Assert.NotNull(what);
    }

    [Fact]
    public async Task WrongAuthorizationScheme_Is401()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/events?topic=chat.room1");
        request.Headers.TryAddWithoutValidation("Authorization", "Basic YWxpY2U6c2VjcmV0");
        await AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.Unauthorized, "invalid-credential");
    }

    [Fact]
    public async Task NoCredential_OnAProtectedHub_Is401_WithTheChallenge()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        using var response = await client.PostAsync(HubApi.EventsPath("orders"), """{"data":{}}""");
        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("Bearer realm=\"switchboard\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task IssuerAndAudience_AreCheckedWhenConfigured()
    {
        await using var server = await StartAsync(o =>
        {
            o.Auth.Issuer = "https://app.example.com";
            o.Auth.Audience = "switchboard";
        });
        using var client = server.CreateClient();
        string Issued(string? issuer, string? audience) =>
            SubscriberTokens.Create(Secret, "alice", ["chat.>"], [], null, TimeSpan.FromHours(1), issuer, audience);

        await AssertProblemAsync(await client.GetAsync("v1/events?topic=chat.room1", Issued("https://evil.example.com", "switchboard")), HttpStatusCode.Unauthorized, "invalid-token");
        await AssertProblemAsync(await client.GetAsync("v1/events?topic=chat.room1", Issued("https://app.example.com", "another-service")), HttpStatusCode.Unauthorized, "invalid-token");
        await AssertProblemAsync(await client.GetAsync("v1/events?topic=chat.room1", Issued(null, null)), HttpStatusCode.Unauthorized, "invalid-token");
        using var ok = await client.GetAsync("v1/events?topic=chat.room1", Issued("https://app.example.com", "switchboard"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Rs256_VerifiedByAPublicKeyPem_AndTheKeyCannotBeUsedAsAnHmacSecret()
    {
        using var folder = new TempDirectory();
        using var rsa = RSA.Create(2048);
        var pemPath = Path.Combine(folder.Path, "public.pem");
        var pem = rsa.ExportSubjectPublicKeyInfoPem();
        await File.WriteAllTextAsync(pemPath, pem);
        await using var server = await HubServer.StartAsync(o => o.Auth.JwtPublicKeyPath = pemPath);
        using var client = server.CreateClient();

        var token = Create(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);
        using var ok = await client.GetAsync("v1/events?topic=chat.room1", token);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        // The classic confusion attack: HS256 "signed" with the public key's text. Only RS256/ES256 are allowed here.
        var confused = Create(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(pem)), SecurityAlgorithms.HmacSha256);
        await AssertProblemAsync(await client.GetAsync("v1/events?topic=chat.room1", confused), HttpStatusCode.Unauthorized, "invalid-token");

        using var otherKey = RSA.Create(2048);
        await AssertProblemAsync(await client.GetAsync("v1/events?topic=chat.room1", Create(new RsaSecurityKey(otherKey), SecurityAlgorithms.RsaSha256)),
            HttpStatusCode.Unauthorized, "invalid-token");
    }

    [Fact]
    public async Task Es256_VerifiedByAJwksFile_ByKid()
    {
        using var folder = new TempDirectory();
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parameters = ec.ExportParameters(false);
        var jwksPath = Path.Combine(folder.Path, "jwks.json");
        await File.WriteAllTextAsync(jwksPath, JsonSerializer.Serialize(new
        {
            keys = new[]
            {
                new Dictionary<string, string>
                {
                    ["kty"] = "EC", ["crv"] = "P-256", ["kid"] = "key-1", ["use"] = "sig", ["alg"] = "ES256",
                    ["x"] = Base64UrlEncoder.Encode(parameters.Q.X), ["y"] = Base64UrlEncoder.Encode(parameters.Q.Y),
                },
            },
        }));
        await using var server = await HubServer.StartAsync(o => o.Auth.JwksPath = jwksPath);
        using var client = server.CreateClient();
        var token = Create(new ECDsaSecurityKey(ec) { KeyId = "key-1" }, SecurityAlgorithms.EcdsaSha256);
        using var ok = await client.GetAsync("v1/events?topic=chat.room1", token);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await AssertProblemAsync(await client.GetAsync("v1/events?topic=orders", token), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task ApiKeys_AreLimitedToTheirScopesAndTopics()
    {
        await using var server = await StartAsync();
        using var orders = Client(server, OrdersPublishKey);
        await orders.PublishAsync("orders.eu");
        await AssertProblemAsync(await orders.PostAsync(HubApi.EventsPath("chat.room1"), """{"data":{}}"""), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await orders.PostAsync("v1/events", """[{"topic":"orders.us","data":{}},{"topic":"billing","data":{}}]"""), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await orders.GetAsync("v1/events?topic=orders.eu", OrdersPublishKey), HttpStatusCode.Forbidden, "forbidden"); // publish does not read

        using var reader = Client(server, ReaderKey);
        Assert.Single((await reader.PollAsync("topic=orders.>&after=earliest")).Events);
        await AssertProblemAsync(await reader.GetAsync("v1/events?topic=chat.room1", ReaderKey), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await reader.PostAsync(HubApi.EventsPath("orders.eu"), """{"data":{}}"""), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task KeysApi_CreatesAWorkingKey_ShownOnce_AndRevokesIt()
    {
        await using var server = await StartAsync();
        using var admin = Client(server, AdminKey);
        using var created = await admin.PostAsync("v1/keys", """{"scopes":["publish"],"topics":["orders.>"],"name":"billing"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var key = body.GetProperty("key").GetString()!;
        var id = body.GetProperty("id").GetString()!;
        Assert.StartsWith("sk_", key);

        using var publisher = Client(server, key);
        await publisher.PublishAsync("orders.eu");
        var listed = await admin.GetStringAsync("v1/keys");
        Assert.Contains(id, listed);
        Assert.DoesNotContain(key, listed);

        await AssertProblemAsync(await publisher.PostAsync("v1/keys", """{"scopes":["admin"]}"""), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await admin.PostAsync("v1/keys", """{"scopes":["root"]}"""), HttpStatusCode.BadRequest, "invalid-scopes");

        using var revoked = await admin.DeleteAsync($"v1/keys/{id}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await AssertProblemAsync(await publisher.PostAsync(HubApi.EventsPath("orders.eu"), """{"data":{}}"""), HttpStatusCode.Unauthorized, "invalid-api-key");
    }

    [Fact]
    public async Task PublicTopics_AreReadableWithoutCredentials_AndNothingElseIs()
    {
        await using var server = await StartAsync(o => o.Auth.PublicTopics.Add("public.>"));
        using var publisher = Client(server, PublishKey);
        await publisher.PublishAsync("public.news", """{"data":{"headline":"hi"}}""");
        using var anonymous = server.CreateClient();
        Assert.Single((await anonymous.PollAsync("topic=public.>&after=earliest")).Events);
        await using (var stream = await SseReader.OpenAsync(anonymous, "v1/stream?topic=public.news&after=earliest"))
        {
            Assert.Contains("headline", (await stream.NextAsync())!.Value.Data);
        }

        await AssertProblemAsync(await anonymous.GetAsync("v1/events?topic=orders", credential: null), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await anonymous.GetAsync("v1/events?topic=>", credential: null), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await anonymous.PostAsync(HubApi.EventsPath("public.news"), """{"data":{}}"""), HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task OpenMode_AllowsEverythingOnLoopback_UntilTheFirstKeyIsCreated()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishAsync("orders");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/webhooks")).StatusCode);

        using var created = await client.PostAsync("v1/keys", """{"scopes":["publish","admin"]}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;

        await AssertProblemAsync(await client.PostAsync(HubApi.EventsPath("orders"), """{"data":{}}"""), HttpStatusCode.Unauthorized, "unauthorized");
        using var keyed = Client(server, key);
        await keyed.PublishAsync("orders");
    }

    private static string Create(SecurityKey key, string algorithm) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Claims = new Dictionary<string, object> { ["sub"] = "alice", ["switchboard"] = new Dictionary<string, object> { ["subscribe"] = new List<string> { "chat.>" } } },
        Expires = DateTime.UtcNow.AddHours(1),
        SigningCredentials = new SigningCredentials(key, algorithm),
    });

    private static string Unsigned(string header, string payload) =>
        Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(header)) + "." + Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(payload));

    /// <summary>A token signed by hand with the hub's secret, so claims the library would not write can be tested.</summary>
    private static string Signed(string algorithm, string payload)
    {
        var unsigned = Unsigned($$"""{"alg":"{{algorithm}}","typ":"JWT"}""", payload);
        var key = Encoding.UTF8.GetBytes(Secret);
        var signature = algorithm == "HS384" ? HMACSHA384.HashData(key, Encoding.ASCII.GetBytes(unsigned)) : HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(unsigned));
        return unsigned + "." + Base64UrlEncoder.Encode(signature);
    }

    private static string HsSignature(string header, string payload) =>
        Base64UrlEncoder.Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.ASCII.GetBytes(header + "." + payload)));

    /// <summary>A valid token's signature on a payload that grants more.</summary>
    private static string Swapped()
    {
        var parts = Token("alice", ["chat.room1"]).Split('.');
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        parts[1] = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes($$$"""{"sub":"alice","exp":{{{exp}}},"switchboard":{"subscribe":[">"]}}"""));
        return string.Join('.', parts);
    }
}
