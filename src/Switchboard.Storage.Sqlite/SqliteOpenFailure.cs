using Microsoft.Data.Sqlite;
using SQLitePCL;
using Switchboard.Log;

namespace Switchboard.Storage.Sqlite;

/// <summary>Says why a SQLite file could not be opened, and what to do about it, as a <see cref="StoreOpenException"/>.</summary>
internal static class SqliteOpenFailure
{
    /// <summary>True for the exceptions opening a file can fail with: SQLite's own, and the folder's.</summary>
    public static bool IsOpenFailure(Exception exception) => exception is SqliteException or IOException or UnauthorizedAccessException;

    /// <summary>The error for <paramref name="exception"/>, thrown while opening the file at <paramref name="path"/>.</summary>
    public static StoreOpenException Translate(Exception exception, string path)
    {
        var (reason, remedy) = exception switch
        {
            _ when Directory.Exists(path) => ("it is a folder, not a file", $"Pass --data with a file in it, such as {Path.Combine(Path.GetFullPath(path), "switchboard.db")}."),
            SqliteException { SqliteErrorCode: raw.SQLITE_NOTADB or raw.SQLITE_CORRUPT } =>
                ("the file is not a Switchboard database, or is damaged", "Pass --data with another path, or restore the file from a backup."),
            SqliteException { SqliteErrorCode: raw.SQLITE_READONLY or raw.SQLITE_CANTOPEN } or UnauthorizedAccessException =>
                ("the file or its folder cannot be written", "Check that this user may write to both, or pass --data with another path."),
            SqliteException { SqliteErrorCode: raw.SQLITE_BUSY or raw.SQLITE_LOCKED } =>
                ("another process holds the file locked", "Stop the other process, or pass --data with another path."),
            _ when SqliteFullDisk.IsFull(exception, path) => ("the disk is full", "Free disk space, or pass --data with a path on another disk."),
            _ => (exception.Message.TrimEnd('.'), "Pass --data with another path."),
        };
        return new StoreOpenException($"Cannot open the SQLite store at {Path.GetFullPath(path)}: {reason}. {remedy}", exception);
    }
}
