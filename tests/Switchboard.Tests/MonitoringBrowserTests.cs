using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>
/// <c>/dashboard</c> and <c>/playground</c> in headless Chromium, driven by tests/node/monitoring-browser.mjs, against the real
/// executable (which serves the pages from the Switchboard.AspNetCore assembly).
/// </summary>
public sealed class MonitoringBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task DashboardAndPlayground_InABrowser_MoveWithTrafficAndShowAllFiveTransports()
    {
        Assert.True(File.Exists(Chromium),
            $"{Chromium} is missing, and the browser test needs it: run scripts/test.sh (it installs chromium with apt-get) or `sudo apt-get install chromium`.");

        var temp = Directory.CreateTempSubdirectory("switchboard-monitoring-");
        try
        {
            // Loopback is allowed only so the dashboard step can show a failing endpoint on a closed local port; the
            // playground's own webhook needs no such setting (its sink is the hub's exception to the loopback block).
            var environment = new Dictionary<string, string>
            {
                ["Switchboard__Webhooks__AllowedNetworks__0"] = "127.0.0.0/8",
                ["Switchboard__Webhooks__AllowHttp"] = "true",
                ["Switchboard__Metrics__Prometheus"] = "true",
            };
            await using var server = await ServerProcess.StartAsync(temp.FullName, environment, "--urls", "http://127.0.0.1:0", "--store", "memory");
            var screenshots = Path.Combine(temp.FullName, "screenshots");

            var result = await NodeScript.RunAsync("monitoring-browser.mjs", server.BaseAddress.ToString().TrimEnd('/'), screenshots);
            var artifacts = KeepScreenshots(screenshots);

            Assert.True(result.ExitCode == 0,
                $"monitoring-browser.mjs failed (exit {result.ExitCode}); screenshots in {artifacts}\n{result.Output}\n{result.Error}\n--- server ---\n{server.Output}");
            using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
            Assert.True(summary.RootElement.GetProperty("passed").GetBoolean());
            foreach (var name in new[] { "dashboard.png", "playground.png" })
            {
                var screenshot = new FileInfo(Path.Combine(screenshots, name));
                Assert.True(screenshot.Exists && screenshot.Length > 0, $"no screenshot at {screenshot.FullName}");
            }

            // The executable with the key on serves the scrape, and it counted the browser's traffic.
            using var client = new HttpClient { BaseAddress = server.BaseAddress };
            var metrics = await client.GetStringAsync("metrics");
            Assert.Contains("switchboard_events_delivered_total{", metrics, StringComparison.Ordinal);
            Assert.Contains("transport=\"webhook\"", metrics, StringComparison.Ordinal);
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task DashboardAndPlayground_OnAProtectedHub_WithoutAToken_SayHowToOpenThem_InsteadOfReconnecting()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing, and the browser test needs it: `sudo apt-get install chromium`.");
        const string adminKey = "sk_dashboard_admin_0123456789abcdef0123";
        const string publishKey = "sk_dashboard_publish_0123456789abcdef01";
        var temp = Directory.CreateTempSubdirectory("switchboard-protected-pages-");
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["Switchboard__Auth__ApiKeys__0__Key"] = adminKey,
                ["Switchboard__Auth__ApiKeys__0__Scopes__0"] = "admin",
                ["Switchboard__Auth__ApiKeys__0__Scopes__1"] = "subscribe",
                ["Switchboard__Auth__ApiKeys__1__Key"] = publishKey,
                ["Switchboard__Auth__ApiKeys__1__Scopes__0"] = "publish",
            };
            await using var server = await ServerProcess.StartAsync(temp.FullName, environment, "--urls", "http://127.0.0.1:0", "--store", "memory");
            var screenshots = Path.Combine(temp.FullName, "screenshots");

            var result = await NodeScript.RunAsync("protected-pages-browser.mjs", server.BaseAddress.ToString().TrimEnd('/'), screenshots, adminKey, publishKey);
            var artifacts = KeepScreenshots(screenshots);

            Assert.True(result.ExitCode == 0,
                $"protected-pages-browser.mjs failed (exit {result.ExitCode}); screenshots in {artifacts}\n{result.Output}\n{result.Error}\n--- server ---\n{server.Output}");
            using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
            Assert.True(summary.RootElement.GetProperty("passed").GetBoolean());
            Assert.DoesNotContain(adminKey, server.Output, StringComparison.Ordinal);
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>Copies the screenshots (including failure ones) to TestResults/artifacts/ at the repository root, which CI keeps.</summary>
    private static string KeepScreenshots(string from)
    {
        var to = Path.Combine(NodeScript.RepositoryRoot(), "TestResults", "artifacts");
        Directory.CreateDirectory(to);
        foreach (var stale in Directory.EnumerateFiles(to, "*.png").Where(f => Path.GetFileName(f) is "dashboard.png" or "playground.png" or "protected-dashboard.png" || Path.GetFileName(f).StartsWith("monitoring-", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith("protected-pages-", StringComparison.Ordinal)))
        {
            File.Delete(stale); // an old failure screenshot next to a passing run's would mislead
        }

        if (Directory.Exists(from))
        {
            foreach (var png in Directory.EnumerateFiles(from, "*.png"))
            {
                File.Copy(png, Path.Combine(to, Path.GetFileName(png)), overwrite: true);
            }
        }

        return to;
    }
}
