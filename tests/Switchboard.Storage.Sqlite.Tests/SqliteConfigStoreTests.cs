using System.Text;
using Switchboard.Config;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Testing;
using Switchboard.Topics;

namespace Switchboard.Storage.Sqlite.Tests;

public sealed class SqliteConfigStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task SaveAndAppend_OnAFullDisk_StoresNeitherTheVersionNorItsEvent_AndBothOnceThereIsRoom()
    {
        var path = Path.Combine(_directory.Path, "hub.db");
        await using var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path });
        await using var store = new SqliteConfigStore(log, path);
        Assert.True(store.CommitsWith(log));

        var values = Encoding.UTF8.GetBytes($$"""{"theme":"{{new string('x', 60_000)}}"}""");
        var version = new ConfigVersion("web", 1, values, DateTimeOffset.UnixEpoch);
        EventDraft[] changed = [new("config.web", "config.changed", values)];

        await log.SetMaxPageCountAsync(1); // clamped to the current size: no growth from here
        await Assert.ThrowsAsync<StoreFullException>(() => store.SaveAndAppendAsync(version, 10, changed));
        Assert.Empty(await store.ReadHistoryAsync("web", 10));
        Assert.Empty((await log.ReadAsync(TopicFilter.Parse("config.web"), 0, 10)).Events);

        await log.SetMaxPageCountAsync(1_000_000);
        await store.SaveAndAppendAsync(version, 10, changed);
        Assert.Equal(1, Assert.Single(await store.ReadHistoryAsync("web", 10)).Version);
        Assert.Single((await log.ReadAsync(TopicFilter.Parse("config.web"), 0, 10)).Events);
    }

    [Fact]
    public async Task AStoreInAFileOfItsOwn_DoesNotCommitWithTheLog()
    {
        await using var log = new SqliteEventLog(new SqliteEventLogOptions { Path = Path.Combine(_directory.Path, "log.db") });
        await using var store = new SqliteConfigStore(Path.Combine(_directory.Path, "config.db"));
        Assert.False(store.CommitsWith(log));
    }
}
