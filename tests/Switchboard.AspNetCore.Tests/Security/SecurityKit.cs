using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Switchboard.AspNetCore.Auth;
using Switchboard.Auth;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Security;

/// <summary>A protected hub for security tests: a token secret and one configured API key per scope.</summary>
internal static class SecurityKit
{
    public const string Secret = "switchboard-test-secret-0123456789-abcdef";

    public const string PublishKey = "sk_test_publish_000000000000000000";
    public const string OrdersPublishKey = "sk_test_orders_publish_00000000000";
    public const string ReaderKey = "sk_test_reader_0000000000000000000";
    public const string AdminKey = "sk_test_admin_00000000000000000000";
    public const string WorkerKey = "sk_test_worker_0000000000000000000";

    /// <summary>Options for a protected hub; <paramref name="more"/> adjusts them further.</summary>
    public static Action<SwitchboardOptions> Protected(Action<SwitchboardOptions>? more = null) => options =>
    {
        options.Auth.JwtSecret = Secret;
        options.Auth.ClockSkew = TimeSpan.Zero; // so a token's expiry is exactly when the test says
        options.Auth.ApiKeys.Add(Key(PublishKey, ApiKeyScopes.Publish));
        options.Auth.ApiKeys.Add(Key(OrdersPublishKey, ApiKeyScopes.Publish, "orders.>"));
        options.Auth.ApiKeys.Add(Key(ReaderKey, ApiKeyScopes.Subscribe, "orders.>"));
        options.Auth.ApiKeys.Add(Key(AdminKey, ApiKeyScopes.Admin));
        options.Auth.ApiKeys.Add(Key(WorkerKey, ApiKeyScopes.Worker));
        more?.Invoke(options);
    };

    public static Task<HubServer> StartAsync(Action<SwitchboardOptions>? more = null) => HubServer.StartAsync(Protected(more));

    private static ConfiguredApiKey Key(string key, string scope, params string[] topics) =>
        new() { Key = key, Scopes = [scope], Topics = [.. topics], Name = key[8..14] };

    /// <summary>An HS256 subscriber token signed with <see cref="Secret"/>.</summary>
    public static string Token(string subject, string[] subscribe, string[]? publish = null, string? presence = null, TimeSpan? lifetime = null) =>
        SubscriberTokens.Create(Secret, subject, subscribe, publish ?? [], presence, lifetime ?? TimeSpan.FromHours(1));

    /// <summary>A client that sends <c>Authorization: Bearer</c> with <paramref name="credential"/> (none when null).</summary>
    public static HttpClient Client(HubServer server, string? credential)
    {
        var client = server.CreateClient();
        if (credential is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }

        return client;
    }

    /// <summary>Asserts a problem+json answer with this status and code; returns the body.</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        return problem;
    }

    public static async Task<HttpResponseMessage> GetAsync(this HttpClient client, string path, string? credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (credential is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }

        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).Within();
    }
}
