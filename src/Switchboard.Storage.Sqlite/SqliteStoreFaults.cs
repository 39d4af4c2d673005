using Microsoft.Data.Sqlite;
using Switchboard.Log;
using Switchboard.Problems;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// SQLite faults of the file rather than of the hub: locked by another process past the busy timeout, read-only, an
/// I/O error, a file that cannot be opened or is damaged. They answer 503 <c>store-unavailable</c> (a full disk, 507
/// <c>store-full</c>) on every path, as Redis faults do, instead of an unhandled 500 with an empty body.
/// </summary>
internal sealed class SqliteStoreFaults : IStoreFaultClassifier
{
    private const int Busy = 5;
    private const int Locked = 6;
    private const int ReadOnly = 8;
    private const int IoErr = 10;
    private const int Corrupt = 11;
    private const int Full = 13;
    private const int CantOpen = 14;
    private const int NotADb = 26;

    public SwitchboardException? Classify(Exception exception) => exception is SqliteException sqlite ? Classify(sqlite) : null;

    /// <summary>The error of a fault of the file in <paramref name="exception"/> or what it wraps, or null.</summary>
    internal static SwitchboardException? ClassifyFault(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is SqliteException sqlite && Classify(sqlite) is { } fault)
            {
                return fault;
            }
        }

        return null;
    }

    private static SwitchboardException? Classify(SqliteException exception)
    {
        if (exception.SqliteErrorCode == Full)
        {
            return StoreProblems.Full(new StoreFullException("The SQLite store is full: the disk has no room left (or the file reached its size limit). Free disk space; the hub recovers by itself.", exception));
        }

        var cause = exception.SqliteErrorCode switch
        {
            Busy or Locked => "the database file is locked by another process",
            ReadOnly => "the database file cannot be written (a read-only file, folder or file system)",
            IoErr => "reading or writing the database file failed (an I/O error)",
            Corrupt or NotADb => "the database file is damaged",
            CantOpen => "the database file cannot be opened (removed, or its folder is not accessible)",
            _ => null, // anything else (a constraint, a syntax error) is a bug and stays a 500
        };
        return cause is null
            ? null
            : StoreProblems.Unavailable($"The hub's SQLite store cannot be used: {cause} (SQLite error {exception.SqliteErrorCode}). Retry shortly; a publish with the same Idempotency-Key is safe to repeat.");
    }
}
