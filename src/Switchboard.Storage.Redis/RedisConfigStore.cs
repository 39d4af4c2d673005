using System.Globalization;
using System.Text;
using StackExchange.Redis;
using Switchboard.Config;

namespace Switchboard.Storage.Redis;

/// <summary>
/// App settings in Redis, shared by every node: a sorted set per app (score = version), and the set of apps. A save is a
/// script that accepts only the next version, so two nodes writing one app at once never both make version N.
/// </summary>
public sealed class RedisConfigStore(RedisConnection redis) : IConfigStore
{
    // KEYS: the app's versions, apps. ARGV: app, version, member, keep.
    private const string SaveScript = """
        local newest = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        local current = 0
        if #newest > 0 then current = tonumber(newest[2]) end
        if tonumber(ARGV[2]) ~= current + 1 then return 0 end
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
        redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
        redis.call('SADD', KEYS[2], ARGV[1])
        return 1
        """;

    private readonly RedisKey _apps = redis.Key("config:apps");

    /// <inheritdoc />
    public bool IsShared => true;

    /// <inheritdoc />
    public async Task<IReadOnlyList<ConfigVersion>> LoadLatestAsync(CancellationToken cancellationToken = default)
    {
        var apps = await redis.Database.SetMembersAsync(_apps).WaitAsync(cancellationToken).ConfigureAwait(false);
        var latest = await Task.WhenAll(apps.Select(app => ReadHistoryAsync((string)app!, 1, cancellationToken))).ConfigureAwait(false);
        return [.. latest.SelectMany(v => v)];
    }

    /// <inheritdoc />
    public async Task SaveAsync(ConfigVersion version, int keepHistory, CancellationToken cancellationToken = default)
    {
        var member = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{version.Version}|{version.CreatedAt.ToUnixTimeMilliseconds()}|"))
            .Concat(version.Values).ToArray();
        var saved = (long)await redis.Database.ScriptEvaluateAsync(SaveScript, [Versions(version.App), _apps],
            [version.App, version.Version, member, Math.Max(1, keepHistory)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (saved == 0)
        {
            throw new ConfigConflictException(version.App);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ConfigVersion>> ReadHistoryAsync(string app, int limit, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
        {
            return [];
        }

        var members = await redis.Database.SortedSetRangeByRankAsync(Versions(app), 0, limit - 1, Order.Descending).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. members.Select(m => Decode(app, (byte[])m!))];
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private RedisKey Versions(string app) => redis.Key("config:app:" + app);

    private static ConfigVersion Decode(string app, byte[] member)
    {
        var first = Array.IndexOf(member, (byte)'|');
        var second = Array.IndexOf(member, (byte)'|', first + 1);
        var version = long.Parse(member.AsSpan(0, first), NumberStyles.None, CultureInfo.InvariantCulture);
        var time = long.Parse(member.AsSpan(first + 1, second - first - 1), NumberStyles.None, CultureInfo.InvariantCulture);
        return new ConfigVersion(app, version, member[(second + 1)..], DateTimeOffset.FromUnixTimeMilliseconds(time));
    }
}
