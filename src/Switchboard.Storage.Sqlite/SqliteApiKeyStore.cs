using Microsoft.Data.Sqlite;
using Switchboard.Auth;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// API keys in the hub's SQLite file, by hash only: <c>switchboard keys create --data PATH</c> writes here (also
/// while the hub runs, through SQLite's own locking), and the hub looks keys up here.
/// </summary>
public sealed class SqliteApiKeyStore : IApiKeyStore, IAsyncDisposable
{
    private const string Columns = "id, hash, hint, name, scopes, topics, created_at";
    private readonly SqliteStoreFile _file;

    /// <summary>Opens the store in the database file at <paramref name="path"/>, creating its table; it writes on its own connection.</summary>
    public SqliteApiKeyStore(string path)
        : this(path, null)
    {
    }

    /// <summary>Opens the store in the same file as <paramref name="log"/> and writes through the log's single writer.</summary>
    public SqliteApiKeyStore(SqliteEventLog log, string path)
        : this(path, (SqliteEventLog?)log)
    {
    }

    private SqliteApiKeyStore(string path, SqliteEventLog? log)
    {
        _file = new SqliteStoreFile(path, log, """
            CREATE TABLE IF NOT EXISTS api_keys (
                id TEXT PRIMARY KEY,
                hash TEXT NOT NULL UNIQUE,
                hint TEXT NOT NULL,
                name TEXT,
                scopes TEXT NOT NULL,
                topics TEXT NOT NULL,
                created_at INTEGER NOT NULL);
            """);
    }

    /// <inheritdoc />
    public async Task<ApiKey?> FindByHashAsync(string hash, CancellationToken cancellationToken)
    {
        var found = await QueryAsync($"SELECT {Columns} FROM api_keys WHERE hash = $hash", command => command.Parameters.AddWithValue("$hash", hash), cancellationToken).ConfigureAwait(false);
        return found.Count > 0 ? found[0] : null;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {Columns} FROM api_keys ORDER BY created_at, id", _ => { }, cancellationToken);

    /// <inheritdoc />
    public async Task<int> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM api_keys";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public Task AddAsync(ApiKey key, CancellationToken cancellationToken) => _file.WriteAsync(transaction =>
    {
        using var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"INSERT INTO api_keys ({Columns}) VALUES ($id, $hash, $hint, $name, $scopes, $topics, $created)";
        command.Parameters.AddWithValue("$id", key.Id);
        command.Parameters.AddWithValue("$hash", key.Hash);
        command.Parameters.AddWithValue("$hint", key.Hint);
        command.Parameters.AddWithValue("$name", (object?)key.Name ?? DBNull.Value);
        command.Parameters.AddWithValue("$scopes", string.Join(' ', key.Scopes));
        command.Parameters.AddWithValue("$topics", string.Join(' ', key.Topics));
        command.Parameters.AddWithValue("$created", key.CreatedAt.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
    }, cancellationToken);

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        var deleted = false;
        await _file.WriteAsync(transaction =>
        {
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM api_keys WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            deleted = command.ExecuteNonQuery() > 0;
        }, cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    private async Task<IReadOnlyList<ApiKey>> QueryAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind(command);
        var keys = new List<ApiKey>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // Topic patterns and scopes never contain spaces, so a space-separated list is unambiguous.
            keys.Add(new ApiKey(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4).Split(' ', StringSplitOptions.RemoveEmptyEntries), reader.GetString(5).Split(' ', StringSplitOptions.RemoveEmptyEntries),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6))));
        }

        return keys;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _file.DisposeAsync();
}
