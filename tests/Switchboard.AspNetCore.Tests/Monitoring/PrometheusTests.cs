using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Monitoring;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Monitoring;

/// <summary>
/// OpenTelemetry subscribes to meters by name, so a hub's exporter also sees other hubs' instruments in this process;
/// these tests run alone to read exact numbers.
/// </summary>
[CollectionDefinition(nameof(PrometheusCollection), DisableParallelization = true)]
public sealed class PrometheusCollection;

[Collection(nameof(PrometheusCollection))]
public sealed partial class PrometheusTests
{
    [Fact]
    public async Task Metrics_ByDefault_AreNotServed()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();
        using var response = await client.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Metrics_WhenEnabled_ServePrometheusTextWithTheCounters()
    {
        await using var server = await HubServer.StartAsync(services: s => s.Configure<MonitoringOptions>(o => o.Prometheus = true));
        using var client = server.CreateClient();
        await using var sse = await SseReader.OpenAsync(client, "v1/stream?topic=prom");
        await client.PublishManyAsync("prom", 7, perBatch: 1);
        await sse.TakeAsync(7);

        // The exporter caches a scrape briefly; ask until this scrape includes the deliveries.
        string text = "";
        await Waiting.UntilAsync(() =>
        {
            using var response = client.GetAsync("metrics").GetAwaiter().GetResult();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
            text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            return Value(text, "switchboard_events_delivered_total", "transport=\"sse\"") == 7;
        }, "the scrape to show 7 SSE deliveries");

        Assert.Equal(7, Value(text, "switchboard_events_published_total"));
        Assert.Equal(1, Value(text, "switchboard_connections", "transport=\"sse\""));
        Assert.Equal(7, Value(text, "switchboard_delivery_latency_seconds_count", "transport=\"sse\""));
        Assert.True(Value(text, "switchboard_bytes_written_bytes_total", "transport=\"sse\"") > 7 * 20, text);
        Assert.Contains("# TYPE switchboard_delivery_latency_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("switchboard_store_commit_batch_size_bucket", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_AskedWithAnotherMethodThanGet_Is405Problem_AndNoScrape()
    {
        await using var server = await HubServer.StartAsync(sqlite: false, services: s => s.Configure<MonitoringOptions>(o => o.Prometheus = true));
        using var client = server.CreateClient();

        using var posted = await client.PostAsync("metrics", new StringContent("")).Within();
        var problem = await posted.AssertProblemAsync(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal("GET, HEAD", string.Join(", ", posted.Content.Headers.Allow));
        Assert.Equal("/metrics", problem.GetProperty("instance").GetString());

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "metrics")).Within();
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Fact]
    public async Task Metrics_OnAProtectedHub_NeedTheAdminScope()
    {
        await using var server = await HubServer.StartAsync(Security.SecurityKit.Protected(), services: s => s.Configure<MonitoringOptions>(o => o.Prometheus = true));
        using var client = server.CreateClient();
        await Security.SecurityKit.AssertProblemAsync(await client.GetAsync("metrics"), HttpStatusCode.Unauthorized, "unauthorized");
        using var publisher = Security.SecurityKit.Client(server, Security.SecurityKit.PublishKey);
        await Security.SecurityKit.AssertProblemAsync(await publisher.GetAsync("metrics"), HttpStatusCode.Forbidden, "forbidden");
        using var admin = Security.SecurityKit.Client(server, Security.SecurityKit.AdminKey);
        using var scraped = await admin.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
    }

    /// <summary>The value of the sample <paramref name="metric"/> whose labels contain <paramref name="label"/>; fails when absent.</summary>
    private static double Value(string text, string metric, string? label = null)
    {
        foreach (Match match in Sample().Matches(text))
        {
            if (match.Groups["name"].Value == metric && (label is null || match.Groups["labels"].Value.Contains(label, StringComparison.Ordinal)))
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return double.NaN;
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)(\{(?<labels>[^}]*)\})? (?<value>[0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
