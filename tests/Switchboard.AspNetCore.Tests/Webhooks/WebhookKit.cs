using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>Helpers for webhook tests: fast options, the endpoints API, and signature checks by an independent library.</summary>
internal static class WebhookKit
{
    public static readonly TimeSpan Quick = TimeSpan.FromMilliseconds(50);

    /// <summary>Loopback allowed, http allowed, a compressed retry schedule without jitter, then <paramref name="more"/>.</summary>
    public static Action<SwitchboardOptions> Options(Action<WebhookOptions>? more = null) => o =>
    {
        o.Webhooks.AllowHttp = true;
        o.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
        o.Webhooks.RetrySchedule = [Quick, Quick, Quick];
        o.Webhooks.RetryJitter = 0;
        more?.Invoke(o.Webhooks);
    };

    public static async Task<JsonElement> CreateWebhookAsync(this HttpClient client, string json)
    {
        using var response = await client.PostAsync("v1/webhooks", json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {text}");
        return HubApi.Parse(text);
    }

    /// <summary>A webhook to <paramref name="receiver"/> for <paramref name="topic"/>, plus any extra members (a JSON fragment).</summary>
    public static Task<JsonElement> CreateWebhookAsync(this HttpClient client, WebhookReceiver receiver, string topic, string extra = "") =>
        client.CreateWebhookAsync($$"""{"url":"{{receiver.Url}}","topics":["{{topic}}"]{{(extra.Length > 0 ? "," + extra : "")}}}""");

    public static async Task<JsonElement> GetWebhookAsync(this HttpClient client, string id)
    {
        using var response = await client.GetAsync($"v1/webhooks/{id}").Within();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        return HubApi.Parse(text);
    }

    public static async Task<JsonElement> PostWebhookAsync(this HttpClient client, string path, string body = "{}", HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await client.PostAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected} from {path}, got {(int)response.StatusCode}: {text}");
        return HubApi.Parse(text);
    }

    public static async Task<IReadOnlyList<JsonElement>> AttemptsAsync(this HttpClient client, string id, string query = "")
    {
        using var response = await client.GetAsync($"v1/webhooks/{id}/attempts{query}").Within();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        return [.. HubApi.Parse(text).GetProperty("data").EnumerateArray()];
    }

    /// <summary>Waits until the endpoint's status document satisfies <paramref name="condition"/>; returns it.</summary>
    public static async Task<JsonElement> WaitForWebhookAsync(this HttpClient client, string id, Func<JsonElement, bool> condition, string what, TimeSpan? timeout = null)
    {
        JsonElement last = default;
        var deadline = DateTime.UtcNow + (timeout ?? Waiting.DefaultTimeout);
        while (true)
        {
            last = await client.GetWebhookAsync(id);
            if (condition(last))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}; last state: {last}");
            }

            await Task.Delay(20);
        }
    }

    public static string Id(this JsonElement webhook) => webhook.GetProperty("id").GetString()!;

    public static string Secret(this JsonElement webhook) => webhook.GetProperty("secret").GetString()!;

    public static long Counts(this JsonElement webhook, string name) => webhook.GetProperty("counts").GetProperty(name).GetInt64();

    /// <summary>
    /// Throws unless the StandardWebhooks package accepts the delivery under <paramref name="secret"/>. The package
    /// (1.1.2) only compares the first entry of a multi-signature header (measured: a header "v1,A v1,B" verifies
    /// under A's secret but not B's), although the specification makes it a space-delimited list; so each entry is
    /// offered to it on its own, and the delivery verifies when any entry does, as the specification says.
    /// </summary>
    public static void AssertVerifies(this ReceivedWebhook delivery, string secret)
    {
        WebhookVerificationException? last = null;
        foreach (var signature in delivery.Signature.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var headers = new HeaderDictionary
            {
                ["webhook-id"] = delivery.Id,
                ["webhook-timestamp"] = delivery.Timestamp,
                ["webhook-signature"] = signature,
            };
            try
            {
                new StandardWebhook(secret).Verify(Encoding.UTF8.GetString(delivery.Body), headers);
                return;
            }
            catch (WebhookVerificationException ex)
            {
                last = ex;
            }
        }

        throw last ?? new WebhookVerificationException("No signature in the header");
    }

    /// <summary>The distinct seqs received with a 2xx answer are not known to the receiver; this counts seqs seen.</summary>
    public static IReadOnlyList<long> SeqsOf(this WebhookReceiver receiver, string topic) =>
        [.. receiver.Received.Where(d => d.Topic == topic).Select(d => d.Seq)];
}
