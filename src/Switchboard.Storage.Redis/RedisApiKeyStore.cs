using System.Text.Json;
using StackExchange.Redis;
using Switchboard.Auth;

namespace Switchboard.Storage.Redis;

/// <summary>
/// API keys in Redis, shared by every node: one hash from key hash to the key's record (never the key itself), so a
/// key created or revoked through any node is seen by all of them (each node caches a found key for 10 s).
/// </summary>
public sealed class RedisApiKeyStore(RedisConnection redis) : IApiKeyStore
{
    private readonly RedisKey _keys = redis.Key("auth:keys");

    /// <inheritdoc />
    public async Task<ApiKey?> FindByHashAsync(string hash, CancellationToken cancellationToken)
    {
        var value = await redis.Database.HashGetAsync(_keys, hash).WaitAsync(cancellationToken).ConfigureAwait(false);
        return value.IsNull ? null : Decode(value!);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        var values = await redis.Database.HashValuesAsync(_keys).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. values.Select(v => Decode(v!)).OrderBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    public async Task<int> CountAsync(CancellationToken cancellationToken) =>
        (int)await redis.Database.HashLengthAsync(_keys).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task AddAsync(ApiKey key, CancellationToken cancellationToken) =>
        redis.Database.HashSetAsync(_keys, key.Hash, JsonSerializer.SerializeToUtf8Bytes(new StoredKey(key.Id, key.Hint, key.Name, [.. key.Scopes], [.. key.Topics],
            key.CreatedAt.ToUnixTimeMilliseconds()), RedisJsonContext.Default.StoredKey)).WaitAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        // Keys are few (operators create them by hand), so revoking by id may read them all.
        foreach (var entry in await redis.Database.HashGetAllAsync(_keys).WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            if (Decode(entry.Value!).Id == id)
            {
                return await redis.Database.HashDeleteAsync(_keys, entry.Name).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        return false;
    }

    private ApiKey Decode(byte[] value)
    {
        var stored = JsonSerializer.Deserialize(value, RedisJsonContext.Default.StoredKey)!;
        return new ApiKey(stored.Id, "", stored.Hint, stored.Name, stored.Scopes, stored.Topics, DateTimeOffset.FromUnixTimeMilliseconds(stored.CreatedAt));
    }
}

/// <summary>An API key's record as kept in Redis; its hash is the field name.</summary>
internal sealed record StoredKey(string Id, string Hint, string? Name, string[] Scopes, string[] Topics, long CreatedAt);
