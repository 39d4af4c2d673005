using Microsoft.Data.Sqlite;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// The plumbing the stores that live next to the log (webhooks, jobs, config) share: the file, its schema, pooled
/// read connections, and one way to write. With a log, writes run inside the log's group commits on its writer
/// thread, because one writer per file means no contention for SQLite's write lock; without one (a store used on
/// its own), they run on the store's own connection, one at a time.
/// </summary>
internal sealed class SqliteStoreFile : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SqliteEventLog? _log;
    private readonly string _path;

    /// <summary>Opens (or creates) the file at <paramref name="path"/> and runs <paramref name="schema"/> on it.</summary>
    public SqliteStoreFile(string path, SqliteEventLog? log, string schema)
    {
        _log = log;
        _path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Microsoft.Data.Sqlite retries a busy file until this many seconds have passed, on top of the busy_timeout
            // below: 5 s in all, so a lock held by another process is a 503 after 5 s, not after 35.
            DefaultTimeout = 5,
        }.ToString();
        _writer = new SqliteConnection(_connectionString);
        try
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            SqliteFilePermissions.Prepare(path);
            _writer.Open();
            Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;");
            Execute(schema);
        }
        catch (Exception ex) when (SqliteOpenFailure.IsOpenFailure(ex))
        {
            _writer.Dispose();
            throw SqliteOpenFailure.Translate(ex, path);
        }
    }

    /// <summary>A pooled connection for reading.</summary>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Runs <paramref name="write"/> in a transaction: the log's group commit when there is a log, else this file's own connection.</summary>
    public async Task WriteAsync(Action<SqliteTransaction> write, CancellationToken cancellationToken)
    {
        if (_log is not null)
        {
            await _log.ExecuteWriteAsync(write, cancellationToken).ConfigureAwait(false);
            return;
        }

        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var transaction = _writer.BeginTransaction();
            write(transaction);
            transaction.Commit();
        }
        catch (SqliteException ex) when (SqliteFullDisk.IsFull(ex, _path))
        {
            throw SqliteFullDisk.Translate(ex, _path);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The log whose group commits this file's writes join, or null when the file writes on its own connection.</summary>
    public SqliteEventLog? Log => _log;

    /// <summary>Runs <paramref name="write"/> and appends <paramref name="events"/> in one savepoint of the log's group commit.</summary>
    public Task<Switchboard.Log.AppendResult> WriteAndAppendAsync(Action<SqliteTransaction> write, IReadOnlyList<Switchboard.Events.EventDraft> events, CancellationToken cancellationToken) =>
        (_log ?? throw new InvalidOperationException("Only a store in the log's file commits with the log."))
            .ExecuteWriteAndAppendAsync(write, events, cancellationToken);

    /// <summary>Adds a column a newer version of a store needs to a table an older version created.</summary>
    public void AddColumnIfMissing(string table, string column, string definition)
    {
        using var check = _writer.CreateCommand();
        check.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $column";
        check.Parameters.AddWithValue("$column", column);
        if ((long)check.ExecuteScalar()! == 0)
        {
            Execute($"ALTER TABLE {table} ADD COLUMN {column} {definition}");
        }
    }

    private void Execute(string sql)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        SqliteConnection.ClearPool(_writer);
        await _writer.DisposeAsync().ConfigureAwait(false);
    }
}
