using Microsoft.Data.Sqlite;
using Switchboard.Log;

namespace Switchboard.Storage.Sqlite;

/// <summary>Recognizes SQLite's "the file cannot grow" errors and turns them into <see cref="StoreFullException"/>.</summary>
internal static class SqliteFullDisk
{
    private const int SqliteIoErr = 10;
    private const int SqliteFull = 13;
    private const int SqliteIoErrWrite = SqliteIoErr | (3 << 8);
    private const int SqliteIoErrFsync = SqliteIoErr | (4 << 8);
    private const int SqliteIoErrTruncate = SqliteIoErr | (6 << 8);
    private const int SqliteIoErrShmSize = SqliteIoErr | (19 << 8);

    /// <summary>True when <paramref name="exception"/> says the database (or the disk under it) is full.</summary>
    public static bool IsFull(Exception exception, string path) => exception switch
    {
        StoreFullException => true,
        SqliteException { SqliteErrorCode: SqliteFull } => true,
        // SQLite's unix VFS reports ENOSPC on write as SQLITE_FULL; a short write, a failed sync or a WAL index that
        // cannot grow come back as I/O errors, so those count as full only when the disk has no room left, or when a
        // file of the store has reached the process's file-size limit (ulimit -f: the write failed with EFBIG).
        SqliteException { SqliteErrorCode: SqliteIoErr, SqliteExtendedErrorCode: SqliteIoErrWrite or SqliteIoErrFsync or SqliteIoErrTruncate or SqliteIoErrShmSize } => NoRoom(path) || AtFileSizeLimit(path),
        _ => false,
    };

    /// <summary>True when the disk under <paramref name="path"/> has (almost) no room left.</summary>
    public static bool NoRoom(string path) => DiskNearlyFull(path);

    /// <summary>
    /// True when the database, its WAL or its journal has grown to within a WAL frame or two of the process's file-size
    /// limit (RLIMIT_FSIZE, <c>ulimit -f</c>, systemd's <c>LimitFSIZE=</c>). A write crossing the limit is written up to
    /// it and then fails with EFBIG, which SQLite reports as a plain write error, so the file's length is what tells.
    /// </summary>
    private static bool AtFileSizeLimit(string path)
    {
        if (FileSizeLimit() is not { } limit)
        {
            return false;
        }

        foreach (var file in new[] { path, path + "-wal", path + "-journal" })
        {
            try
            {
                var info = new FileInfo(file);
                if (info.Exists && info.Length + FileSizeLimitMargin >= limit)
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // A file that cannot be looked at is not known to be at the limit.
            }
        }

        return false;
    }

    private const long FileSizeLimitMargin = 64 * 1024;

    /// <summary>The soft file-size limit in bytes from <c>/proc/self/limits</c> (Linux), or null when unlimited or unknown.</summary>
    private static long? FileSizeLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max file size", StringComparison.Ordinal))
                {
                    var soft = line["Max file size".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                    return long.TryParse(soft, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var bytes) ? bytes : null;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No /proc: no known limit.
        }

        return null;
    }

    /// <summary>The exception to hand to the caller: a <see cref="StoreFullException"/> for a full store, else the original.</summary>
    public static Exception Translate(Exception exception, string path) => exception is StoreFullException || !IsFull(exception, path)
        ? exception
        : new StoreFullException($"The SQLite store at {System.IO.Path.GetFileName(path)} is full: the disk has no room left (or the file reached its size limit). Free disk space; the hub recovers by itself.", exception);

    private static bool DiskNearlyFull(string path)
    {
        try
        {
            var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".";
            return new DriveInfo(directory).AvailableFreeSpace < 4 * 1024 * 1024;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }
}
