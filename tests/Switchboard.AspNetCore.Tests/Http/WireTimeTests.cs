using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.Webhooks;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Http;

/// <summary>Every time the API writes has one form, the events' own: UTC, milliseconds, <c>Z</c>.</summary>
public sealed partial class WireTimeTests
{
    [Fact]
    public async Task TimesInConfigJobsWebhooksKeysAndEvents_AreAllUtcMillisecondsWithZ()
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var documents = new List<JsonElement>();

        documents.Add(await OkAsync(await client.PutAsync("v1/config/shop", new StringContent("""{"a":1}""", System.Text.Encoding.UTF8, "application/json"))));
        documents.Add(await OkAsync(await client.PostAsync("v1/jobs", """{"type":"t"}""")));
        var webhook = await client.CreateWebhookAsync("""{"url":"http://127.0.0.1:9/hook","topics":["orders.>"]}""");
        documents.Add(webhook);
        documents.Add(await client.PostWebhookAsync($"v1/webhooks/{webhook.GetProperty("id").GetString()}/rotate-secret"));
        documents.Add(await OkAsync(await client.PostAsync("v1/topics/orders.1/events", """{"type":"t","data":1}""")));
        documents.Add(await OkAsync(await client.GetAsync("v1/events?topic=orders.1&after=earliest")));
        documents.Add(await OkAsync(await client.PostAsync("v1/keys", """{"scopes":["publish"],"topics":["a"]}""")));

        var times = documents.SelectMany(d => Times(d, "")).ToList();
        Assert.Contains(times, t => t.Path.EndsWith("updatedAt", StringComparison.Ordinal));
        Assert.Contains(times, t => t.Path.EndsWith("createdAt", StringComparison.Ordinal));
        Assert.Contains(times, t => t.Path.EndsWith("previousSecretExpiresAt", StringComparison.Ordinal));
        Assert.Contains(times, t => t.Path.EndsWith("time", StringComparison.Ordinal));
        Assert.All(times, t => Assert.True(WireForm().IsMatch(t.Value), $"{t.Path} is {t.Value}"));
    }

    private static async Task<JsonElement> OkAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
            return HubApi.Parse(text);
        }
    }

    /// <summary>Every string member named like a time (<c>…At</c>, <c>time</c>, <c>timestamp</c>), with its path.</summary>
    private static IEnumerable<(string Path, string Value)> Times(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            return element.EnumerateArray().SelectMany((item, i) => Times(item, $"{path}[{i}]"));
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            return [];
        }

        return element.EnumerateObject().SelectMany(p =>
            p.Value.ValueKind == JsonValueKind.String && (p.Name.EndsWith("At", StringComparison.Ordinal) || p.Name is "time" or "timestamp")
                ? [($"{path}.{p.Name}", p.Value.GetString()!)]
                : Times(p.Value, $"{path}.{p.Name}"));
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")]
    private static partial Regex WireForm();
}
