using Microsoft.Data.Sqlite;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Errors;

/// <summary>
/// The stores that share the log's SQLite file create their tables when the hub starts, not on a first request: a first
/// config request on a full disk once failed while its store was being created, outside every endpoint's error mapping.
/// </summary>
public sealed class StoreOpeningTests
{
    [Fact]
    public async Task EveryStoreInTheFile_IsOpenBeforeTheFirstRequest()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "hub.db");
        await using var server = await HubServer.StartAsync(sqlitePath: path);

        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table'";
        var tables = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        Assert.Contains("events", tables);
        Assert.Contains("config_versions", tables);
        Assert.Contains("jobs", tables);
        Assert.Contains("api_keys", tables);
        Assert.Contains("webhook_endpoints", tables);
    }
}
