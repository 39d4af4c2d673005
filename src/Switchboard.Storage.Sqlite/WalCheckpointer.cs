using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// Copies the WAL back into the database file off the writer thread. SQLite's own auto-checkpoint runs inside the
/// commit that crosses its threshold, on the committing connection, and syncs the disk twice; every publish waiting
/// on that commit, and every reader waiting for its events, waits for those syncs too. Here a commit only arms a
/// timer; when it fires, a dedicated thread runs a <c>PASSIVE</c> checkpoint on its own connection, which never
/// blocks the writer. The writer keeps a much higher auto-checkpoint as a bound for when this thread cannot keep
/// up (a reader holding an old snapshot, a slow disk).
/// </summary>
internal sealed partial class WalCheckpointer : IDisposable
{
    /// <summary>The writer's own auto-checkpoint, in pages: only reached when background checkpoints fall behind.</summary>
    public const int WriterFallbackPages = 16_384;

    private readonly string _connectionString;
    private readonly TimeSpan _delay;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly SemaphoreSlim _due = new(0, 1);
    private readonly Thread _thread;
    private int _armed;
    private volatile bool _stopping;
    private long _checkpoints;

    public WalCheckpointer(string connectionString, TimeSpan delay, TimeProvider time, ILogger logger)
    {
        _connectionString = connectionString;
        _delay = delay;
        _logger = logger;
        _timer = time.CreateTimer(static state => ((WalCheckpointer)state!).Signal(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        // A dedicated thread for the same reason as the writer's: a checkpoint blocks on disk syncs, and a blocked
        // thread-pool thread on a small machine delays every stream until the pool grows.
        _thread = new Thread(Run) { IsBackground = true, Name = "Switchboard SQLite checkpointer" };
        _thread.Start();
    }

    /// <summary>Checkpoints that ran (for tests and diagnostics).</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>Called by the writer after a commit: the first commit since the last checkpoint starts the delay.</summary>
    public void Committed()
    {
        if (Interlocked.Exchange(ref _armed, 1) == 0)
        {
            _timer.Change(_delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Stops the thread. Closing the last connection checkpoints what is left.</summary>
    public void Dispose()
    {
        _stopping = true;
        _timer.Dispose();
        Signal();
        _thread.Join();
        _due.Dispose();
    }

    private void Signal()
    {
        try
        {
            _due.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already due: one checkpoint covers every commit before it.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Run()
    {
        // Its own connection, outside the pool, so disposing the log's pool neither waits for nor closes it.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString());
        try
        {
            connection.Open();
        }
        catch (SqliteException ex)
        {
            LogCheckpointFailed(_logger, ex);
            return;
        }

        using var checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        while (true)
        {
            _due.Wait();
            if (_stopping)
            {
                break;
            }

            // Disarm before the checkpoint: a commit that lands while it runs arms the next one, so none is left behind.
            Volatile.Write(ref _armed, 0);
            try
            {
                using var reader = checkpoint.ExecuteReader();
                if (reader.Read() && reader.GetInt32(0) != 0)
                {
                    LogCheckpointBusy(_logger);
                }

                Interlocked.Increment(ref _checkpoints);
            }
            catch (SqliteException ex)
            {
                // The writer's fallback auto-checkpoint still bounds the WAL; the next commit arms another try.
                LogCheckpointFailed(_logger, ex);
            }
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "SQLite WAL checkpoint could not finish: another connection held the lock")]
    private static partial void LogCheckpointBusy(ILogger logger);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "SQLite WAL checkpoint failed; the next commit retries it")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception);
}
