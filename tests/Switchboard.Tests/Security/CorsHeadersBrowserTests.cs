using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Security;

/// <summary>
/// A page on another origin must be able to read why it was refused (<c>WWW-Authenticate</c>: no credential, or
/// <c>invalid_token</c>) and the other headers the hub answers with; a browser hides every response header not in
/// <c>Access-Control-Expose-Headers</c> (tests/node/cors-headers-browser.mjs in headless Chromium).
/// </summary>
public sealed class CorsHeadersBrowserTests : IDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Secret = "cors-headers-test-secret-of-at-least-32-bytes";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ACrossOriginPage_ReadsWwwAuthenticate_OnA401_AndTheOtherHeadersItNeeds()
    {
        Assert.True(File.Exists(Chromium),
            $"{Chromium} is missing, and the browser test needs it: run scripts/test.sh (it installs chromium with apt-get) or `sudo apt-get install chromium`.");
        await using var server = await ServerProcess.StartAsync(_directory.Path, new Dictionary<string, string> { ["Switchboard__Auth__JwtSecret"] = Secret },
            "--urls", "http://127.0.0.1:0", "--store", "memory");
        var token = await SwitchboardCli.RunAsync(_directory.Path, ["token", "--secret", Secret, "--sub", "page", "--subscribe", "orders", "--publish", "orders", "--ttl", "30m"]);
        Assert.True(token.ExitCode == 0, token.Error);

        var result = await NodeScript.RunAsync("cors-headers-browser.mjs", server.BaseAddress.ToString().TrimEnd('/'), Path.Combine(_directory.Path, "screenshots"), token.Output.Trim());

        Assert.True(result.ExitCode == 0, $"cors-headers-browser.mjs failed (exit {result.ExitCode})\n{result.Output}\n{result.Error}\n--- server ---\n{server.Output}");
        using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
        Assert.True(summary.RootElement.GetProperty("passed").GetBoolean());
    }
}
