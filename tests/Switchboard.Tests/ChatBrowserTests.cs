using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>The chat page (<c>/chat</c>) in headless Chromium, driven by tests/node/chat-browser.mjs, against the real executable.</summary>
public sealed class ChatBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task ChatPage_TwoBrowsers_JoinTalkResumeAndReload()
    {
        Assert.True(File.Exists(Chromium),
            $"{Chromium} is missing, and the browser test needs it: run scripts/test.sh (it installs chromium with apt-get) or `sudo apt-get install chromium`.");

        var temp = Directory.CreateTempSubdirectory("switchboard-chat-");
        try
        {
            // A working directory other than the output directory: the page must come from next to the dll.
            await using var server = await ServerProcess.StartAsync(temp.FullName, "--urls", "http://127.0.0.1:0", "--store", "memory");
            var screenshots = Path.Combine(temp.FullName, "screenshots");

            var result = await NodeScript.RunAsync("chat-browser.mjs", server.BaseAddress.ToString().TrimEnd('/'), screenshots);
            var artifacts = KeepScreenshots(screenshots);

            Assert.True(result.ExitCode == 0,
                $"chat-browser.mjs failed (exit {result.ExitCode}); screenshots in {artifacts}\n{result.Output}\n{result.Error}\n--- server ---\n{server.Output}");
            using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
            Assert.True(summary.RootElement.GetProperty("passed").GetBoolean());

            var screenshot = new FileInfo(Path.Combine(screenshots, "chat.png"));
            Assert.True(screenshot.Exists && screenshot.Length > 0, $"no screenshot at {screenshot.FullName}");
            var phone = new FileInfo(Path.Combine(screenshots, "chat-phone.png"));
            Assert.True(phone.Exists && phone.Length > 0, $"no phone-sized screenshot at {phone.FullName}");
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
        foreach (var stale in Directory.EnumerateFiles(to, "chat*.png"))
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
