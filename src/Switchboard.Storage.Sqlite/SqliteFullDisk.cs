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
        // cannot grow come back as I/O errors, so those count as full only when the disk has no room left.
        SqliteException { SqliteErrorCode: SqliteIoErr, SqliteExtendedErrorCode: SqliteIoErrWrite or SqliteIoErrFsync or SqliteIoErrTruncate or SqliteIoErrShmSize } => DiskNearlyFull(path),
        _ => false,
    };

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
