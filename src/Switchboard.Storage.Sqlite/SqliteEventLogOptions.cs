namespace Switchboard.Storage.Sqlite;

/// <summary>The embedded store: one SQLite file in WAL mode, written by one group-committing writer.</summary>
public sealed class SqliteEventLogOptions
{
    /// <summary>The database file. Default <c>switchboard.db</c> in the working directory.</summary>
    public string Path { get; set; } = "switchboard.db";

    /// <summary>
    /// SQLite's <c>synchronous</c> setting. <c>NORMAL</c> (default) makes every acknowledged event survive a crash
    /// or kill of the process, and syncs the disk at checkpoints; <c>FULL</c> also syncs the WAL at every commit,
    /// so acknowledged events survive power loss, at the cost of one disk sync per group commit
    /// (4.6 ms on the benchmark VM: see docs/benchmarks.md).
    /// </summary>
    public string Synchronous { get; set; } = "NORMAL";

    /// <summary>How many of the newest events stay in memory for live readers. Default 65,536.</summary>
    public int TailCacheSize { get; set; } = 65_536;

    /// <summary>
    /// What those events may cost in memory, by an estimate of their payload and cached wire forms; large events leave
    /// the cache early and their readers read the store. Default 256 MiB.
    /// </summary>
    public long TailCacheBytes { get; set; } = Switchboard.Log.RecentEventsRing.DefaultMaxBytes;

    /// <summary>Most events committed in one transaction. Default 4,096.</summary>
    public int MaxEventsPerCommit { get; set; } = 4096;

    /// <summary>Most appends waiting for the writer; publishers beyond it wait (backpressure). Default 8,192.</summary>
    public int WriteQueueCapacity { get; set; } = 8192;

    /// <summary>Rows scanned per store read when a wildcard filter cannot use the topic index. Default 4,096.</summary>
    public int MaxScanRows { get; set; } = 4096;

    /// <summary>
    /// How long after a commit the WAL is copied back into the database, by a background thread so that no commit
    /// waits for it. Default 1 s.
    /// </summary>
    public TimeSpan CheckpointDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The Data Protection key ring that encrypts webhook signing secrets and URL credentials in the database.
    /// Default: a folder <c>&lt;Path&gt;.keys</c> beside the database. Back it up with the database: without it the
    /// stored secrets cannot be read.
    /// </summary>
    public string? KeysPath { get; set; }

    /// <summary>Test hook: SQLite's <c>max_page_count</c> on the writer's connection, to make the file "full" without filling a disk.</summary>
    internal long? MaxPageCount { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new ArgumentException("The SQLite path is empty.");
        }

        if (Synchronous is not ("FULL" or "NORMAL" or "EXTRA" or "OFF"))
        {
            throw new ArgumentException("Synchronous must be FULL, NORMAL, EXTRA or OFF.");
        }

        if (TailCacheSize < 16 || TailCacheBytes < 1 || MaxEventsPerCommit < 1 || WriteQueueCapacity < 1 || MaxScanRows < 1)
        {
            throw new ArgumentException("SQLite store sizes must be positive (TailCacheSize at least 16).");
        }

        if (CheckpointDelay <= TimeSpan.Zero || CheckpointDelay > TimeSpan.FromHours(1))
        {
            throw new ArgumentException("CheckpointDelay must be between 0 and 1 hour.");
        }
    }
}
