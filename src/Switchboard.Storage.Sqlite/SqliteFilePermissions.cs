namespace Switchboard.Storage.Sqlite;

/// <summary>
/// The database holds webhook secrets and API key hashes: on Unix it is created owner-only (0600) before SQLite opens
/// it, and SQLite gives its <c>-wal</c> and <c>-shm</c> files the mode of the database file. A file left 0644 by an
/// older version is tightened on start.
/// </summary>
internal static class SqliteFilePermissions
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Prepare(string path)
    {
        if (OperatingSystem.IsWindows() || path == ":memory:" || path.StartsWith("file:", StringComparison.Ordinal))
        {
            return;
        }

        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            try
            {
                using var created = new FileStream(full, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = OwnerOnly,
                });
            }
            catch (IOException) when (File.Exists(full))
            {
                // Created meanwhile by another store of the same file.
            }
        }

        foreach (var file in new[] { full, full + "-wal", full + "-shm", full + "-journal" })
        {
            if (File.Exists(file) && (File.GetUnixFileMode(file) & ~OwnerOnly) != 0)
            {
                File.SetUnixFileMode(file, File.GetUnixFileMode(file) & OwnerOnly);
            }
        }
    }
}
