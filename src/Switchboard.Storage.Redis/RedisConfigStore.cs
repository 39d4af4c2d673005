using System.Globalization;
using System.Text;
using StackExchange.Redis;
using Switchboard.Config;

namespace Switchboard.Storage.Redis;

/// <summary>
/// App settings in Redis, shared by every node: a sorted set per app (score = version), and the set of apps. A save is a
/// script that accepts only the next version, so two nodes writing one app at once never both make version N.
/// </summary>
/// <param name="redis">The connection.</param>
/// <param name="log">
/// The hub's log in the same Redis: a version is then saved in one script call with its <c>config.changed</c> event
/// (<see cref="IConfigStoreWithEvents"/>), so no version is stored that its watchers are never told of.
/// </param>
public sealed class RedisConfigStore(RedisConnection redis, RedisEventLog? log = null) : IConfigStore, IConfigStoreWithEvents
{
    // ARGV: as RedisScripts.ConfigFunctions takes them from 1. KEYS: the app's versions, apps (the keys the functions write).
    private const string SaveScript = RedisScripts.ConfigFunctions + """
        if config_check(1) then return 0 end
        config_apply(1)
        return 1
        """;

    private readonly RedisEventLog? _log = log;
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
        var saved = (long)await redis.Database.ScriptEvaluateAsync(SaveScript, [Versions(version.App), _apps], Arguments(version, keepHistory))
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        if (saved == 0)
        {
            throw new ConfigConflictException(version.App);
        }
    }

    /// <inheritdoc />
    public bool CommitsWith(Switchboard.Log.IEventLog log) => log is not null && ReferenceEquals(log, _log);

    /// <inheritdoc />
    /// <remarks>
    /// The version rides in the log's group commit as a state write of its append: checked (the next version?) before
    /// the events take seqs, written with them. A full Redis refuses both (store-full); another node's version first
    /// refuses both with <see cref="ConfigConflictException"/>.
    /// </remarks>
    public Task<Switchboard.Log.AppendResult> SaveAndAppendAsync(ConfigVersion version, int keepHistory, IReadOnlyList<Switchboard.Events.EventDraft> events,
        CancellationToken cancellationToken = default)
    {
        if (_log is null)
        {
            throw new InvalidOperationException("This config store was made without the hub's log.");
        }

        return _log.AppendWithStateAsync(events, new RedisStateWrite("config", Arguments(version, keepHistory), static app => new ConfigConflictException(app)),
            cancellationToken);
    }

    private RedisValue[] Arguments(ConfigVersion version, int keepHistory)
    {
        var member = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{version.Version}|{version.CreatedAt.ToUnixTimeMilliseconds()}|"))
            .Concat(version.Values).ToArray();
        return [redis.Options.KeyPrefix, version.App, version.Version, member, Math.Max(1, keepHistory)];
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
