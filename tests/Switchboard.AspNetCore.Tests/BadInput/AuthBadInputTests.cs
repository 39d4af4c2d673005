using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Tests.Security;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Auth;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.BadInput;

/// <summary>The bad-input server, protected: a token secret, the security kit's keys, and one key that seeds and checks.</summary>
public sealed class ProtectedBadInputServer : BadInputServer
{
    public const string SeedKey = "sk_test_badinput_seed_0000000000000";

    protected override void Configure(SwitchboardOptions options)
    {
        base.Configure(options);
        SecurityKit.Protected()(options);
        options.Auth.ApiKeys.Add(new ConfiguredApiKey { Key = SeedKey, Scopes = [ApiKeyScopes.Publish, ApiKeyScopes.Subscribe, ApiKeyScopes.Admin] });
    }

    protected override HttpClient CreateClient(HubServer server) => SecurityKit.Client(server, SeedKey);
}

/// <summary>
/// Hostile credentials against every kind of endpoint of a protected hub: forged, expired, unsigned (<c>alg: none</c>)
/// and tampered tokens, tokens for other topics, unknown keys, keys without the scope. Each gets its 401 or 403
/// problem, and the seed events stay intact.
/// </summary>
public sealed class AuthBadInputTests(ProtectedBadInputServer hub) : IClassFixture<ProtectedBadInputServer>
{
    private static readonly (string Name, string Method, string Path, string? Body, bool Read)[] Targets =
    [
        ("short poll", "GET", "v1/events?topic=seed.intact", null, true),
        ("long poll", "GET", "v1/events?topic=seed.intact&wait=5", null, true),
        ("SSE", "GET", "v1/stream?topic=seed.intact", null, true),
        ("publish", "POST", "v1/topics/seed.intact/events", """{"data":"forged"}""", false),
        ("batch", "POST", "v1/events", """[{"topic":"seed.intact","data":"forged"}]""", false),
        ("webhooks list", "GET", "v1/webhooks", null, false),
        ("webhook create", "POST", "v1/webhooks", """{"url":"https://93.184.215.14/hook","topics":["seed.intact"]}""", false),
        ("job submit", "POST", "v1/jobs", """{"type":"badinput","input":{}}""", false),
        ("job claim", "POST", "v1/queues/badinput/claim", "{}", false),
        ("config read", "GET", "v1/config/badinput", null, true),
        ("config write", "PUT", "v1/config/badinput", """{"a":2}""", false),
        ("keys create", "POST", "v1/keys", """{"scopes":["admin"]}""", false),
    ];

    private static readonly Dictionary<string, (string Credential, string Code)> BadCredentials = BuildBadCredentials();

