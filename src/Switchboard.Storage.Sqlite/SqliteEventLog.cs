using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Cursors;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// The default durable log. All writes go through one writer task that drains a bounded queue and commits
/// everything waiting in one transaction (group commit), so concurrent publishers share a sync. Readers near
/// the tail are served from memory; readers behind it query the file on pooled connections.
/// </summary>
public sealed partial class SqliteEventLog : IEventLog, IStoreHealth
{
    private readonly SqliteEventLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly SqliteConnection _writerConnection;
    private SqliteCommand? _insertEvent, _findKey, _insertKey;
    private readonly WriteQueue<WriteOperation> _writes;
    private readonly WalCheckpointer _checkpointer;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TopicRegistry _topics = new();
    private readonly SqliteTopicRows _rows = new(); // the writer thread's: what retention needs per topic
    private readonly RecentEventsRing _ring;
    private long _head;
    private long _commits;
    private long _trimTopicsExamined;
    private bool _full; // only the writer thread touches it: true from a failed write for lack of space until the next commit
    private readonly StoreFaultState _faults;

    /// <summary>
    /// Opens (or creates) the database and starts the writer. <paramref name="retention"/>, the rules trims will
    /// likely be given, lets the open sort topics by rule once, rather than the first trim doing it on the writer.
    /// </summary>
    public SqliteEventLog(SqliteEventLogOptions options, TimeProvider? timeProvider = null, ILogger<SqliteEventLog>? logger = null, RetentionPolicy? retention = null)
    {
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<SqliteEventLog>.Instance;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Microsoft.Data.Sqlite retries a busy file until this many seconds have passed, on top of the busy_timeout
            // below: 5 s in all, so a lock held by another process is a 503 after 5 s, not after 35.
            DefaultTimeout = 5,
        }.ToString();
        _writerConnection = new SqliteConnection(_connectionString);
        try
        {
            var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(options.Path));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            SqliteFilePermissions.Prepare(options.Path);
            _writerConnection.Open();
            Execute(_writerConnection, $"PRAGMA journal_mode=WAL; PRAGMA synchronous={options.Synchronous}; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint={WalCheckpointer.WriterFallbackPages};");
            if (options.MaxPageCount is { } maxPages)
            {
                Execute(_writerConnection, $"PRAGMA max_page_count={maxPages};");
            }

            Execute(_writerConnection, Schema);
            Epoch = LoadOrCreateEpoch();
            if (retention is not null)
            {
                _rows.Adopt(retention);
            }

