using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Security;

/// <summary>
/// The chat page on a protected hub (a JwtSecret): token-scoped pages chat, an out-of-scope room and a page without
/// a token are refused (tests/node/secure-chat-browser.mjs in headless Chromium), and a token's presence name cannot
/// be replaced with <c>?name=</c>.
/// </summary>
public sealed class SecureChatBrowserTests : IDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Secret = "secure-chat-test-secret-of-at-least-32-bytes";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ChatPage_WithTokens_TwoPeopleChat_AnOutOfScopeRoomAndAMissingTokenAreRefused()
    {
        Assert.True(File.Exists(Chromium),
            $"{Chromium} is missing, and the browser test needs it: run scripts/test.sh (it installs chromium with apt-get) or `sudo apt-get install chromium`.");
        await using var server = await StartProtectedAsync();
        var alice = await TokenAsync("alice", "--presence", "alice");
        var bob = await TokenAsync("bob-7f3a", "--presence", "bob");
        var screenshots = Path.Combine(_directory.Path, "screenshots");

        var result = await NodeScript.RunAsync("secure-chat-browser.mjs", server.BaseAddress.ToString().TrimEnd('/'), screenshots, alice, bob);
        var artifacts = KeepScreenshots(screenshots);

        Assert.True(result.ExitCode == 0,
            $"secure-chat-browser.mjs failed (exit {result.ExitCode}); screenshots in {artifacts}\n{result.Output}\n{result.Error}\n--- server ---\n{server.Output}");
        using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
        Assert.True(summary.RootElement.GetProperty("passed").GetBoolean());
        foreach (var name in new[] { "secure-chat.png", "secure-chat-refused.png", "secure-chat-no-token.png" })
        {
            var screenshot = new FileInfo(Path.Combine(screenshots, name));
            Assert.True(screenshot.Exists && screenshot.Length > 0, $"no screenshot at {screenshot.FullName}");
        }

        // Tokens travel in the query (access_token), and must never reach the server's output.
        Assert.DoesNotContain(alice, server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(bob, server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebSocket_WithAToken_PresenceNameIsTheTokens_NotTheNameParameter()
    {
        await using var server = await StartProtectedAsync();
        var bob = await TokenAsync("bob-7f3a", "--presence", "bob");
        var carol = await TokenAsync("carol"); // no presence claim: the subject is the name

        using var first = await ConnectAsync(server, $"v1/ws?name=mallory&access_token={bob}");
        using var second = await ConnectAsync(server, $"v1/ws?name=alice&access_token={carol}");
        await SendAsync(first, new { op = "subscribe", id = "s1", topics = new[] { "chat.room1" }, presence = true });
        await SendAsync(second, new { op = "subscribe", id = "s2", topics = new[] { "chat.room1" }, presence = true });

        // Each side eventually sees both members, under the names the tokens give.
        var members = await MembersAsync(first, expected: 2);
        Assert.Equal(["bob", "carol"], members.Order(StringComparer.Ordinal));
        Assert.Equal(["bob", "carol"], (await MembersAsync(second, expected: 2)).Order(StringComparer.Ordinal));
    }

    private async Task<ServerProcess> StartProtectedAsync() =>
        await ServerProcess.StartAsync(_directory.Path, new Dictionary<string, string> { ["Switchboard__Auth__JwtSecret"] = Secret },
            "--urls", "http://127.0.0.1:0", "--store", "memory");

    private async Task<string> TokenAsync(string subject, params string[] extra)
    {
        string[] arguments = ["token", "--secret", Secret, "--sub", subject, "--subscribe", "chat.room1", "--publish", "chat.room1", "--ttl", "30m", .. extra];
        var result = await SwitchboardCli.RunAsync(_directory.Path, arguments);
        Assert.True(result.ExitCode == 0, result.Error);
        return result.Output.Trim();
    }

    private static async Task<ClientWebSocket> ConnectAsync(ServerProcess server, string path)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("switchboard.v1");
        var url = new UriBuilder(new Uri(server.BaseAddress, path)) { Scheme = "ws" }.Uri;
        await socket.ConnectAsync(url, CancellationToken.None).Within();
        return socket;
    }

    private static Task SendAsync(ClientWebSocket socket, object message) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, true, CancellationToken.None).Within();

    /// <summary>Reads presence notices until one lists <paramref name="expected"/> members; an error fails the test.</summary>
    private static async Task<string[]> MembersAsync(ClientWebSocket socket, int expected)
    {
        var buffer = new byte[64 * 1024];
        for (var i = 0; i < 50; i++)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, CancellationToken.None).Within();
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            using var json = JsonDocument.Parse(message.ToArray());
            var op = json.RootElement.GetProperty("op").GetString();
            Assert.True(op != "error", "The hub answered an error: " + Encoding.UTF8.GetString(message.ToArray()));
            if (op == "presence" && json.RootElement.GetProperty("members").GetArrayLength() == expected)
            {
                return json.RootElement.GetProperty("members").EnumerateArray().Select(m => m.GetString()!).ToArray();
            }
        }

        throw new InvalidOperationException($"No presence notice with {expected} members among 50 messages.");
    }

    /// <summary>Copies the screenshots (including failure ones) to TestResults/artifacts/ at the repository root, which CI keeps.</summary>
    private static string KeepScreenshots(string from)
    {
        var to = Path.Combine(NodeScript.RepositoryRoot(), "TestResults", "artifacts");
        Directory.CreateDirectory(to);
        foreach (var stale in Directory.EnumerateFiles(to, "secure-chat*.png"))
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
