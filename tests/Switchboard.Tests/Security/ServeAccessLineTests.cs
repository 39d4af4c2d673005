using System.Net;
using System.Net.Http.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Security;

/// <summary>
/// <c>switchboard serve</c> says at start whether the hub is open or protected, and by what, so a key left in a data file
/// (the README's security tour) does not lock the hub silently.
/// </summary>
public sealed class ServeAccessLineTests : IDisposable
{
    private const string Secret = "serve-access-line-test-secret-of-32-bytes";

    /// <summary>Open mode re-counts stored keys every 5 s; allow for it on a busy machine.</summary>
    private static readonly TimeSpan HubNotices = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Serve_WithNoCredentials_SaysItIsOpen_AndWhereItLookedForKeys()
    {
        var database = Path.Combine(_directory.Path, "open.db");
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database);

        Assert.Contains($"no API keys in {database}, no subscriber-token secret", server.Output, StringComparison.Ordinal);
        Assert.Contains("the hub is open", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Protected by", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_OnADataFileWithStoredKeys_SaysItIsProtectedByThemAndNamesTheFile_AndRefusesAnonymousPublishing()
    {
        var database = Path.Combine(_directory.Path, "tour.db");
        foreach (var scopes in new[] { "publish", "admin" })
        {
            var created = await SwitchboardCli.RunAsync(_directory.Path, "keys", "create", "--scopes", scopes, "--data", database);
            Assert.True(created.ExitCode == 0, created.Error);
        }

        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        Assert.Contains($"Protected by 2 API keys (stored in {database}): requests without a valid credential are refused (401).", server.Output, StringComparison.Ordinal);
        Assert.Contains($"switchboard keys list --data {database}", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("no credentials are configured", server.Output, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("v1/topics/orders/events", new { data = 1 })).StatusCode);
    }

    [Fact]
    public async Task Serve_WithATokenSecretAConfiguredKeyAndPublicTopics_NamesEachOfThem()
    {
        var environment = new Dictionary<string, string>
        {
            ["Switchboard__Auth__JwtSecret"] = Secret,
            ["Switchboard__Auth__ApiKeys__0__Key"] = "sk_configured_key_for_the_access_line_test",
            ["Switchboard__Auth__ApiKeys__0__Scopes__0"] = "publish",
            ["Switchboard__Auth__PublicTopics__0"] = "public.>",
        };
        await using var server = await ServerProcess.StartAsync(_directory.Path, environment, "--urls", "http://127.0.0.1:0", "--store", "memory");

        Assert.Contains("Protected by 1 API key (from configuration) and a subscriber-token secret (HS256)", server.Output, StringComparison.Ordinal);
        Assert.Contains("Anyone may read the public topics public.>.", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("keys list", server.Output, StringComparison.Ordinal); // nothing stored to list
    }

    [Fact]
    public async Task Serve_WhenAKeyIsCreatedAndRevokedWhileRunning_LogsThatTheHubIsNowProtected_ThenOpenAgain()
    {
        var database = Path.Combine(_directory.Path, "live.db");
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(HttpStatusCode.Created, await PublishAsync(http));

        var created = await SwitchboardCli.RunAsync(_directory.Path, "keys", "create", "--scopes", "publish", "--data", database);
        Assert.True(created.ExitCode == 0, created.Error);
        await Eventually.UntilAsync(() => PublishAsync(http), status => status == HttpStatusCode.Unauthorized, "the hub to notice the new key", HubNotices);
        await Eventually.UntilAsync(() => Task.FromResult(server.Output), output => output.Contains("the hub is now protected", StringComparison.Ordinal),
            "the log line saying the hub is now protected", HubNotices);

        var id = (await SwitchboardCli.RunAsync(_directory.Path, "keys", "list", "--data", database)).Output.Split('\t')[0];
        var revoked = await SwitchboardCli.RunAsync(_directory.Path, "keys", "revoke", id, "--data", database);
        Assert.True(revoked.ExitCode == 0, revoked.Error);
        await Eventually.UntilAsync(() => PublishAsync(http), status => status == HttpStatusCode.Created, "the hub to notice the revocation", HubNotices);
        await Eventually.UntilAsync(() => Task.FromResult(server.Output), output => output.Contains("the hub is open again", StringComparison.Ordinal),
            "the log line saying the hub is open again", HubNotices);
    }

    private static async Task<HttpStatusCode> PublishAsync(HttpClient http)
    {
        using var response = await http.PostAsJsonAsync("v1/topics/orders/events", new { data = 1 });
        return response.StatusCode;
    }
}