            _head = LoadTopicsAndHead();
            _rows.EndLoad();
        }
        catch (Exception ex) when (SqliteOpenFailure.IsOpenFailure(ex))
        {
            _writerConnection.Dispose();
            throw SqliteOpenFailure.Translate(ex, options.Path);
        }

        _ring = new RecentEventsRing(options.TailCacheSize, _head, options.TailCacheBytes);
        _writes = new WriteQueue<WriteOperation>(options.WriteQueueCapacity);
        _checkpointer = new WalCheckpointer(_connectionString, options.CheckpointDelay, _time, _logger);
        _faults = new StoreFaultState(_time, ProbeAsync);
        // A dedicated thread: SQLite commits block (a sync can take milliseconds), and a blocked thread-pool
        // thread on a 2-core machine starves every request and stream until the pool grows.
        var writerThread = new Thread(WriteLoop) { IsBackground = true, Name = "Switchboard SQLite writer" };
        writerThread.Start();
        LogOpened(_logger, System.IO.Path.GetFullPath(options.Path), Epoch, _head);
    }

    /// <inheritdoc />
    public string Epoch { get; }

    /// <inheritdoc />
    public long HeadSeq => Volatile.Read(ref _head);

    /// <inheritdoc />
    public SubscriptionIndex Subscriptions { get; } = new();

    /// <summary>Where group commits are measured (batch size, duration); set by the registration, null when constructed alone.</summary>
    internal Switchboard.Metrics.SwitchboardMetrics? Metrics { get; set; }

    /// <summary>Transactions committed since open; appends per commit shows group commit at work.</summary>
    internal long CommitCount => Interlocked.Read(ref _commits);

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY,
            topic TEXT NOT NULL,
            type TEXT NOT NULL,
            time INTEGER NOT NULL,
            data BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS events_by_topic ON events (topic, seq);
        CREATE TABLE IF NOT EXISTS topics (topic TEXT PRIMARY KEY, trimmed_through INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS idempotency (
            key TEXT PRIMARY KEY,
            request_hash BLOB NOT NULL,
            response BLOB NOT NULL,
            expires_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at);
        """;

    /// <inheritdoc />
    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency = null, CancellationToken cancellationToken = default)
    {
        if (events.Count == 0)
        {
            return new AppendResult(AppendOutcome.Appended, []);
        }

        var operation = new AppendOperation(events, idempotency);
        await _writes.EnqueueAsync(operation, cancellationToken).ConfigureAwait(false);
        // Once queued, the append happens even if the caller gives up: the caller just stops waiting.
        return (AppendResult)await operation.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        if (_topics.FindGap(filter, afterSeq) is { } gap)
        {
            return new LogReadResult([], afterSeq, gap);
        }

        var head = HeadSeq;
        if (afterSeq >= head)
        {
            return new LogReadResult([], afterSeq);
        }

        if (_ring.TryRead(filter, afterSeq, head, limit, out var fromMemory))
        {
            return fromMemory;
        }

        return await ReadFromStoreAsync(filter, afterSeq, head, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<EventRecord?> ReadEventAsync(long seq, CancellationToken cancellationToken = default)
    {
        if (seq < 1 || seq > HeadSeq)
        {
            return null;
        }

        // The ring keeps events retention already removed from the file; never hand those out. Where the trim point
        // is a retired one, which may cover events still kept, the file decides.
        if (_ring.Find(seq) is { } cached && seq > _topics.TrimmedThrough(cached.Topic))
        {
            return cached;
        }

        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT topic, type, time, data FROM events WHERE seq = $seq";
        command.Parameters.AddWithValue("$seq", seq);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new EventRecord(Epoch, seq, reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)), (byte[])reader.GetValue(3))
            : null;
    }

    /// <inheritdoc />
    public long EarliestAfterSeq(TopicFilter filter) => _topics.MaxTrimmed(filter);

    /// <inheritdoc />
    public async ValueTask<long> AfterSeqForLastAsync(TopicFilter filter, int count, CancellationToken cancellationToken = default)
    {
        var head = HeadSeq;
        var earliest = _topics.MaxTrimmed(filter);
        if (count <= 0)
        {
            return head;
        }

        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var exact = filter.ExactTopics;
        var topicClause = exact is null ? "" : $"topic IN ({TopicParameters(command, exact)}) AND ";

        // Wildcards scan backwards from the head, bounded: a room's history is its recent past.
        var scanLimit = exact is null ? Math.Max(_options.MaxScanRows, count) * 4 : count;
        command.CommandText = $"SELECT seq, topic FROM events WHERE {topicClause}seq <= $head ORDER BY seq DESC LIMIT $limit";
        command.Parameters.AddWithValue("$head", head);
        command.Parameters.AddWithValue("$limit", scanLimit);
        var found = 0;
        var rows = 0;
        long lastScanned = head;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows++;
            lastScanned = reader.GetInt64(0);
            if (filter.Matches(reader.GetString(1)) && ++found == count)
            {
                return Math.Max(lastScanned - 1, earliest);
            }
        }

        // Fewer matches than asked: the whole retained history, unless the bounded scan stopped first.
        return rows < scanLimit ? earliest : Math.Max(lastScanned - 1, earliest);
    }

    /// <inheritdoc />
    public async Task<TrimResult> TrimAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        // In slices of bounded work, each its own commit, so publishes are committed between them: a pass that has a
        // million events to remove holds the writer for one slice at a time, not for the whole pass.
        long deletedEvents = 0, deletedKeys = 0;
        while (true)
        {
            var operation = new TrimOperation(policy, now);
            await _writes.EnqueueAsync(operation, cancellationToken).ConfigureAwait(false);
            var slice = (TrimSlice)await operation.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            deletedEvents += slice.DeletedEvents;
            deletedKeys += slice.DeletedKeys;
            // A slice that removed nothing cannot be followed by one that does: stop rather than spin on the writer.
            if (slice.Finished || slice.DeletedEvents + slice.DeletedKeys == 0)
            {
                return new TrimResult(deletedEvents, deletedKeys);
            }
        }
    }

    /// <summary>Topics the log keeps state for in memory: those with retained events, and trimmed ones not yet emptied.</summary>
    internal int KnownTopics => _topics.Count;

    /// <summary>Topics the last trim passes examined (queried the file for); retention's cost, which tests bound.</summary>
    internal long TrimTopicsExamined => Interlocked.Read(ref _trimTopicsExamined);

    /// <summary>
    /// Runs <paramref name="write"/> inside the writer's next group commit, so other state kept in this file (webhooks)
    /// shares the one writer instead of contending for SQLite's write lock. It runs in a savepoint: if it throws, only
    /// its own changes roll back and the exception reaches the caller.
    /// </summary>
    internal async Task ExecuteWriteAsync(Action<SqliteTransaction> write, CancellationToken cancellationToken = default)
    {
        var operation = new ExternalWriteOperation(write);
        await _writes.EnqueueAsync(operation, cancellationToken).ConfigureAwait(false);
        await operation.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="write"/> and appends <paramref name="events"/> in one savepoint of the writer's next group
    /// commit: other state in this file (a job row) and the events that announce its change are stored together or not
    /// at all, in one writer round trip. If the write throws, neither happens and the exception reaches the caller.
    /// </summary>
    internal async Task<AppendResult> ExecuteWriteAndAppendAsync(Action<SqliteTransaction> write, IReadOnlyList<EventDraft> events, CancellationToken cancellationToken = default)
    {
        var operation = new ExternalWriteOperation(write, events);
        await _writes.EnqueueAsync(operation, cancellationToken).ConfigureAwait(false);
        return (AppendResult)await operation.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Test hook: caps the file at <paramref name="pages"/> pages on the writer's connection (SQLite never goes below the
    /// current size, so a small number means "no growth from here"), the way a full disk refuses growth. Returns the cap in force.
    /// </summary>
    internal async Task<long> SetMaxPageCountAsync(long pages)
    {
        long result = 0;
        await ExecuteWriteAsync(transaction =>
        {
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"PRAGMA max_page_count={pages}";
            result = (long)command.ExecuteScalar()!;
        }).ConfigureAwait(false);
        return result;
    }

    /// <inheritdoc />
    public Switchboard.Problems.SwitchboardException? CurrentFault => _faults.Current;

    /// <summary>
    /// The readiness probe of a faulted store (at most once per <see cref="StoreFaultState.ProbeInterval"/>): one
    /// write through the writer, which meets the lock, the read-only file, the I/O error or the file that cannot grow
    /// as a publish would, and for a full store, whether there is room to add events again.
    /// </summary>
    private async Task<Switchboard.Problems.SwitchboardException?> ProbeAsync(CancellationToken cancellationToken)
    {
        var capped = false;
        try
        {
            await ExecuteWriteAsync(transaction =>
            {
                using var command = transaction.Connection!.CreateCommand();
                command.Transaction = transaction;
                // 64 KiB, committed: about what a large event adds to the WAL, so a file (or WAL) that cannot grow, or
                // a file-size limit it has reached, refuses the probe as it refuses a publish. Rewritten in place by
                // the next probe, so the file keeps one such row.
                command.CommandText = "INSERT INTO meta (key, value) VALUES ('health_probe', randomblob(65536)) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
                command.ExecuteNonQuery();
                // An update in place fits in a full file; a file at its page cap with no free page cannot take an event.
                command.Parameters.Clear();
                command.CommandText = "SELECT (SELECT page_count FROM pragma_page_count()) >= (SELECT max_page_count FROM pragma_max_page_count()) AND (SELECT freelist_count FROM pragma_freelist_count()) = 0";
                capped = Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && Fault(ex) is { } fault)
        {
            return fault;
        }

        return capped || SqliteFullDisk.NoRoom(_options.Path)
            ? Switchboard.Problems.StoreProblems.Full(new StoreFullException($"The SQLite store at {System.IO.Path.GetFileName(_options.Path)} is full: the disk has no room left (or the file reached its size limit). Free disk space; the hub recovers by itself."))
            : null;
    }

    /// <summary>The error a write refused by the file (not by the request) answers, or null for any other failure.</summary>
    private Switchboard.Problems.SwitchboardException? Fault(Exception exception) => SqliteFullDisk.Translate(exception, _options.Path) is StoreFullException full
        ? Switchboard.Problems.StoreProblems.Full(full)
        : SqliteStoreFaults.ClassifyFault(exception);

    /// <summary>Stops accepting writes, commits everything already queued, and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _writes.Complete();
        await _writerStopped.Task.ConfigureAwait(false);
        _checkpointer.Dispose();
        _insertEvent?.Dispose();
        _findKey?.Dispose();
        _insertKey?.Dispose();
        SqliteConnection.ClearPool(_writerConnection);
        await _writerConnection.DisposeAsync().ConfigureAwait(false);
    }

    private static string TopicParameters(SqliteCommand command, IReadOnlyList<string> topics)
    {
        var names = new StringBuilder();
        for (var i = 0; i < topics.Count; i++)
        {
            names.Append(i == 0 ? "" : ", ").Append("$t").Append(i);
            command.Parameters.AddWithValue("$t" + i, topics[i]);
        }

        return names.ToString();
    }

    private async Task<LogReadResult> ReadFromStoreAsync(TopicFilter filter, long afterSeq, long head, int limit, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var exact = filter.ExactTopics;
        var scanLimit = exact is null ? Math.Max(_options.MaxScanRows, limit) : limit;
        // Exact topics read through the (topic, seq) index instead of scanning the whole log.
        var topicClause = exact is null ? "" : $"topic IN ({TopicParameters(command, exact)}) AND ";

        command.CommandText = $"SELECT seq, topic, type, time, data FROM events WHERE {topicClause}seq > $after AND seq <= $head ORDER BY seq LIMIT $limit";
        command.Parameters.AddWithValue("$after", afterSeq);
        command.Parameters.AddWithValue("$head", head);
        command.Parameters.AddWithValue("$limit", scanLimit);

        var found = new List<EventRecord>();
        var rows = 0;
        var lastSeq = afterSeq;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows++;
            lastSeq = reader.GetInt64(0);
            var topic = reader.GetString(1);
            if (!filter.Matches(topic))
            {
                continue;
            }

            found.Add(new EventRecord(Epoch, lastSeq, topic, reader.GetString(2),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), (byte[])reader.GetValue(4)));
            if (found.Count == limit)
            {
                return new LogReadResult(found, lastSeq);
            }
        }

        // Fewer rows than asked means nothing else exists up to the head we read against.
        var next = rows < scanLimit ? head : lastSeq;

        // Retention may have removed events while we read; never hand those out as "nothing there".
        if (_topics.FindGap(filter, afterSeq) is { } gap)
        {
            return new LogReadResult([], afterSeq, gap);
        }

        return new LogReadResult(found, next);
    }

    private void WriteLoop()
    {
        var batch = new List<WriteOperation>();
        // Blocking is the point of this thread; everything else in the hub stays asynchronous. A publisher that finds it
        // parked wakes it directly (one wake-up per group commit); acks are set only after the commit returns.
        while (_writes.WaitAndTake(batch, static operation => operation is AppendOperation append ? append.Events.Count : 1, _options.MaxEventsPerCommit))
        {
            CommitBatch(batch);
            batch.Clear();
        }

        _writerStopped.TrySetResult();
    }

    /// <summary>Background WAL checkpoints that ran.</summary>
    internal long Checkpoints => _checkpointer.Checkpoints;

    /// <summary>Writes queued for the writer and not yet taken into a commit.</summary>
    internal int PendingWrites => _writes.Queued;

    /// <summary>Times the writer thread was woken to commit; with <see cref="CommitCount"/>, the wake-ups per group commit.</summary>
    internal long WriterWakeups => _writes.ConsumerWakeups;

    private void CommitBatch(List<WriteOperation> batch)
    {
        var appended = new List<EventRecord>();
        var trimmed = new List<TopicTrim>();
        var results = new object[batch.Count];
        var nextSeq = _head;
        var started = _time.GetTimestamp();
        try
        {
            using var transaction = _writerConnection.BeginTransaction();
            // Made once on the writer thread and kept, so their statements stay prepared: no SQL parse per commit.
            var insertEvent = _insertEvent ??= Prepare("INSERT INTO events (seq, topic, type, time, data) VALUES ($seq, $topic, $type, $time, $data)", "$seq", "$topic", "$type", "$time", "$data");
            var findKey = _findKey ??= Prepare("SELECT request_hash, response FROM idempotency WHERE key = $key", "$key");
            var insertKey = _insertKey ??= Prepare("INSERT INTO idempotency (key, request_hash, response, expires_at) VALUES ($key, $hash, $response, $expires)", "$key", "$hash", "$response", "$expires");
            insertEvent.Transaction = findKey.Transaction = insertKey.Transaction = transaction;
            var time = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
            for (var i = 0; i < batch.Count; i++)
            {
                switch (batch[i])
                {
                    case AppendOperation append:
                        results[i] = Append(append, time, insertEvent, findKey, insertKey, appended, ref nextSeq);
                        break;
                    case TrimOperation trim:
                        results[i] = Trim(transaction, trim, trimmed);
                        break;
                    case ExternalWriteOperation external:
                        results[i] = RunExternal(transaction, external, i, time, insertEvent, findKey, insertKey, appended, ref nextSeq);
                        break;
                }
            }

            transaction.Commit();
            Interlocked.Increment(ref _commits);
            _checkpointer.Committed();
            if (appended.Count > 0)
            {
                Metrics?.Committed(appended.Count, _time.GetElapsedTime(started));
            }
        }
        catch (Exception ex) when (batch.Count > 1 && SqliteFullDisk.IsFull(ex, _options.Path))
        {
            // SQLite aborts the whole transaction on SQLITE_FULL, so one write that needs room (a large publish, the
            // readiness probe) would fail every write grouped with it, even those that fit (updates in place, a
            // pragma). Each one is committed alone instead, and gets its own outcome; this costs only while full.
            foreach (var operation in batch)
            {
                CommitBatch([operation]);
            }

            return;
        }
        catch (Exception ex)
        {
            var failure = SqliteFullDisk.Translate(ex, _options.Path);
            var fault = Fault(ex);
            if (failure is Switchboard.Log.StoreFullException)
            {
                NoteFull(ex);
            }
            else if (fault is null || _faults.Peek is null)
            {
                // A fault of the file (locked, read-only, I/O) is logged with its stack when it starts, not once per
                // refused write while it lasts; anything else is a bug, logged every time.
                LogWriteFailed(_logger, ex, batch.Count);
            }

            if (fault is not null)
            {
                _faults.Failed(fault);
            }

            foreach (var operation in batch)
            {
                operation.Completion.TrySetException(failure);
            }

            return;
        }

        var externalFull = false;
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i] is Exception failed && SqliteFullDisk.IsFull(failed, _options.Path))
            {
                externalFull = true;
                NoteFull(failed);
                results[i] = SqliteFullDisk.Translate(failed, _options.Path);
                _faults.Failed(Switchboard.Problems.StoreProblems.Full((StoreFullException)results[i]));
            }
        }

        // Updates in place (lease renewals, journal progress) still fit in a full file, so only a commit that added events
        // ends the episode; otherwise one episode would flap between "full" and "recovered" in the log.
        if (!externalFull)
        {
            _faults.Succeeded(grew: appended.Count > 0);
        }

        if (_full && !externalFull && appended.Count > 0)
        {
            _full = false;
            LogStoreRecovered(_logger, System.IO.Path.GetFullPath(_options.Path));
        }

        // Publish in order: memory, then the head (readers trust everything up to it), then wake the readers it matches.
        // Trims first: a topic this commit emptied and then published to again starts over at its new event.
        foreach (var trim in trimmed)
        {
            _topics.Trimmed(trim.Topic, trim.Through);
            _rows.Trimmed(trim.Topic, trim.Deleted, trim.NextOldestSeq);
            if (trim.NextOldestSeq == 0)
            {
                _topics.Retire(trim.Topic, trim.RetiredRegion!);
            }
        }

        foreach (var record in appended)
        {
            _ring.Add(record);
            _topics.Appended(record.Topic, record.Seq);
            _rows.Appended(record.Topic, record.Seq);
        }

        Volatile.Write(ref _head, nextSeq);
        for (var i = 0; i < batch.Count; i++)
        {
            if (results[i] is Exception failed)
            {
                batch[i].Completion.TrySetException(failed);
            }
            else
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }

        Subscriptions.Notify(appended);
    }

    /// <summary>A write failed for lack of space: logged once when the episode starts, not once per request.</summary>
    private void NoteFull(Exception cause)
    {
        if (_full)
        {
            return;
        }

        _full = true;
        LogStoreFull(_logger, cause, System.IO.Path.GetFullPath(_options.Path));
    }

    private AppendResult Append(AppendOperation append, DateTimeOffset time, SqliteCommand insertEvent, SqliteCommand findKey, SqliteCommand insertKey, List<EventRecord> appended, ref long nextSeq)
    {
        if (append.Idempotency is { } idempotency)
        {
            findKey.Parameters["$key"].Value = idempotency.Key;
            using var existing = findKey.ExecuteReader();
            if (existing.Read())
            {
                var storedHash = (byte[])existing.GetValue(0);
                if (!storedHash.AsSpan().SequenceEqual(idempotency.RequestHash))
                {
                    return new AppendResult(AppendOutcome.Conflict, []);
                }

                return new AppendResult(AppendOutcome.Replayed, DecodeEvents((byte[])existing.GetValue(1)));
            }
        }

        var records = new EventRecord[append.Events.Count];
        for (var i = 0; i < records.Length; i++)
        {
            var draft = append.Events[i];
            var seq = ++nextSeq;
            insertEvent.Parameters["$seq"].Value = seq;
            insertEvent.Parameters["$topic"].Value = draft.Topic;
            insertEvent.Parameters["$type"].Value = draft.Type;
            insertEvent.Parameters["$time"].Value = time.ToUnixTimeMilliseconds();
            // The array the publish path minified into is bound and kept as is: the payload's only copy.
            var data = draft.DataArray();
            insertEvent.Parameters["$data"].Value = data;
            insertEvent.ExecuteNonQuery();
            records[i] = new EventRecord(Epoch, seq, draft.Topic, draft.Type, time, data);
        }

        if (append.Idempotency is { } key)
        {
            insertKey.Parameters["$key"].Value = key.Key;
            insertKey.Parameters["$hash"].Value = key.RequestHash;
            insertKey.Parameters["$response"].Value = EncodeEvents(records);
            insertKey.Parameters["$expires"].Value = key.ExpiresAt.ToUnixTimeMilliseconds();
            insertKey.ExecuteNonQuery();
        }

        appended.AddRange(records);
        return new AppendResult(AppendOutcome.Appended, records);
    }

    private object RunExternal(SqliteTransaction transaction, ExternalWriteOperation external, int index, DateTimeOffset time,
        SqliteCommand insertEvent, SqliteCommand findKey, SqliteCommand insertKey, List<EventRecord> appended, ref long nextSeq)
    {
        var savepoint = "external" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var seqBefore = nextSeq;
        var appendedBefore = appended.Count;
        transaction.Save(savepoint);
        try
        {
            external.Write(transaction);
            object result = true;
            if (external.Events is { } events)
            {
                // The write's events commit with it, in the same savepoint: both or neither.
                result = Append(new AppendOperation(events, null), time, insertEvent, findKey, insertKey, appended, ref nextSeq);
            }

            transaction.Release(savepoint);
            return result;
        }
        catch (Exception ex)
        {
            // Only this operation's changes roll back; the appends in the same commit are not its hostages.
            // If the rollback itself fails (SQLite already aborted the transaction, as it does on SQLITE_FULL), the
            // whole batch fails, with the write's own error rather than the rollback's.
            nextSeq = seqBefore;
            appended.RemoveRange(appendedBefore, appended.Count - appendedBefore);
            try
            {
                transaction.Rollback(savepoint);
                transaction.Release(savepoint);
            }
            catch (Exception) when (ex is SqliteException)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex);
            }

            return ex;
        }
    }

    /// <summary>
    /// One slice of a retention pass. It visits only topics that can have something to remove: those over the smallest
    /// count limit, and those whose oldest event is older than the shortest age limit. Which events are older than an
    /// age is found once per distinct age by a binary search on seq, since one writer stamps events in seq order.
    /// </summary>
    private TrimSlice Trim(SqliteTransaction transaction, TrimOperation trim, List<TopicTrim> trimmed)
    {
        using var newestAtOrBefore = Prepare(transaction, "SELECT seq FROM events WHERE topic = $topic AND seq <= $seq ORDER BY seq DESC LIMIT 1", "$topic", "$seq");
        using var byCount = Prepare(transaction, "SELECT seq FROM events WHERE topic = $topic ORDER BY seq DESC LIMIT 1 OFFSET $keep", "$topic", "$keep");
        using var delete = Prepare(transaction, "DELETE FROM events WHERE topic = $topic AND seq <= $through", "$topic", "$through");
        using var nextOldest = Prepare(transaction, "SELECT seq FROM events WHERE topic = $topic AND seq > $through ORDER BY seq LIMIT 1", "$topic", "$through");
        using var mark = Prepare(transaction, "INSERT INTO topics (topic, trimmed_through) VALUES ($topic, $through) ON CONFLICT (topic) DO UPDATE SET trimmed_through = excluded.trimmed_through", "$topic", "$through");
        using var forget = Prepare(transaction, "DELETE FROM topics WHERE topic = $topic", "$topic");
        using var retire = Prepare(transaction, """
            INSERT INTO meta (key, value) VALUES ($key, $through) ON CONFLICT (key) DO UPDATE
            SET value = CASE WHEN CAST(excluded.value AS INTEGER) > CAST(value AS INTEGER) THEN excluded.value ELSE value END
            """, "$key", "$through");

        _rows.Adopt(trim.Policy);
        var through = new Dictionary<string, long>(StringComparer.Ordinal);
        var ageBoundaries = new Dictionary<TimeSpan, long>(); // the newest seq stamped before each distinct age's cutoff
        for (var rule = 0; rule < trim.Policy.Rules.Count && through.Count < TrimSliceTopics; rule++)
        {
            if (trim.Policy.Rules[rule].MaxAge is not { } age)
            {
                continue;
            }

            if (!ageBoundaries.TryGetValue(age, out var boundary))
            {
                ageBoundaries[age] = boundary = NewestStampedBefore(transaction, (trim.Now - age).ToUnixTimeMilliseconds());
            }

            foreach (var topic in _rows.OldestAtOrBefore(rule, boundary))
            {
                newestAtOrBefore.Parameters["$topic"].Value = topic;
                newestAtOrBefore.Parameters["$seq"].Value = boundary;
                if (newestAtOrBefore.ExecuteScalar() is long seq)
                {
                    through[topic] = seq;
                }

                if (through.Count >= TrimSliceTopics)
                {
                    break;
                }
            }
        }

        for (var rule = 0; rule < trim.Policy.Rules.Count && through.Count < TrimSliceTopics; rule++)
        {
            if (trim.Policy.Rules[rule].MaxEventsPerTopic is not { } keep)
            {
                continue;
            }

            foreach (var topic in _rows.Crowded(rule))
            {
                byCount.Parameters["$topic"].Value = topic;
                byCount.Parameters["$keep"].Value = keep;
                if (byCount.ExecuteScalar() is long seq && seq > through.GetValueOrDefault(topic))
                {
                    through[topic] = seq;
                }

                if (through.Count >= TrimSliceTopics)
                {
                    break;
                }
            }
        }

        Interlocked.Add(ref _trimTopicsExamined, through.Count);
        long deletedEvents = 0;
        // Every candidate holds events at or before its bound (the counts and oldest seqs are exact), so each removes some.
        foreach (var (topic, upTo) in through)
        {
            delete.Parameters["$topic"].Value = topic;
            delete.Parameters["$through"].Value = upTo;
            var deleted = delete.ExecuteNonQuery();
            deletedEvents += deleted;
            nextOldest.Parameters["$topic"].Value = topic;
            nextOldest.Parameters["$through"].Value = upTo;
            var next = nextOldest.ExecuteScalar() is long seq ? seq : 0;
            if (next == 0)
            {
                // Emptied: the topic is retired into its rule's point, so neither memory nor the file keeps it.
                var region = _topics.RetiredRegion(topic, trim.Policy.Prefixes[trim.Policy.RuleIndexFor(topic)]);
                forget.Parameters["$topic"].Value = topic;
                forget.ExecuteNonQuery();
                retire.Parameters["$key"].Value = RetiredKeyPrefix + region;
                retire.Parameters["$through"].Value = upTo.ToString(System.Globalization.CultureInfo.InvariantCulture);
                retire.ExecuteNonQuery();
                trimmed.Add(new TopicTrim(topic, upTo, deleted, 0, region));
            }
            else
            {
                mark.Parameters["$topic"].Value = topic;
                mark.Parameters["$through"].Value = upTo;
                mark.ExecuteNonQuery();
                trimmed.Add(new TopicTrim(topic, upTo, deleted, next, null));
            }
        }

        using var expireKeys = Prepare(transaction, "DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at <= $now LIMIT $limit)", "$now", "$limit");
        expireKeys.Parameters["$now"].Value = trim.Now.ToUnixTimeMilliseconds();
        expireKeys.Parameters["$limit"].Value = TrimSliceKeys;
        var deletedKeys = expireKeys.ExecuteNonQuery();
        // Another slice is needed while this one stopped at a bound; the topics it trimmed are no longer candidates.
        return new TrimSlice(deletedEvents, deletedKeys, Finished: through.Count < TrimSliceTopics && deletedKeys < TrimSliceKeys);
    }

    /// <summary>The newest seq stamped before <paramref name="cutoffMs"/>, or 0: a binary search on seq over the retained events.</summary>
    private long NewestStampedBefore(SqliteTransaction transaction, long cutoffMs)
    {
        using var atOrAfter = Prepare(transaction, "SELECT seq, time FROM events WHERE seq >= $seq ORDER BY seq LIMIT 1", "$seq");
        (long Seq, long Time)? FirstAtOrAfter(long seq)
        {
            atOrAfter.Parameters["$seq"].Value = seq;
            using var reader = atOrAfter.ExecuteReader();
            return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : null;
        }

        if (FirstAtOrAfter(0) is not { } first || first.Time >= cutoffMs)
        {
            return 0;
        }

        // Invariant: the event at low was stamped before the cutoff; none after high exists.
        long low = first.Seq, high = Volatile.Read(ref _head);
        while (low < high)
        {
            var middle = low + ((high - low + 1) / 2);
            if (FirstAtOrAfter(middle) is { } found && found.Seq <= high && found.Time < cutoffMs)
            {
                low = found.Seq;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }

    private SqliteCommand Prepare(SqliteTransaction transaction, string sql, params string[] parameters)
    {
        var command = Prepare(sql, parameters);
        command.Transaction = transaction;
        return command;
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _writerConnection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    private static byte[] EncodeEvents(EventRecord[] records)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var record in records)
            {
                record.WriteTo(writer);
            }

            writer.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private EventRecord[] DecodeEvents(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(e => EventRecord.FromJson(Epoch, e)).ToArray();
    }

    private string LoadOrCreateEpoch()
    {
        using var command = _writerConnection.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = 'epoch'";
        if (command.ExecuteScalar() is string existing)
        {
            return existing;
        }

        var epoch = Cursor.NewEpoch();
        command.CommandText = "INSERT INTO meta (key, value) VALUES ('epoch', $epoch)";
        command.Parameters.AddWithValue("$epoch", epoch);
        command.ExecuteNonQuery();
        return epoch;
    }

    private long LoadTopicsAndHead()
    {
        long head = 0;
        using var command = _writerConnection.CreateCommand();
        command.CommandText = """
            SELECT topic, MAX(last_seq), MAX(trimmed_through), MAX(kept), MAX(oldest_seq) FROM (
                SELECT topic, MAX(seq) AS last_seq, 0 AS trimmed_through, COUNT(*) AS kept, MIN(seq) AS oldest_seq FROM events GROUP BY topic
                UNION ALL
                SELECT topic, 0, trimmed_through, 0, 0 FROM topics)
            GROUP BY topic
            """;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var topic = reader.GetString(0);
            var lastSeq = reader.GetInt64(1);
            var trimmedThrough = reader.GetInt64(2);
            _topics.Load(topic, lastSeq, trimmedThrough);
            _rows.Load(topic, reader.GetInt64(3), reader.GetInt64(4));
            // The head is the newest seq ever assigned, even if retention has removed that event since.
            head = Math.Max(head, Math.Max(lastSeq, trimmedThrough));
        }

        reader.Close();
        command.CommandText = $"SELECT key, value FROM meta WHERE key LIKE '{RetiredKeyPrefix}%'";
        using var retired = command.ExecuteReader();
        while (retired.Read())
        {
            var through = long.Parse(retired.GetString(1), System.Globalization.CultureInfo.InvariantCulture);
            _topics.LoadRetired(retired.GetString(0)[RetiredKeyPrefix.Length..], through);
            head = Math.Max(head, through);
        }

        return head;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "SQLite event log opened at {Path} (epoch {Epoch}, head seq {Head})")]
    private static partial void LogOpened(ILogger logger, string path, string epoch, long head);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "SQLite write of {Operations} operations failed; they were rolled back and reported to their callers")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int operations);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "SQLite store at {Path} is full: writes are refused with 507 store-full until space returns; reads keep working. Free disk space; the hub recovers by itself")]
    private static partial void LogStoreFull(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "SQLite store at {Path} accepts writes again")]
    private static partial void LogStoreRecovered(ILogger logger, string path);

    private abstract class WriteOperation
    {
        public TaskCompletionSource<object> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class AppendOperation(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency) : WriteOperation
    {
        public IReadOnlyList<EventDraft> Events { get; } = events;

        public IdempotencyRequest? Idempotency { get; } = idempotency;
    }

    private sealed class ExternalWriteOperation(Action<SqliteTransaction> write, IReadOnlyList<EventDraft>? events = null) : WriteOperation
    {
        public Action<SqliteTransaction> Write { get; } = write;

        /// <summary>Events appended in the write's savepoint, or null for a write alone.</summary>
        public IReadOnlyList<EventDraft>? Events { get; } = events;
    }

    /// <summary>Topics one trim slice removes events from; with the key bound, what one commit of retention may hold the writer for.</summary>
    private const int TrimSliceTopics = 512;

    private const int TrimSliceKeys = 10_000;

    private readonly record struct TopicTrim(string Topic, long Through, long Deleted, long NextOldestSeq, string? RetiredRegion);

    /// <summary>The <c>meta</c> keys of retired trim points: this, then the region (<see cref="TopicRegistry.RetiredRegion"/>).</summary>
    private const string RetiredKeyPrefix = "retired:";

    private sealed record TrimSlice(long DeletedEvents, long DeletedKeys, bool Finished);

    private sealed class TrimOperation(RetentionPolicy policy, DateTimeOffset now) : WriteOperation
    {
        public RetentionPolicy Policy { get; } = policy;

        public DateTimeOffset Now { get; } = now;
    }
}
