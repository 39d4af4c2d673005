using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Sqlite.Tests;

/// <summary>The database is owner-only, and webhook secrets and URL credentials in it are encrypted with Data Protection.</summary>
public sealed class SecretsAtRestTests
{
    private static Action<SwitchboardOptions> LoopbackWebhooks => o =>
    {
        o.Webhooks.AllowHttp = true;
        o.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
    };

    [Fact]
    public async Task TheDatabase_ItsWalAndShm_AndTheKeyRing_AreOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Unix file modes
        }

        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "hub.db");
        await using var server = await HubServer.StartAsync(sqlitePath: path);
        using var client = server.CreateClient();
        using (var published = await client.PostAsync("v1/topics/orders/events", Json("""{"type":"t","data":{}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        }

        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(ownerOnly, File.GetUnixFileMode(path));
        Assert.Equal(ownerOnly, File.GetUnixFileMode(path + "-wal"));
        Assert.Equal(ownerOnly, File.GetUnixFileMode(path + "-shm"));
        Assert.Equal(ownerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(path + ".keys"));
    }

    [Fact]
    public async Task AnOldDatabaseLeftWorldReadable_IsTightenedOnStart()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Unix file modes
        }

        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "old.db");
        await using (var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path }))
        {
        }

        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("644", 8));
        await using (var reopened = new SqliteEventLog(new SqliteEventLogOptions { Path = path }))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public async Task SecretsAndUrlCredentials_AreEncryptedInTheFile_AndTheApiRedactsThePassword()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "hub.db");
        await using var receiver = await WebhookReceiver.StartAsync();
        var url = new UriBuilder(receiver.Url) { UserName = "hookuser", Password = "s3cretPassw0rd" }.Uri.ToString();
        string secret;
        await using (var server = await HubServer.StartAsync(LoopbackWebhooks, sqlitePath: path))
        {
            using var client = server.CreateClient();
            using var created = await client.PostAsync("v1/webhooks", Json($$"""{"url":"{{url}}","topics":["orders"]}"""));
            var text = await created.Content.ReadAsStringAsync();
            Assert.True(created.IsSuccessStatusCode, text);
            using var body = JsonDocument.Parse(text);
            secret = body.RootElement.GetProperty("secret").GetString()!;
            Assert.DoesNotContain("s3cretPassw0rd", text, StringComparison.Ordinal);
            Assert.Equal(Redacted(receiver.Url), body.RootElement.GetProperty("url").GetString());

            using var listed = await client.GetAsync("v1/webhooks");
            var list = await listed.Content.ReadAsStringAsync();
            Assert.DoesNotContain("s3cretPassw0rd", list, StringComparison.Ordinal);
            Assert.Contains(Redacted(receiver.Url), list, StringComparison.Ordinal);
        }

        // Stopped: the file (with its WAL folded in) holds neither the secret nor the password.
        SqliteConnection.ClearAllPools();
        var raw = Encoding.Latin1.GetString(File.ReadAllBytes(path)) + (File.Exists(path + "-wal") ? Encoding.Latin1.GetString(File.ReadAllBytes(path + "-wal")) : "");
        Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(secret["whsec_".Length..], raw, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cretPassw0rd", raw, StringComparison.Ordinal);
        var (storedUrl, storedSecret) = ReadRow(path);
        Assert.StartsWith("dp1:", storedSecret, StringComparison.Ordinal);
        Assert.StartsWith("dp1:", storedUrl, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClearTextRowsWrittenTheOldWay_AreEncryptedOnStart_AndDeliveriesStillVerifyWithTheOriginalSecret()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "hub.db");
        await using var receiver = await WebhookReceiver.StartAsync();
        var url = new UriBuilder(receiver.Url) { UserName = "hookuser", Password = "oldPassw0rd" }.Uri.ToString();
        string id;
        string secret;
        await using (var server = await HubServer.StartAsync(LoopbackWebhooks, sqlitePath: path))
        {
            using var client = server.CreateClient();
            using var created = await client.PostAsync("v1/webhooks", Json($$"""{"url":"{{url}}","topics":["orders"]}"""));
            using var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
            id = body.RootElement.GetProperty("id").GetString()!;
            secret = body.RootElement.GetProperty("secret").GetString()!;
        }

        // What an older version wrote: the secret and the URL in clear; and no key ring.
        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE webhook_endpoints SET url = $url, secret = $secret WHERE id = $id";
            command.Parameters.AddWithValue("$url", url);
            command.Parameters.AddWithValue("$secret", secret);
            command.Parameters.AddWithValue("$id", id);
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(path + ".keys", recursive: true);

        await using (var server = await HubServer.StartAsync(LoopbackWebhooks, sqlitePath: path))
        {
            using var client = server.CreateClient();
            await Waiting.UntilAsync(() => ReadRow(path).Secret.StartsWith("dp1:", StringComparison.Ordinal), "the clear-text row to be encrypted on start");
            Assert.StartsWith("dp1:", ReadRow(path).Url, StringComparison.Ordinal);

            using (var published = await client.PostAsync("v1/topics/orders/events", Json("""{"type":"t","data":{"n":1}}""")))
            {
                Assert.Equal(HttpStatusCode.Created, published.StatusCode);
            }

            await Waiting.UntilAsync(() => receiver.Received.Any(r => r.Type == "t"), "the delivery");
            var delivery = receiver.Received.First(r => r.Type == "t");
            var expected = WebhookSecret.SignatureHeader([secret], delivery.Id, long.Parse(delivery.Timestamp, CultureInfo.InvariantCulture), delivery.Body);
            Assert.Equal(expected, delivery.Signature);

            using var listed = await client.GetAsync("v1/webhooks");
            Assert.DoesNotContain("oldPassw0rd", await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    private static string Redacted(string receiverUrl) => receiverUrl.Replace("http://", "http://hookuser:***@", StringComparison.Ordinal);

    private static (string Url, string Secret) ReadRow(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT url, secret FROM webhook_endpoints";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetString(0), reader.GetString(1));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
