using Microsoft.Data.Sqlite;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// Webhook state in the hub's SQLite file, next to the log: endpoints with their cursors, deliveries that
/// await a retry or failed for good, and the attempt log. Writes arrive in batches from one writer (the
/// dispatcher's journal) and commit as one transaction each; reads use pooled connections.
/// </summary>
public sealed class SqliteWebhookStore : IWebhookStore
{
    private const char ListSeparator = '\n'; // topic patterns and event types never contain control characters

    private readonly SqliteStoreFile _file;
    private readonly WebhookSecretProtection _protection;

    /// <summary>Opens the store in the database file at <paramref name="path"/>, creating its tables; it writes on its own connection.</summary>
    public SqliteWebhookStore(string path)
        : this(path, null, null)
    {
    }

    /// <summary>
    /// Opens the store in the same file as <paramref name="log"/> and writes through the log's writer thread: one
    /// writer per file means no contention for SQLite's write lock (measured: a second writer connection made
    /// publish acks wait hundreds of milliseconds behind webhook commits), and no blocking commit on a pool thread.
    /// </summary>
    public SqliteWebhookStore(SqliteEventLog log, string path)
        : this(path, log, null)
    {
    }

    /// <summary>
    /// Signing secrets and URLs with credentials are encrypted with <paramref name="protection"/>; by default with a
    /// Data Protection key ring in <c>&lt;path&gt;.keys</c> beside the database.
    /// </summary>
    internal SqliteWebhookStore(string path, SqliteEventLog? log, WebhookSecretProtection? protection)
    {
        _file = new SqliteStoreFile(path, log, Schema);
        // Files made before attempt counts were kept: their endpoints start counting at 0.
        _file.AddColumnIfMissing("webhook_endpoints", "attempts_succeeded", "INTEGER NOT NULL DEFAULT 0");
        _file.AddColumnIfMissing("webhook_endpoints", "attempts_failed", "INTEGER NOT NULL DEFAULT 0");
        _protection = protection ?? WebhookSecretProtection.ForDirectory(WebhookSecretProtection.DefaultKeysDirectory(path));
    }

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS webhook_endpoints (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            topics TEXT NOT NULL,
            types TEXT NOT NULL,
            description TEXT,
            mode INTEGER NOT NULL,
            max_in_flight INTEGER NOT NULL,
            rate_limit INTEGER,
            status INTEGER NOT NULL,
            disabled_reason TEXT,
            secret TEXT NOT NULL,
            previous_secret TEXT,
            previous_secret_expires_at INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            after_seq INTEGER NOT NULL,
            delivered INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            failing_since INTEGER,
            attempts_succeeded INTEGER NOT NULL DEFAULT 0,
            attempts_failed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS webhook_deliveries (
            endpoint_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            status INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_error TEXT,
            PRIMARY KEY (endpoint_id, seq)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS webhook_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            endpoint_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            time INTEGER NOT NULL,
            succeeded INTEGER NOT NULL,
            status_code INTEGER,
            latency_ms REAL NOT NULL,
            error TEXT,
            response_body TEXT);
        CREATE INDEX IF NOT EXISTS webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, id);
        """;

    /// <inheritdoc />
    public async Task<WebhookSnapshot> LoadAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        var endpoints = new List<WebhookEndpoint>();
        var clearText = new List<WebhookEndpoint>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, url, topics, types, description, mode, max_in_flight, rate_limit, status, disabled_reason, secret, previous_secret, previous_secret_expires_at, created_at, updated_at, after_seq, delivered, failed, failing_since, attempts_succeeded, attempts_failed FROM webhook_endpoints ORDER BY created_at";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var storedUrl = reader.GetString(1);
                var storedSecret = reader.GetString(10);
                var storedPrevious = reader.IsDBNull(11) ? null : reader.GetString(11);
                endpoints.Add(new WebhookEndpoint
                {
                    Id = reader.GetString(0),
                    Url = _protection.Unprotect(storedUrl),
                    Topics = SplitList(reader.GetString(2)),
                    Types = SplitList(reader.GetString(3)),
                    Description = reader.IsDBNull(4) ? null : reader.GetString(4),
                    Mode = (WebhookMode)reader.GetInt32(5),
                    MaxInFlight = reader.GetInt32(6),
                    RateLimitPerSecond = reader.IsDBNull(7) ? null : reader.GetInt32(7),
                    Status = (WebhookStatus)reader.GetInt32(8),
                    DisabledReason = reader.IsDBNull(9) ? null : reader.GetString(9),
                    Secret = _protection.Unprotect(storedSecret),
                    PreviousSecret = _protection.UnprotectOptional(storedPrevious),
                    PreviousSecretExpiresAt = TimeOrNull(reader, 12),
                    CreatedAt = Time(reader.GetInt64(13)),
                    UpdatedAt = Time(reader.GetInt64(14)),
                    Progress = new WebhookProgress(reader.GetInt64(15), reader.GetInt64(16), reader.GetInt64(17), TimeOrNull(reader, 18), reader.GetInt64(19), reader.GetInt64(20)),
                });
                if (!WebhookSecretProtection.IsProtected(storedSecret) || !WebhookSecretProtection.IsProtected(storedPrevious) || WebhookSecretProtection.UrlNeedsProtection(storedUrl))
                {
                    clearText.Add(endpoints[^1]);
                }
            }
        }

        if (clearText.Count > 0)
        {
            await ProtectClearTextAsync(clearText, cancellationToken).ConfigureAwait(false);
        }

        var pending = new List<WebhookDelivery>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT endpoint_id, seq, attempts, status, next_attempt_at, updated_at, last_error FROM webhook_deliveries WHERE status = $pending ORDER BY endpoint_id, seq";
            command.Parameters.AddWithValue("$pending", (int)WebhookDeliveryStatus.Pending);
            pending.AddRange(await ReadDeliveriesAsync(command, cancellationToken).ConfigureAwait(false));
        }

        return new WebhookSnapshot(endpoints, pending);
    }

    /// <summary>Rewrites rows an older version stored in clear text (secrets, URLs with credentials), encrypted.</summary>
    private Task ProtectClearTextAsync(IReadOnlyList<WebhookEndpoint> endpoints, CancellationToken cancellationToken) => _file.WriteAsync(transaction =>
    {
        using var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "UPDATE webhook_endpoints SET url = $url, secret = $secret, previous_secret = $previous WHERE id = $id";
        var id = command.Parameters.Add("$id", SqliteType.Text);
        var url = command.Parameters.Add("$url", SqliteType.Text);
        var secret = command.Parameters.Add("$secret", SqliteType.Text);
        var previous = command.Parameters.Add("$previous", SqliteType.Text);
        foreach (var endpoint in endpoints)
        {
            id.Value = endpoint.Id;
            url.Value = _protection.ProtectUrl(endpoint.Url);
            secret.Value = _protection.Protect(endpoint.Secret);
            previous.Value = (object?)_protection.ProtectOptional(endpoint.PreviousSecret) ?? DBNull.Value;
            command.ExecuteNonQuery();
        }
    }, cancellationToken);

    /// <inheritdoc />
    public async Task ApplyAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default)
    {
        if (changes.Count == 0)
        {
            return;
        }

        await _file.WriteAsync(transaction =>
        {
            // One command per kind of change for the whole batch, so SQLite parses each statement once per batch
            // rather than once per row (a batch is mostly attempt rows and progress updates).
            var commands = new Dictionary<Type, SqliteCommand>();
            try
            {
                foreach (var change in changes)
                {
                    if (!commands.TryGetValue(change.GetType(), out var command))
                    {
                        commands[change.GetType()] = command = transaction.Connection!.CreateCommand();
                        command.Transaction = transaction;
                    }

                    command.Parameters.Clear();
                    Prepare(command, change);
                    if (change is WebhookAttemptAdded added)
                    {
                        // RETURNING id: the one statement both stores the attempt and tells its id (none when the
                        // endpoint is gone and nothing was stored).
                        added.AssignedId = command.ExecuteScalar() is long id ? id : 0;
                    }
                    else
                    {
                        command.ExecuteNonQuery();
                    }
                }
            }
            finally
            {
                foreach (var command in commands.Values)
                {
                    command.Dispose();
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private void Prepare(SqliteCommand command, WebhookChange change)
    {
        var p = command.Parameters;
        switch (change)
        {
            case WebhookEndpointSaved { Endpoint: var e }:
                // Progress columns are written on insert only; afterwards only WebhookProgressSaved moves them.
                SetText(command, """
                    INSERT INTO webhook_endpoints (id, url, topics, types, description, mode, max_in_flight, rate_limit, status, disabled_reason, secret, previous_secret, previous_secret_expires_at, created_at, updated_at, after_seq, delivered, failed, failing_since, attempts_succeeded, attempts_failed)
                    VALUES ($id, $url, $topics, $types, $description, $mode, $maxInFlight, $rateLimit, $status, $disabledReason, $secret, $previousSecret, $previousExpires, $createdAt, $updatedAt, $afterSeq, $delivered, $failed, $failingSince, $attemptsSucceeded, $attemptsFailed)
                    ON CONFLICT (id) DO UPDATE SET url = excluded.url, topics = excluded.topics, types = excluded.types, description = excluded.description,
                        mode = excluded.mode, max_in_flight = excluded.max_in_flight, rate_limit = excluded.rate_limit, status = excluded.status,
                        disabled_reason = excluded.disabled_reason, secret = excluded.secret, previous_secret = excluded.previous_secret,
                        previous_secret_expires_at = excluded.previous_secret_expires_at, updated_at = excluded.updated_at
                    """);
                p.AddWithValue("$id", e.Id);
                p.AddWithValue("$url", _protection.ProtectUrl(e.Url));
                p.AddWithValue("$topics", string.Join(ListSeparator, e.Topics));
                p.AddWithValue("$types", string.Join(ListSeparator, e.Types));
                p.AddWithValue("$description", (object?)e.Description ?? DBNull.Value);
                p.AddWithValue("$mode", (int)e.Mode);
                p.AddWithValue("$maxInFlight", e.MaxInFlight);
                p.AddWithValue("$rateLimit", (object?)e.RateLimitPerSecond ?? DBNull.Value);
                p.AddWithValue("$status", (int)e.Status);
                p.AddWithValue("$disabledReason", (object?)e.DisabledReason ?? DBNull.Value);
                p.AddWithValue("$secret", _protection.Protect(e.Secret));
                p.AddWithValue("$previousSecret", (object?)_protection.ProtectOptional(e.PreviousSecret) ?? DBNull.Value);
                p.AddWithValue("$previousExpires", Millis(e.PreviousSecretExpiresAt));
                p.AddWithValue("$createdAt", e.CreatedAt.ToUnixTimeMilliseconds());
                p.AddWithValue("$updatedAt", e.UpdatedAt.ToUnixTimeMilliseconds());
                AddProgress(p, e.Progress);
                break;
            case WebhookEndpointDeleted { EndpointId: var id }:
                SetText(command, """
                    DELETE FROM webhook_endpoints WHERE id = $id;
                    DELETE FROM webhook_deliveries WHERE endpoint_id = $id;
                    DELETE FROM webhook_attempts WHERE endpoint_id = $id;
                    """);
                p.AddWithValue("$id", id);
                break;
            case WebhookProgressSaved { EndpointId: var id, Progress: var progress }:
                SetText(command, "UPDATE webhook_endpoints SET after_seq = $afterSeq, delivered = $delivered, failed = $failed, failing_since = $failingSince, attempts_succeeded = $attemptsSucceeded, attempts_failed = $attemptsFailed WHERE id = $id");
                p.AddWithValue("$id", id);
                AddProgress(p, progress);
                break;
            case WebhookDeliverySaved { Delivery: var d }:
                SetText(command, """
                    INSERT OR REPLACE INTO webhook_deliveries (endpoint_id, seq, attempts, status, next_attempt_at, updated_at, last_error)
                    SELECT $endpointId, $seq, $attempts, $status, $nextAttemptAt, $updatedAt, $lastError WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $endpointId)
                    """);
                p.AddWithValue("$endpointId", d.EndpointId);
                p.AddWithValue("$seq", d.Seq);
                p.AddWithValue("$attempts", d.Attempts);
                p.AddWithValue("$status", (int)d.Status);
                p.AddWithValue("$nextAttemptAt", d.NextAttemptAt.ToUnixTimeMilliseconds());
                p.AddWithValue("$updatedAt", d.UpdatedAt.ToUnixTimeMilliseconds());
                p.AddWithValue("$lastError", (object?)d.LastError ?? DBNull.Value);
                break;
            case WebhookDeliveryRemoved { EndpointId: var id, Seq: var seq }:
                SetText(command, "DELETE FROM webhook_deliveries WHERE endpoint_id = $id AND seq = $seq");
                p.AddWithValue("$id", id);
                p.AddWithValue("$seq", seq);
                break;
            case WebhookAttemptAdded { Attempt: var a }:
                SetText(command, """
                    INSERT INTO webhook_attempts (endpoint_id, seq, attempt, time, succeeded, status_code, latency_ms, error, response_body)
                    SELECT $endpointId, $seq, $attempt, $time, $succeeded, $statusCode, $latency, $error, $body WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $endpointId)
                    RETURNING id
                    """);
                p.AddWithValue("$endpointId", a.EndpointId);
                p.AddWithValue("$seq", a.Seq);
                p.AddWithValue("$attempt", a.Attempt);
                p.AddWithValue("$time", a.Time.ToUnixTimeMilliseconds());
                p.AddWithValue("$succeeded", a.Succeeded ? 1 : 0);
                p.AddWithValue("$statusCode", (object?)a.StatusCode ?? DBNull.Value);
                p.AddWithValue("$latency", a.LatencyMs);
                p.AddWithValue("$error", (object?)a.Error ?? DBNull.Value);
                p.AddWithValue("$body", (object?)a.ResponseBody ?? DBNull.Value);
                break;
            default:
                throw new ArgumentException($"Unknown change {change.GetType().Name}.", nameof(change));
        }
    }

    /// <summary>Sets the SQL only when it differs, so a reused command keeps its prepared statement.</summary>
    private static void SetText(SqliteCommand command, string sql)
    {
        if (!ReferenceEquals(command.CommandText, sql) && command.CommandText != sql)
        {
            command.CommandText = sql;
        }
    }

    private static void AddProgress(SqliteParameterCollection p, WebhookProgress progress)
    {
        p.AddWithValue("$afterSeq", progress.AfterSeq);
        p.AddWithValue("$delivered", progress.Delivered);
        p.AddWithValue("$failed", progress.Failed);
        p.AddWithValue("$failingSince", Millis(progress.FailingSince));
        p.AddWithValue("$attemptsSucceeded", progress.SucceededAttempts);
        p.AddWithValue("$attemptsFailed", progress.FailedAttempts);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WebhookAttempt>> ReadAttemptsAsync(string endpointId, bool? succeeded, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT id, endpoint_id, seq, attempt, time, succeeded, status_code, latency_ms, error, response_body FROM webhook_attempts
            WHERE endpoint_id = $id {(succeeded is null ? "" : "AND succeeded = $succeeded")} ORDER BY id DESC LIMIT $limit
            """;
        command.Parameters.AddWithValue("$id", endpointId);
        command.Parameters.AddWithValue("$succeeded", succeeded == true ? 1 : 0);
        command.Parameters.AddWithValue("$limit", limit);
        var attempts = new List<WebhookAttempt>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            attempts.Add(new WebhookAttempt(
                reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt32(3), Time(reader.GetInt64(4)), reader.GetInt32(5) == 1,
                reader.IsDBNull(6) ? null : reader.GetInt32(6), reader.GetDouble(7), reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9)));
        }

        return attempts;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WebhookDelivery>> ReadFailedAsync(string endpointId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await _file.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT endpoint_id, seq, attempts, status, next_attempt_at, updated_at, last_error FROM webhook_deliveries
            WHERE endpoint_id = $id AND status = $failed AND updated_at >= $since ORDER BY seq LIMIT $limit
            """;
        command.Parameters.AddWithValue("$id", endpointId);
        command.Parameters.AddWithValue("$failed", (int)WebhookDeliveryStatus.Failed);
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadDeliveriesAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task TrimAttemptsAsync(int keepPerEndpoint, CancellationToken cancellationToken = default)
    {
        await _file.WriteAsync(transaction =>
        {
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                DELETE FROM webhook_attempts WHERE id IN (
                    SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY id DESC) AS newest FROM webhook_attempts)
                    WHERE newest > $keep)
                """;
            command.Parameters.AddWithValue("$keep", keepPerEndpoint);
            command.ExecuteNonQuery();
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<WebhookDelivery>> ReadDeliveriesAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var deliveries = new List<WebhookDelivery>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            deliveries.Add(new WebhookDelivery(reader.GetString(0), reader.GetInt64(1), reader.GetInt32(2), (WebhookDeliveryStatus)reader.GetInt32(3),
                Time(reader.GetInt64(4)), Time(reader.GetInt64(5)), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return deliveries;
    }

    private static IReadOnlyList<string> SplitList(string value) => value.Length == 0 ? [] : value.Split(ListSeparator);

    private static DateTimeOffset Time(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis);

    private static DateTimeOffset? TimeOrNull(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));

    private static object Millis(DateTimeOffset? time) => time is { } value ? value.ToUnixTimeMilliseconds() : DBNull.Value;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _file.DisposeAsync();
}
