using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

/// <summary>The README's webhook walk-through, with the real executables: serve, webhook listen, curl-like calls.</summary>
public sealed class WebhookReadmeFlowTests
{
    [Fact]
    public async Task ListenerStoppedAndRestarted_GetsEveryEventVerified_AfterTheRetry()
    {
        using var directory = new TempDirectory();
        // The configuration keys exactly as the README and operators write them, from the environment.
        var environment = new Dictionary<string, string>
        {
            ["Switchboard__Webhooks__AllowedNetworks__0"] = "127.0.0.0/8",
            ["Switchboard__Webhooks__AllowHttp"] = "true",
            ["Switchboard__Webhooks__RetrySchedule__0"] = "00:00:00.300",
            ["Switchboard__Webhooks__RetrySchedule__1"] = "00:00:01",
            ["Switchboard__Webhooks__RetrySchedule__2"] = "00:00:01",
            ["Switchboard__Webhooks__RetrySchedule__3"] = "00:00:01",
            ["Switchboard__Webhooks__CircuitBreakDuration"] = "00:00:01",
        };
        await using var server = await ServerProcess.StartAsync(directory.Path, environment, "--urls", "http://127.0.0.1:0");
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var port = FreePort();

        var created = await PostJsonAsync(http, "v1/webhooks", $$"""{"url":"http://127.0.0.1:{{port}}/","topics":["orders"]}""", HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("secret").GetString()!;

        await using (var listener = await WebhookListenProcess.StartAsync("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--secret", secret))
        {
            await PostJsonAsync(http, "v1/topics/orders/events", """{"type":"order.created","data":{"id":1}}""", HttpStatusCode.Created);
            await listener.LineAsync(line => line.StartsWith("verified ", StringComparison.Ordinal) && line.Contains("seq=1", StringComparison.Ordinal), "the first event, verified");
        }

        // The listener is gone: these deliveries fail and wait for their retries.
        await PostJsonAsync(http, "v1/topics/orders/events", """{"type":"order.created","data":{"id":2}}""", HttpStatusCode.Created);
        await PostJsonAsync(http, "v1/topics/orders/events", """{"type":"order.created","data":{"id":3}}""", HttpStatusCode.Created);
        await Waiting.UntilAsync(() => FailedAttempts(http, id) >= 2, "failed attempts while the listener is down");

        await using (var listener = await WebhookListenProcess.StartAsync("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--secret", secret))
        {
            await listener.LineAsync(line => line.StartsWith("verified ", StringComparison.Ordinal) && line.Contains("seq=2", StringComparison.Ordinal), "event 2 after the retry");
            await listener.LineAsync(line => line.StartsWith("verified ", StringComparison.Ordinal) && line.Contains("seq=3", StringComparison.Ordinal), "event 3 after the retry");
            Assert.DoesNotContain(listener.Lines, line => line.StartsWith("rejected", StringComparison.Ordinal));
        }

        // The counts agree with the attempt log: every event delivered in the end, none given up, and each failed
        // attempt the log lists counted as a failed attempt.
        await Waiting.UntilAsync(() => Counts(http, id).GetProperty("deliveredEvents").GetInt64() == 3, "three delivered events");
        var counts = Counts(http, id);
        Assert.Equal(0, counts.GetProperty("failedEvents").GetInt64());
        Assert.Equal(0, counts.GetProperty("pendingEvents").GetInt64());
        Assert.Equal(3, counts.GetProperty("succeededAttempts").GetInt64());
        Assert.Equal(FailedAttempts(http, id), counts.GetProperty("failedAttempts").GetInt64());
        Assert.True(counts.GetProperty("failedAttempts").GetInt64() >= 2);
        Assert.Equal((3, 0, 0), (counts.GetProperty("delivered").GetInt64(), counts.GetProperty("failed").GetInt64(), counts.GetProperty("pending").GetInt64()));

        // The tour ends by deleting the endpoint.
        using (var deleted = await http.DeleteAsync($"v1/webhooks/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using var gone = await http.GetAsync($"v1/webhooks/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    private static JsonElement Counts(HttpClient http, string id)
    {
        using var document = JsonDocument.Parse(http.GetStringAsync($"v1/webhooks/{id}").GetAwaiter().GetResult());
        return document.RootElement.GetProperty("counts").Clone();
    }

    private static int FailedAttempts(HttpClient http, string id)
    {
        var text = http.GetStringAsync($"v1/webhooks/{id}/attempts?status=failed").GetAwaiter().GetResult();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("data").GetArrayLength();
    }

    private static async Task<JsonElement> PostJsonAsync(HttpClient http, string path, string json, HttpStatusCode expected)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
