using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Auth;

/// <summary>The API key scopes.</summary>
public static class ApiKeyScopes
{
    /// <summary>Publish events (limited to the key's topics, when it has any); submit and cancel jobs.</summary>
    public const string Publish = "publish";

    /// <summary>Read events by every transport (limited to the key's topics, when it has any), jobs and config.</summary>
    public const string Subscribe = "subscribe";

    /// <summary>Webhooks, config writes, API keys, metrics.</summary>
    public const string Admin = "admin";

    /// <summary>Claim, heartbeat, progress, complete and fail jobs.</summary>
    public const string Worker = "worker";

    /// <summary>Every scope.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { Publish, Subscribe, Admin, Worker };
}

/// <summary>A stored API key: only its hash is kept, so a leaked database does not leak the keys.</summary>
/// <param name="Id">A public identifier (<c>key_...</c>) for listing and revoking.</param>
/// <param name="Hash">SHA-256 of the key, lower-case hex.</param>
/// <param name="Hint">The key's first characters, so an operator can tell keys apart.</param>
/// <param name="Name">An optional label.</param>
/// <param name="Scopes">What it may do.</param>
/// <param name="Topics">Topic patterns publish and subscribe are limited to; empty means any.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record ApiKey(string Id, string Hash, string Hint, string? Name, IReadOnlyList<string> Scopes, IReadOnlyList<string> Topics, DateTimeOffset CreatedAt)
{
    /// <summary>Every key starts with this.</summary>
    public const string Prefix = "sk_";

    /// <summary>
    /// Makes a new key: 32 random bytes, so a plain SHA-256 is a safe way to store it (a slow password hash buys
    /// nothing against a key nobody can guess, and would cost every request).
    /// </summary>
    public static (ApiKey Record, string Secret) Create(string? name, IEnumerable<string> scopes, IEnumerable<string> topics, DateTimeOffset now)
    {
        var secret = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var id = "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        return (new ApiKey(id, HashOf(secret), secret[..9], name, scopes.Distinct().ToArray(), topics.Distinct().ToArray(), now), secret);
    }

    /// <summary>SHA-256 of a key, lower-case hex.</summary>
    public static string HashOf(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Where created API keys are kept (hashed).</summary>
public interface IApiKeyStore
{
    /// <summary>The key with this hash, or null.</summary>
    Task<ApiKey?> FindByHashAsync(string hash, CancellationToken cancellationToken);

    /// <summary>Every key, oldest first.</summary>
    Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken);

    /// <summary>How many keys exist (the hub is protected once there is one).</summary>
    Task<int> CountAsync(CancellationToken cancellationToken);

    /// <summary>Stores a new key.</summary>
    Task AddAsync(ApiKey key, CancellationToken cancellationToken);

    /// <summary>Removes a key; false when there was none with this id.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken);
}

/// <summary>Keys in memory, for the memory store and tests.</summary>
public sealed class InMemoryApiKeyStore : IApiKeyStore
{
    private readonly Lock _gate = new();
    private readonly List<ApiKey> _keys = [];

    /// <inheritdoc />
    public Task<ApiKey?> FindByHashAsync(string hash, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_keys.Find(k => k.Hash == hash));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ApiKey>>([.. _keys]);
        }
    }

    /// <inheritdoc />
    public Task<int> CountAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_keys.Count);
        }
    }

    /// <inheritdoc />
    public Task AddAsync(ApiKey key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _keys.Add(key);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_keys.RemoveAll(k => k.Id == id) > 0);
        }
    }
}
