using Switchboard.Auth;
using Switchboard.Storage.Sqlite;

namespace Switchboard.Cli;

/// <summary>
/// <c>switchboard keys create|list|revoke --data PATH</c>: API keys in the hub's SQLite file. A running hub sees a new
/// key at once and a revoked one within seconds; a hub that was open (no credentials) becomes protected.
/// </summary>
internal static class KeysCommand
{
    public static async Task<int> CreateAsync(string dataPath, string[] scopes, string[] topics, string? name, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var invalidScope = scopes.FirstOrDefault(s => !ApiKeyScopes.All.Contains(s));
        if (scopes.Length == 0 || invalidScope is not null)
        {
            await error.WriteLineAsync($"--scopes takes a comma-separated list of {string.Join(", ", ApiKeyScopes.All)}{(invalidScope is null ? "" : $"; '{invalidScope}' is not one")}.");
            return 2;
        }

        foreach (var topic in topics)
        {
            if (Topics.TopicPattern.TryParse(topic, 1024, out var problem) is null)
            {
                await error.WriteLineAsync($"--topics '{topic}': {problem}");
                return 2;
            }
        }

        await using var store = new SqliteApiKeyStore(dataPath);
        var (key, secret) = ApiKey.Create(name, scopes, topics, DateTimeOffset.UtcNow);
        await store.AddAsync(key, cancellationToken);
        await output.WriteLineAsync(secret);
        await error.WriteLineAsync($"Created {key.Id} (scopes: {string.Join(",", key.Scopes)}; topics: {(key.Topics.Count == 0 ? "any" : string.Join(",", key.Topics))}) in {Path.GetFullPath(dataPath)}.");
        await error.WriteLineAsync("The key is shown only this once; the hub keeps its hash. Send it as: Authorization: Bearer <key>");
        return 0;
    }

    public static async Task<int> ListAsync(string dataPath, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (await MissingDataFileAsync(dataPath, error))
        {
            return 1;
        }

        await using var store = new SqliteApiKeyStore(dataPath);
        var keys = await store.ListAsync(cancellationToken);
        foreach (var key in keys)
        {
            await output.WriteLineAsync($"{key.Id}\t{key.Hint}…\t{string.Join(",", key.Scopes)}\t{(key.Topics.Count == 0 ? "*" : string.Join(",", key.Topics))}\t{key.Name}\t{key.CreatedAt:u}");
        }

        if (keys.Count == 0)
        {
            // On stderr, so a script reading the list still gets an empty one.
            await error.WriteLineAsync($"No keys in {Path.GetFullPath(dataPath)}.");
        }

        return 0;
    }

    public static async Task<int> RevokeAsync(string dataPath, string id, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (await MissingDataFileAsync(dataPath, error))
        {
            return 1;
        }

        await using var store = new SqliteApiKeyStore(dataPath);
        if (!await store.DeleteAsync(id, cancellationToken))
        {
            await error.WriteLineAsync($"No key {id} in {Path.GetFullPath(dataPath)}.");
            return 1;
        }

        await output.WriteLineAsync($"Revoked {id}.");
        return 0;
    }

    /// <summary>
    /// Listing or revoking must not create a data file: a mistyped <c>--data</c> would otherwise look like a hub with no
    /// keys, and leave an empty database behind.
    /// </summary>
    private static async Task<bool> MissingDataFileAsync(string dataPath, TextWriter error)
    {
        if (File.Exists(dataPath))
        {
            return false;
        }

        await error.WriteLineAsync($"No data file at {Path.GetFullPath(dataPath)}; pass the --data of the hub (keys create makes the file).");
        return true;
    }
}
