using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using SocialShare.Web;
using SocialShare.Worker;
using Switchboard.Testing;

namespace SocialShare.Tests;

/// <summary>The page in headless Chromium (tests/node/socialshare-browser.mjs), against the web app, the real hub and the worker.</summary>
public sealed class SocialShareBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Page_StreamsWrittenText_AndPollsAShareJob_InChromium()
    {
        Assert.True(File.Exists(Chromium),
            $"{Chromium} is missing, and the browser test needs it: run scripts/test.sh (it installs chromium with apt-get) or `sudo apt-get install chromium`.");
        var nodeDirectory = Path.Combine(NodeScript.RepositoryRoot(), "tests", "node");
        Assert.True(Directory.Exists(Path.Combine(nodeDirectory, "node_modules", "playwright-core")),
            $"{nodeDirectory}/node_modules is missing: run scripts/test.sh (it runs npm ci there).");

        await using var hub = await HubServer.StartAsync();
        using var stop = new CancellationTokenSource();
        using var workerHttp = new HttpClient { BaseAddress = hub.BaseAddress };
        var options = new WorkerOptions { HubUrl = hub.BaseAddress, FailureRate = 0, StepDelay = TimeSpan.FromMilliseconds(100), WordDelay = TimeSpan.FromMilliseconds(40), ClaimWaitSeconds = 1 };
        var worker = new ShareWorker(workerHttp, options, TextWriter.Null).RunAsync(stop.Token);
        var web = SocialShareWeb.Build(["--urls=http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", $"--Hub:Url={hub.BaseAddress}"]);
        await web.StartAsync();
        try
        {
            var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

            var (exitCode, output, error) = await NodeScript.RunAsync("socialshare-browser.mjs", address);

            Assert.True(exitCode == 0, $"socialshare-browser.mjs failed (exit {exitCode})\n{output}\n{error}");
            using var summary = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            Assert.True(summary.RootElement.GetProperty("passed").GetBoolean());
        }
        finally
        {
            await web.StopAsync();
            await web.DisposeAsync();
            await stop.CancelAsync();
            await worker.Within();
        }
    }
}
