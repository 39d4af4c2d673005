using Microsoft.Data.Sqlite;
using Switchboard.Config;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// App settings in the hub's SQLite file, next to the log: every kept version of every app in one table. Log
/// retention never touches it, so the newest version survives however the <c>config.{app}</c> topics are trimmed.
/// Writes go through the log's writer thread when there is one; reads use pooled connections. In the log's own file a
/// version and its <c>config.changed</c> event are one transaction (<see cref="IConfigStoreWithEvents"/>).
/// </summary>
public sealed class SqliteConfigStore : IConfigStore, IConfigStoreWithEvents
{
    private readonly SqliteStoreFile _file;

    /// <summary>Opens the store in the database file at <paramref name="path"/>, creating its table; it writes on its own connection.</summary>
    public SqliteConfigStore(string path)
        : this(path, null)
    {
    }

    /// <summary>Opens the store in the same file as <paramref name="log"/> and writes through the log's single writer.</summary>
    public SqliteConfigStore(SqliteEventLog log, string path)
        : this(path, (SqliteEventLog?)log)
    {
    }

    private SqliteConfigStore(string path, SqliteEventLog? log)
    {
        _file = new SqliteStoreFile(path, log, """
            CREATE TABLE IF NOT EXISTS config_versions (
                app TEXT NOT NULL,
                version INTEGER NOT NULL,
                config_values BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (app, version)) WITHOUT ROWID;
            """);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ConfigVersion>> LoadLatestAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT c.app, c.version, c.config_values, c.created_at FROM config_versions c
            JOIN (SELECT app, MAX(version) AS version FROM config_versions GROUP BY app) latest
              ON latest.app = c.app AND latest.version = c.version
            ORDER BY c.app
            """;
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task SaveAsync(ConfigVersion version, int keepHistory, CancellationToken cancellationToken = default) =>
        _file.WriteAsync(transaction => Write(transaction, version, keepHistory), cancellationToken);

    /// <inheritdoc />
    public bool CommitsWith(Switchboard.Log.IEventLog log) => _file.Log is { } own && ReferenceEquals(own, log);

    /// <inheritdoc />
    public Task<Switchboard.Log.AppendResult> SaveAndAppendAsync(ConfigVersion version, int keepHistory, IReadOnlyList<Switchboard.Events.EventDraft> events,
        CancellationToken cancellationToken = default) =>
        _file.WriteAndAppendAsync(transaction => Write(transaction, version, keepHistory), events, cancellationToken);

    private static void Write(SqliteTransaction transaction, ConfigVersion version, int keepHistory)
    {
        using var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT OR REPLACE INTO config_versions (app, version, config_values, created_at) VALUES ($app, $version, $values, $createdAt);
            DELETE FROM config_versions WHERE app = $app AND (version <= $version - $keep OR version > $version);
            """;
        command.Parameters.AddWithValue("$app", version.App);
        command.Parameters.AddWithValue("$version", version.Version);
        command.Parameters.AddWithValue("$values", version.Values);
        command.Parameters.AddWithValue("$createdAt", version.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$keep", keepHistory);
        command.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ConfigVersion>> ReadHistoryAsync(string app, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT app, version, config_values, created_at FROM config_versions WHERE app = $app ORDER BY version DESC LIMIT $limit";
        command.Parameters.AddWithValue("$app", app);
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<ConfigVersion>> ReadAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var versions = new List<ConfigVersion>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            versions.Add(new ConfigVersion(reader.GetString(0), reader.GetInt64(1), (byte[])reader.GetValue(2),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
        }

        return versions;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _file.DisposeAsync();
}
