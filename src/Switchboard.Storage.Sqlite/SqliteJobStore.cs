using Microsoft.Data.Sqlite;
using Switchboard.Jobs;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// Jobs in the hub's SQLite file, next to the log. Writes go through the log's writer thread when there is a log
/// (one writer per file, no contention for SQLite's write lock); reads use pooled connections.
/// </summary>
public sealed class SqliteJobStore : IJobStore, IJobStoreWithEvents
{
    private const string Columns = "id, type, status, progress, input, result, error, attempts, max_attempts, idempotency_key, created_at, updated_at, available_at, version, lease_id, lease_expires_at, lease_worker, lease_ms, last_lease_id";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            status INTEGER NOT NULL,
            progress INTEGER,
            input TEXT NOT NULL,
            result TEXT,
            error TEXT,
            attempts INTEGER NOT NULL,
            max_attempts INTEGER NOT NULL,
            idempotency_key TEXT UNIQUE,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            available_at INTEGER NOT NULL,
            version INTEGER NOT NULL,
            lease_id TEXT,
            lease_expires_at INTEGER,
            lease_worker TEXT,
            lease_ms INTEGER,
            last_lease_id TEXT) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, updated_at);
        """;

    private readonly SqliteStoreFile _file;
    private SqliteCommand? _save;
    private SqliteCommand? _delete;

    /// <summary>Opens the store in the database file at <paramref name="path"/>, creating its table; it writes on its own connection.</summary>
    public SqliteJobStore(string path)
        : this(path, null)
    {
    }

    /// <summary>Opens the store in the same file as <paramref name="log"/> and writes through the log's writer thread.</summary>
    public SqliteJobStore(SqliteEventLog log, string path)
        : this(path, (SqliteEventLog?)log)
    {
    }

    private SqliteJobStore(string path, SqliteEventLog? log)
    {
        _file = new SqliteStoreFile(path, log, Schema);
        _file.AddColumnIfMissing("jobs", "lease_ms", "INTEGER");
        _file.AddColumnIfMissing("jobs", "last_lease_id", "TEXT");
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<Job>> LoadUnfinishedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM jobs WHERE status IN ($queued, $running) ORDER BY created_at, id";
        command.Parameters.AddWithValue("$queued", (int)JobStatus.Queued);
        command.Parameters.AddWithValue("$running", (int)JobStatus.Running);
        return await ReadJobsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<Job?> GetAsync(string id, CancellationToken cancellationToken = default) => FindAsync("id", id, cancellationToken);

    /// <inheritdoc />
    public Task<Job?> FindByIdempotencyKeyAsync(string key, CancellationToken cancellationToken = default) => FindAsync("idempotency_key", key, cancellationToken);

    private async Task<Job?> FindAsync(string column, string value, CancellationToken cancellationToken)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM jobs WHERE {column} = $value";
        command.Parameters.AddWithValue("$value", value);
        var jobs = await ReadJobsAsync(command, cancellationToken).ConfigureAwait(false);
        return jobs.Count == 0 ? null : jobs[0];
    }

    /// <inheritdoc />
    public async Task ApplyAsync(IReadOnlyList<JobChange> changes, CancellationToken cancellationToken = default)
    {
        if (changes.Count == 0)
        {
            return;
        }

        await _file.WriteAsync(transaction => Write(transaction, changes), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public bool CommitsWith(Switchboard.Log.IEventLog log) => _file.Log is { } own && ReferenceEquals(own, log);

    /// <inheritdoc />
    public Task<Switchboard.Log.AppendResult> ApplyAndAppendAsync(IReadOnlyList<JobChange> changes, IReadOnlyList<Switchboard.Events.EventDraft> events, CancellationToken cancellationToken = default) =>
        _file.WriteAndAppendAsync(transaction => Write(transaction, changes), events, cancellationToken);

    private void Write(SqliteTransaction transaction, IReadOnlyList<JobChange> changes)
    {
        // Writes are serialized (the log's writer thread, or this file's write lock), so the commands are reused and
        // keep their prepared statements: a job change costs no SQL parse.
        var save = _save = Reuse(_save, transaction, $"""
            INSERT OR REPLACE INTO jobs ({Columns})
            VALUES ($id, $type, $status, $progress, $input, $result, $error, $attempts, $maxAttempts, $key, $createdAt, $updatedAt, $availableAt, $version, $leaseId, $leaseExpiresAt, $leaseWorker, $leaseMs, $lastLeaseId)
            """);
        var delete = _delete = Reuse(_delete, transaction, "DELETE FROM jobs WHERE id = $id");
        foreach (var change in changes)
        {
            switch (change)
            {
                case JobSaved { Job: var job }:
                    save.Parameters.Clear();
                    AddParameters(save.Parameters, job);
                    save.ExecuteNonQuery();
                    break;
                case JobDeleted { JobId: var id }:
                    delete.Parameters.Clear();
                    delete.Parameters.AddWithValue("$id", id);
                    delete.ExecuteNonQuery();
                    break;
                default:
                    throw new ArgumentException($"Unknown change {change.GetType().Name}.", nameof(changes));
            }
        }
    }

    private static SqliteCommand Reuse(SqliteCommand? command, SqliteTransaction transaction, string sql)
    {
        if (command is null || !ReferenceEquals(command.Connection, transaction.Connection))
        {
            command?.Dispose();
            command = transaction.Connection!.CreateCommand();
            command.CommandText = sql;
        }

        command.Transaction = transaction;
        return command;
    }

    /// <inheritdoc />
    public async Task<int> DeleteFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default)
    {
        var deleted = 0;
        await _file.WriteAsync(transaction =>
        {
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs WHERE status IN ($succeeded, $failed, $canceled) AND updated_at < $before ORDER BY updated_at LIMIT $limit)
                """;
            command.Parameters.AddWithValue("$succeeded", (int)JobStatus.Succeeded);
            command.Parameters.AddWithValue("$failed", (int)JobStatus.Failed);
            command.Parameters.AddWithValue("$canceled", (int)JobStatus.Canceled);
            command.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$limit", limit);
            deleted = command.ExecuteNonQuery();
        }, cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    private static void AddParameters(SqliteParameterCollection p, Job job)
    {
        p.AddWithValue("$id", job.Id);
        p.AddWithValue("$type", job.Type);
        p.AddWithValue("$status", (int)job.Status);
        p.AddWithValue("$progress", (object?)job.Progress ?? DBNull.Value);
        p.AddWithValue("$input", job.Input);
        p.AddWithValue("$result", (object?)job.Result ?? DBNull.Value);
        p.AddWithValue("$error", (object?)job.Error ?? DBNull.Value);
        p.AddWithValue("$attempts", job.Attempts);
        p.AddWithValue("$maxAttempts", job.MaxAttempts);
        p.AddWithValue("$key", (object?)job.IdempotencyKey ?? DBNull.Value);
        p.AddWithValue("$createdAt", job.CreatedAt.ToUnixTimeMilliseconds());
        p.AddWithValue("$updatedAt", job.UpdatedAt.ToUnixTimeMilliseconds());
        p.AddWithValue("$availableAt", job.AvailableAt.ToUnixTimeMilliseconds());
        p.AddWithValue("$version", job.Version);
        p.AddWithValue("$leaseId", (object?)job.Lease?.Id ?? DBNull.Value);
        p.AddWithValue("$leaseExpiresAt", job.Lease is { } lease ? lease.ExpiresAt.ToUnixTimeMilliseconds() : DBNull.Value);
        p.AddWithValue("$leaseWorker", (object?)job.Lease?.Worker ?? DBNull.Value);
        p.AddWithValue("$leaseMs", job.Lease?.Duration is { } duration ? (long)duration.TotalMilliseconds : DBNull.Value);
        p.AddWithValue("$lastLeaseId", (object?)job.LastLeaseId ?? DBNull.Value);
    }

    private static async Task<List<Job>> ReadJobsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var jobs = new List<Job>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            jobs.Add(new Job
            {
                Id = reader.GetString(0),
                Type = reader.GetString(1),
                Status = (JobStatus)reader.GetInt32(2),
                Progress = reader.IsDBNull(3) ? null : reader.GetInt32(3),
                Input = reader.GetString(4),
                Result = reader.IsDBNull(5) ? null : reader.GetString(5),
                Error = reader.IsDBNull(6) ? null : reader.GetString(6),
                Attempts = reader.GetInt32(7),
                MaxAttempts = reader.GetInt32(8),
                IdempotencyKey = reader.IsDBNull(9) ? null : reader.GetString(9),
                CreatedAt = Time(reader.GetInt64(10)),
                UpdatedAt = Time(reader.GetInt64(11)),
                AvailableAt = Time(reader.GetInt64(12)),
                Version = reader.GetInt64(13),
                Lease = reader.IsDBNull(14) ? null : new JobLease(reader.GetString(14), Time(reader.GetInt64(15)), reader.IsDBNull(16) ? null : reader.GetString(16),
                    reader.IsDBNull(17) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(17))),
                LastLeaseId = reader.IsDBNull(18) ? null : reader.GetString(18),
            });
        }

        return jobs;
    }

    private static DateTimeOffset Time(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _save?.Dispose();
        _delete?.Dispose();
        return _file.DisposeAsync();
    }
}