    private static Dictionary<string, (string, string)> BuildBadCredentials()
    {
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        var claims = $$$"""{"sub":"mallory","exp":{{{exp}}},"switchboard":{"subscribe":[">"],"publish":[">"]}}""";
        string Encode(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var unsigned = Encode("""{"alg":"none","typ":"JWT"}""") + "." + Encode(claims);
        var valid = SecurityKit.Token("mallory", ["chat.room1"]).Split('.');
        var forgedHeader = Encode("""{"alg":"HS256","typ":"JWT"}""") + "." + Encode(claims);
        var forgedSignature = Base64UrlEncoder.Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes("guessed-secret-guessed-secret-guessed"), Encoding.ASCII.GetBytes(forgedHeader)));
        var criticalHeader = Encode("""{"alg":"HS256","typ":"JWT","crit":["urn:example:must-understand"],"urn:example:must-understand":true}""") + "." + Encode(claims);
        var criticalSignature = Base64UrlEncoder.Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes(SecurityKit.Secret), Encoding.ASCII.GetBytes(criticalHeader)));
        return new()
        {
            ["critical header extension under a valid signature"] = (criticalHeader + "." + criticalSignature, "invalid-token"),
            ["forged signature"] = (forgedHeader + "." + forgedSignature, "invalid-token"),
            ["expired token"] = (SubscriberTokens.Create(SecurityKit.Secret, "mallory", [">"], [">"], null, TimeSpan.FromMinutes(5), now: DateTimeOffset.UtcNow.AddHours(-1)), "token-expired"),
            ["alg none"] = (unsigned + ".", "invalid-token"),
            ["alg none without signature"] = (unsigned, "invalid-token"),
            ["claims swapped under a valid signature"] = (valid[0] + "." + Encode(claims) + "." + valid[2], "invalid-token"),
            ["truncated token"] = (string.Join('.', valid)[..^5], "invalid-token"),
            ["unknown API key"] = ("sk_guessed_key_000000000000000000000", "invalid-api-key"),
            ["API key with a space"] = ("sk_test_publish_0000 0000000000000", "invalid-api-key"),
        };
    }

    public static TheoryData<string, string> BadCredentialCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var credential in BadCredentials.Keys)
        {
            foreach (var target in Targets)
            {
                data.Add(credential, target.Name);
            }
        }

        return data;
    }

    public static TheoryData<string> TargetNames() => [.. Targets.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(BadCredentialCases))]
    public async Task BadCredential_Is401_Everywhere(string credential, string target)
    {
        var (value, code) = BadCredentials[credential];
        using var response = await SendAsync(target, value);
        await SecurityKit.AssertProblemAsync(response, System.Net.HttpStatusCode.Unauthorized, code);
        await hub.AssertStillServingAsync($"{credential} on {target}");
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public async Task TokenForAnotherTopic_Is403_Everywhere(string target)
    {
        using var response = await SendAsync(target, SecurityKit.Token("alice", ["chat.room1"], ["chat.room1"]));
        await SecurityKit.AssertProblemAsync(response, System.Net.HttpStatusCode.Forbidden, "forbidden");
        await hub.AssertStillServingAsync($"a chat.room1 token on {target}");
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public async Task NoCredential_Is401_Everywhere(string target)
    {
        using var response = await SendAsync(target, null);
        await SecurityKit.AssertProblemAsync(response, System.Net.HttpStatusCode.Unauthorized, "unauthorized");
        await hub.AssertStillServingAsync($"no credential on {target}");
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public async Task KeyWithoutTheScope_Is403(string target)
    {
        // The worker key may only work jobs: everything here needs another scope.
        var key = target == "job claim" ? SecurityKit.ReaderKey : SecurityKit.WorkerKey;
        using var response = await SendAsync(target, key);
        await SecurityKit.AssertProblemAsync(response, System.Net.HttpStatusCode.Forbidden, "forbidden");
        await hub.AssertStillServingAsync($"a key without the scope on {target}");
    }

    [Theory]
    [InlineData("forged signature")]
    [InlineData("expired token")]
    [InlineData("alg none")]
    [InlineData("critical header extension under a valid signature")]
    [InlineData("unknown API key")]
    public async Task WebSocket_BadQueryCredential_IsRefusedBeforeTheUpgrade(string credential)
    {
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await HubSocket.RefusedStatusAsync(hub.Server, accessToken: BadCredentials[credential].Credential));
        await hub.AssertStillServingAsync($"{credential} on the WebSocket handshake");
    }

    [Theory]
    [InlineData("forged signature", "invalid_token")]
    [InlineData("expired token", "token_expired")]
    [InlineData("alg none", "invalid_token")]
    [InlineData("claims swapped under a valid signature", "invalid_token")]
    [InlineData("critical header extension under a valid signature", "invalid_token")]
    public async Task WebSocket_RefreshWithABadToken_IsAnError(string credential, string code)
    {
        await using var socket = await HubSocket.ConnectAsync(hub.Server, accessToken: SecurityKit.Token("alice", ["chat.room1"]));
        var error = await socket.RequestAsync($$"""{"op":"refresh","id":"r","token":"{{BadCredentials[credential].Credential}}"}""");
        Assert.Equal(code, error.Str("code"));
        Assert.Equal("forbidden", (await socket.RequestAsync("""{"op":"subscribe","id":"s","topics":["seed.intact"]}""")).Str("code"));
        await hub.AssertStillServingAsync($"refresh with {credential}");
    }

    // "Never expires" as an exp: the last second of year 9999. The hub adds its clock skew to it, which must not overflow.
    private static string TokenUntilYear9999(string subject, string[] topics) =>
        SecurityKit.Token(subject, topics, lifetime: new DateTimeOffset(9999, 12, 31, 23, 59, 59, TimeSpan.Zero) - DateTimeOffset.UtcNow);

    [Theory]
    [InlineData("short poll")]
    [InlineData("long poll")]
    [InlineData("SSE")]
    public async Task TokenThatNeverExpires_IsAccepted(string target)
    {
        using var response = await SendAsync(target, TokenUntilYear9999("alice", ["seed.intact"]));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        await hub.AssertStillServingAsync($"a year-9999 token on {target}");
    }

    [Fact]
    public async Task WebSocket_TokenThatNeverExpires_OpensAndRefreshes()
    {
        await using var socket = await HubSocket.ConnectAsync(hub.Server, accessToken: TokenUntilYear9999("alice", ["seed.intact"]));
        Assert.Equal("ack", (await socket.SubscribeAsync("s", ["seed.intact"], after: "earliest")).Op());
        var refreshed = await socket.RequestAsync($$"""{"op":"refresh","id":"r","token":"{{TokenUntilYear9999("alice", ["seed.intact"])}}"}""");
        Assert.Equal("ack", refreshed.Op());
        Assert.Equal("pong", (await socket.RequestAsync("""{"op":"ping","id":"p"}""")).Op());
    }

    private async Task<HttpResponseMessage> SendAsync(string targetName, string? credential)
    {
        var target = Targets.Single(t => t.Name == targetName);
        using var client = hub.Server.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(target.Method), target.Path);
        if (target.Body is not null)
        {
            request.Content = HubApi.Json(target.Body);
        }

        if (credential is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }

        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).Within();
    }
}
