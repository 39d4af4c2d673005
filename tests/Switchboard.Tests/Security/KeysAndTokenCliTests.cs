using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Security;

/// <summary><c>switchboard keys</c> and <c>switchboard token</c> as processes, against a running <c>switchboard serve</c>.</summary>
public sealed class KeysAndTokenCliTests : IDisposable
{
    private const string Secret = "cli-token-test-secret-at-least-32-bytes-long";

    /// <summary>Open mode re-counts stored keys every 5 s and caches a found key for 10 s; allow for both, on a busy machine.</summary>
    private static readonly TimeSpan HubNotices = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task KeysCreate_AgainstARunningHub_ProtectsIt_PublishesOnlyInsideItsTopics_ListsWithoutTheSecret_AndRevokeEndsIt()
    {
        var database = Path.Combine(_directory.Path, "hub.db");
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(HttpStatusCode.Created, await PublishAsync(http, "orders.eu", null)); // open while no key exists

        var created = await SwitchboardCli.RunAsync(_directory.Path, "keys", "create", "--scopes", "publish", "--topics", "orders.>", "--name", "orders-service", "--data", database);
        Assert.True(created.ExitCode == 0, created.Error);
        var key = created.Output.Trim();
        Assert.StartsWith("sk_", key, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', key); // stdout holds the key alone, so scripts can capture it

        // The running hub counts the new key within seconds and stops being open.
        await Eventually.UntilAsync(() => PublishAsync(http, "orders.eu", null), status => status == HttpStatusCode.Unauthorized,
            "the hub to require credentials after keys create", HubNotices);
        Assert.Equal(HttpStatusCode.Created, await PublishAsync(http, "orders.eu", key));
        Assert.Equal(HttpStatusCode.Forbidden, await PublishAsync(http, "chat", key));

        var list = await SwitchboardCli.RunAsync(_directory.Path, "keys", "list", "--data", database);
        Assert.True(list.ExitCode == 0, list.Error);
        var line = Assert.Single(list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var id = line.Split('\t')[0];
        Assert.Contains("orders-service", line, StringComparison.Ordinal);
        Assert.Contains("orders.>", line, StringComparison.Ordinal);
        Assert.Contains("publish", line, StringComparison.Ordinal);
        Assert.DoesNotContain(key, list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(key[12..], list.Output, StringComparison.Ordinal); // not even the secret part after the hint

        // A second key keeps the hub protected once the first is revoked (with no key left it would be open again).
        var admin = await SwitchboardCli.RunAsync(_directory.Path, "keys", "create", "--scopes", "admin", "--data", database);
        Assert.True(admin.ExitCode == 0, admin.Error);

        var revoked = await SwitchboardCli.RunAsync(_directory.Path, "keys", "revoke", id, "--data", database);
        Assert.True(revoked.ExitCode == 0, revoked.Error);
        Assert.Contains(id, revoked.Output, StringComparison.Ordinal);
        await Eventually.UntilAsync(() => PublishAsync(http, "orders.eu", key), status => status == HttpStatusCode.Unauthorized,
            "the revoked key to be refused", HubNotices);
        var listed = await SwitchboardCli.RunAsync(_directory.Path, "keys", "list", "--data", database);
        Assert.DoesNotContain(id, listed.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeysListAndRevoke_OnAMissingDataFile_SaySo_AndDoNotCreateIt()
    {
        var database = Path.Combine(_directory.Path, "typo", "hub.db");

        var list = await SwitchboardCli.RunAsync(_directory.Path, "keys", "list", "--data", database);
        var revoke = await SwitchboardCli.RunAsync(_directory.Path, "keys", "revoke", "key_0123456789abcdef", "--data", database);

        Assert.Equal(1, list.ExitCode);
        Assert.Contains($"No data file at {database}", list.Error, StringComparison.Ordinal);
        Assert.Equal(1, revoke.ExitCode);
        Assert.Contains($"No data file at {database}", revoke.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.GetDirectoryName(database)), "listing must not create the data file or its folder");

        // An existing file without keys lists nothing on stdout and says so on stderr.
        var existing = Path.Combine(_directory.Path, "empty.db");
        var created = await SwitchboardCli.RunAsync(_directory.Path, "keys", "create", "--scopes", "admin", "--data", existing);
        var id = (await SwitchboardCli.RunAsync(_directory.Path, "keys", "list", "--data", existing)).Output.Split('\t')[0];
        Assert.Equal(0, (await SwitchboardCli.RunAsync(_directory.Path, "keys", "revoke", id, "--data", existing)).ExitCode);
        var empty = await SwitchboardCli.RunAsync(_directory.Path, "keys", "list", "--data", existing);
        Assert.True(created.ExitCode == 0 && empty.ExitCode == 0, created.Error + empty.Error);
        Assert.Equal("", empty.Output.Trim());
        Assert.Contains("No keys in", empty.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_IssuedByTheCli_ReadsItsTopicsOverSseWithAccessToken_AndIsRefusedElsewhere()
    {
        var environment = new Dictionary<string, string> { ["Switchboard__Auth__JwtSecret"] = Secret };
        await using var server = await ServerProcess.StartAsync(_directory.Path, environment, "--urls", "http://127.0.0.1:0", "--store", "memory");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        var reader = await SwitchboardCli.RunAsync(_directory.Path, "token", "--secret", Secret, "--sub", "alice", "--subscribe", "chat.>", "--ttl", "1h");
        Assert.True(reader.ExitCode == 0, reader.Error);
        var token = reader.Output.Trim();
        Assert.Equal(3, token.Split('.').Length);
        var writer = await SwitchboardCli.RunAsync(_directory.Path, "token", "--secret", Secret, "--sub", "backend", "--publish", "chat.room1", "--ttl", "10m");
        Assert.True(writer.ExitCode == 0, writer.Error);

        // A token from another secret is not accepted.
        var forged = await SwitchboardCli.RunAsync(_directory.Path, "token", "--secret", "some-other-secret-that-is-32-bytes-long!", "--sub", "alice", "--subscribe", "chat.>");
        using (var refused = await http.GetAsync($"v1/stream?topic=chat.room1&access_token={forged.Output.Trim()}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        await using var stream = await SseReader.OpenAsync(http, $"v1/stream?topic=chat.room1&access_token={token}");
        Assert.Equal(HttpStatusCode.Created, await PublishAsync(http, "chat.room1", writer.Output.Trim()));
        var item = await NextEventAsync(stream);
        using (var json = JsonDocument.Parse(item))
        {
            Assert.Equal("chat.room1", json.RootElement.GetProperty("topic").GetString());
        }

        using var orders = await http.GetAsync($"v1/stream?topic=orders&access_token={token}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Forbidden, orders.StatusCode);
        Assert.Equal("application/problem+json", orders.Content.Headers.ContentType?.MediaType);
        using var anonymous = await http.GetAsync("v1/stream?topic=chat.room1", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, await PublishAsync(http, "chat.room1", token)); // subscribe-only
    }

    internal static async Task<HttpStatusCode> PublishAsync(HttpClient http, string topic, string? credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/topics/{topic}/events") { Content = JsonContent.Create(new { data = new { topic } }) };
        if (credential is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }

        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>The data of the next event on the stream, skipping comments and control items.</summary>
    internal static async Task<string> NextEventAsync(SseReader stream)
    {
        for (var i = 0; i < 100; i++)
        {
            var item = await stream.NextAsync() ?? throw new InvalidOperationException("The stream ended before an event arrived.");
            if (item.Data.Length > 0 && item.Data.TrimStart().StartsWith('{') && item.Data.Contains("\"topic\"", StringComparison.Ordinal))
            {
                return item.Data;
            }
        }

        throw new InvalidOperationException("No event among the first 100 items.");
    }
}
