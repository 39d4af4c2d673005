using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Config;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Config;

/// <summary>Helpers over the config API; every call goes over a real socket.</summary>
internal static class ConfigApi
{
    public static ConfigWaiters Waiters(this HubServer server) => server.App.Services.GetRequiredService<ConfigWaiters>();

    public static async Task<HttpResponseMessage> SendConfigAsync(this HttpClient client, HttpMethod method, string app, string? body, string contentType = "application/json",
        string? ifMatch = null, string? ifNoneMatch = null)
    {
        using var request = new HttpRequestMessage(method, $"v1/config/{app}");
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType);
        }

        return await client.SendAsync(request).Within();
    }

    /// <summary>PUTs settings and asserts success; returns <c>{app, version, values}</c>.</summary>
    public static async Task<JsonElement> PutConfigAsync(this HttpClient client, string app, string values) =>
        await ExpectVersionAsync(await client.SendConfigAsync(HttpMethod.Put, app, values));

    public static async Task<JsonElement> PatchConfigAsync(this HttpClient client, string app, string patch) =>
        await ExpectVersionAsync(await client.SendConfigAsync(HttpMethod.Patch, app, patch, "application/merge-patch+json"));

    public static async Task<JsonElement> GetConfigAsync(this HttpClient client, string app) =>
        await ExpectVersionAsync(await client.GetAsync($"v1/config/{app}").Within());

    public static async Task<JsonElement> ExpectVersionAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, $"Expected 200/201, got {(int)response.StatusCode}: {text}");
            return HubApi.Parse(text);
        }
    }

    public static long Version(this JsonElement config) => config.GetProperty("version").GetInt64();

    public static string Values(this JsonElement config) => config.GetProperty("values").GetRawText();
}
