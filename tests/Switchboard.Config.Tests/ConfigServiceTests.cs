using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Switchboard.Problems;
using Switchboard.Topics;

namespace Switchboard.Config.Tests;

public sealed class ConfigServiceTests
{
    [Fact]
    public async Task Write_NewApp_IsVersionOne_StampedByTheClock_AndGetReturnsIt()
    {
        using var kit = new ConfigKit();

        var result = await kit.PutAsync("shop", """{"theme":"dark"}""");

        Assert.True(result.Changed);
        Assert.Equal(1, result.Version.Version);
        Assert.Equal(kit.Time.GetUtcNow(), result.Version.CreatedAt);
        Assert.Same(result.Version, kit.Service.Get("shop"));
        Assert.Equal("""{"theme":"dark"}""", Encoding.UTF8.GetString(kit.Service.Get("shop")!.Values));
        Assert.Null(kit.Service.Get("other"));
    }

    [Fact]
    public async Task Write_EachChange_IsTheNextVersion_AndTheSameValuesMakeNone()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("shop", """{"a":1}""");
        var second = await kit.PutAsync("shop", """{"a":2}""");
        var again = await kit.PutAsync("shop", """{"a":2}""");

        Assert.Equal((2L, true), (second.Version.Version, second.Changed));
        Assert.Equal((2L, false), (again.Version.Version, again.Changed));
        Assert.Same(second.Version, again.Version);
        Assert.Equal(2, (await kit.Store.ReadHistoryAsync("shop", 10)).Count);
    }

    [Fact]
    public async Task Write_ChangeGetsTheCurrentVersion_SoAPatchAppliesOnTopOfIt()
    {
        using var kit = new ConfigKit();
        ConfigVersion? seen = new("x", -1, [], default);
        await kit.Service.WriteAsync("shop", current =>
        {
            seen = current;
            return """{"a":1}"""u8.ToArray();
        }, CancellationToken.None);
        Assert.Null(seen);

        await kit.Service.WriteAsync("shop", current =>
        {
            seen = current;
            return """{"a":1,"b":2}"""u8.ToArray();
        }, CancellationToken.None);
        Assert.Equal(1, seen?.Version);
    }

    [Fact]
    public async Task Write_DifferentValues_ChangeTheETag()
    {
        using var kit = new ConfigKit();
        var first = await kit.PutAsync("shop", """{"a":1}""");
        var second = await kit.PutAsync("shop", """{"a":2}""");
        var sameNumberOtherValues = first.Version with { Values = """{"a":3}"""u8.ToArray() };

        Assert.NotEqual(first.Version.ETag, second.Version.ETag);
        Assert.NotEqual(first.Version.ETag, sameNumberOtherValues.ETag);
        Assert.StartsWith("\"1-", first.Version.ETag, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_PublishesTheVersionAsAnEventOnTheAppsTopic()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("shop", """{"name":"Café"}""");

        var read = await kit.Log.ReadAsync(TopicFilter.Parse(ConfigService.TopicPrefix + ">"), 0, 10);
        var record = Assert.Single(read.Events);
        Assert.Equal(("config.shop", ConfigService.ChangedEventType), (record.Topic, record.Type));
        using var data = JsonDocument.Parse(record.Data);
        Assert.Equal("shop", data.RootElement.GetProperty("app").GetString());
        Assert.Equal(1, data.RootElement.GetProperty("version").GetInt64());
        Assert.Equal("Café", data.RootElement.GetProperty("values").GetProperty("name").GetString());
        Assert.Equal(kit.Time.GetUtcNow(), data.RootElement.GetProperty("updatedAt").GetDateTimeOffset());
        // Non-ASCII stays UTF-8 on the wire, as everywhere else the hub writes JSON.
        Assert.True(record.Data.Span.IndexOf("Café"u8) >= 0, "non-ASCII text is written as UTF-8, not escaped");
    }

    [Fact]
    public async Task History_IsNewestFirst_AndKeepsHistoryPerApp()
    {
        using var kit = new ConfigKit(o => o.HistoryPerApp = 3);
        for (var i = 1; i <= 5; i++)
        {
            await kit.PutAsync("shop", $$"""{"n":{{i}}}""");
        }

        var history = await kit.Service.HistoryAsync("shop", 10, CancellationToken.None);
        Assert.Equal([5L, 4L, 3L], history.Select(v => v.Version));
        Assert.Equal([5L, 4L], (await kit.Service.HistoryAsync("shop", 2, CancellationToken.None)).Select(v => v.Version));
    }

    [Fact]
    public async Task EnsureLoaded_TakesTheNewestVersionsFromTheStore_AndWritesContinueFromThem()
    {
        var store = new InMemoryConfigStore();
        await store.SaveAsync(new ConfigVersion("shop", 7, """{"a":1}"""u8.ToArray(), DateTimeOffset.UnixEpoch), 10);
        using var kit = new ConfigKit(store: store);

        await kit.Service.EnsureLoadedAsync();
        Assert.Equal(7, kit.Service.Get("shop")?.Version);

        var next = await kit.PutAsync("shop", """{"a":2}""");
        Assert.Equal(8, next.Version.Version);
    }

    [Fact]
    public async Task EnsureLoaded_AfterAFailedLoad_TriesAgain()
    {
        var store = new FlakyLoadStore();
        using var kit = new ConfigKit(store: store);

        await Assert.ThrowsAsync<IOException>(() => kit.Service.EnsureLoadedAsync());
        await kit.Service.EnsureLoadedAsync();
        Assert.Equal(2, store.Loads);
    }

    [Fact]
    public async Task Write_ConflictWithAnotherNode_AppliesTheChangeAgainOnTheirVersion()
    {
        var store = new InterloperStore(new ConfigVersion("shop", 1, """{"theirs":true}"""u8.ToArray(), DateTimeOffset.UnixEpoch));
        using var kit = new ConfigKit(store: store);

        var result = await kit.Service.WriteAsync("shop", current =>
        {
            var merged = current is null ? "{}" : Encoding.UTF8.GetString(current.Values);
            return Encoding.UTF8.GetBytes(merged.TrimEnd('}') + (merged == "{}" ? "" : ",") + "\"mine\":true}");
        }, CancellationToken.None);

        Assert.Equal(2, result.Version.Version);
        Assert.Equal("""{"theirs":true,"mine":true}""", Encoding.UTF8.GetString(result.Version.Values));
        Assert.Equal(2, store.Saves);
    }

    [Fact]
    public async Task Write_LosingEveryRoundToOtherNodes_IsATypedUnavailable_AndStoresNothingOfItsOwn()
    {
        var store = new BusyStore();
        using var kit = new ConfigKit(store: store);

        var error = await Assert.ThrowsAsync<SwitchboardException>(() => kit.Service.WriteAsync("shop", _ => """{"mine":true}"""u8.ToArray(), CancellationToken.None));

        Assert.Equal((SwitchboardErrorKind.Unavailable, "config-contended"), (error.Kind, error.Code));
        Assert.Equal(TimeSpan.FromSeconds(1), error.RetryAfter);
        Assert.Equal(6, store.Saves);
        var history = await store.ReadHistoryAsync("shop", 100);
        Assert.DoesNotContain(history, v => Encoding.UTF8.GetString(v.Values).Contains("mine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Write_CanceledBeforeTheStore_ChangesNothing()
    {
        using var kit = new ConfigKit();
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => kit.Service.WriteAsync("shop", _ => "{}"u8.ToArray(), canceled.Token));
        Assert.Null(kit.Service.Get("shop"));
    }

    /// <summary>Fails its first load, as a store that is briefly unreachable.</summary>
    private sealed class FlakyLoadStore : IConfigStore
    {
        private readonly InMemoryConfigStore _inner = new();

        public int Loads { get; private set; }

        public Task<IReadOnlyList<ConfigVersion>> LoadLatestAsync(CancellationToken cancellationToken = default) =>
            ++Loads == 1 ? Task.FromException<IReadOnlyList<ConfigVersion>>(new IOException("unreachable")) : _inner.LoadLatestAsync(cancellationToken);

        public Task SaveAsync(ConfigVersion version, int keepHistory, CancellationToken cancellationToken = default) => _inner.SaveAsync(version, keepHistory, cancellationToken);

        public Task<IReadOnlyList<ConfigVersion>> ReadHistoryAsync(string app, int limit, CancellationToken cancellationToken = default) =>
            _inner.ReadHistoryAsync(app, limit, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A shared store where another node stores a version of its own just before every save of this node.</summary>
    private sealed class BusyStore : IConfigStore
    {
        private readonly InMemoryConfigStore _inner = new();

        public int Saves { get; private set; }

        public Task<IReadOnlyList<ConfigVersion>> LoadLatestAsync(CancellationToken cancellationToken = default) => _inner.LoadLatestAsync(cancellationToken);

        public async Task SaveAsync(ConfigVersion version, int keepHistory, CancellationToken cancellationToken = default)
        {
            Saves++;
            var newest = (await _inner.ReadHistoryAsync(version.App, 1, cancellationToken)).FirstOrDefault()?.Version ?? 0;
            await _inner.SaveAsync(new ConfigVersion(version.App, newest + 1, """{"theirs":true}"""u8.ToArray(), DateTimeOffset.UnixEpoch), keepHistory, cancellationToken);
            throw new ConfigConflictException(version.App);
        }

        public Task<IReadOnlyList<ConfigVersion>> ReadHistoryAsync(string app, int limit, CancellationToken cancellationToken = default) =>
            _inner.ReadHistoryAsync(app, limit, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A shared store where another node stores <paramref name="theirs"/> just before this node's first save.</summary>
    private sealed class InterloperStore(ConfigVersion theirs) : IConfigStore
    {
        private readonly InMemoryConfigStore _inner = new();

        public int Saves { get; private set; }

        public Task<IReadOnlyList<ConfigVersion>> LoadLatestAsync(CancellationToken cancellationToken = default) => _inner.LoadLatestAsync(cancellationToken);

        public async Task SaveAsync(ConfigVersion version, int keepHistory, CancellationToken cancellationToken = default)
        {
            if (++Saves == 1)
            {
                await _inner.SaveAsync(theirs, keepHistory, cancellationToken);
                throw new ConfigConflictException(version.App);
            }

            await _inner.SaveAsync(version, keepHistory, cancellationToken);
        }

        public Task<IReadOnlyList<ConfigVersion>> ReadHistoryAsync(string app, int limit, CancellationToken cancellationToken = default) =>
            _inner.ReadHistoryAsync(app, limit, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Patch_OfANewApp_StartsFromNothing_AndLaterPatchesMergeOnTop()
    {
        using var kit = new ConfigKit();

        var first = await kit.Service.PatchAsync("shop", (JsonObject)JsonNode.Parse("""{"a":1,"gone":null}""")!, CancellationToken.None);
        var second = await kit.Service.PatchAsync("shop", (JsonObject)JsonNode.Parse("""{"b":{"c":2},"a":null}""")!, CancellationToken.None);

        Assert.Equal((1L, """{"a":1}"""), (first.Version.Version, Encoding.UTF8.GetString(first.Version.Values)));
        Assert.Equal((2L, """{"b":{"c":2}}"""), (second.Version.Version, Encoding.UTF8.GetString(second.Version.Values)));
    }

    [Fact]
    public async Task Patch_ThatBreaksARule_StoresNothing()
    {
        using var kit = new ConfigKit(o => o.MaxKeys = 1);
        await kit.PutAsync("shop", """{"a":1}""");

        var error = await Assert.ThrowsAsync<SwitchboardException>(() =>
            kit.Service.PatchAsync("shop", (JsonObject)JsonNode.Parse("""{"b":2}""")!, CancellationToken.None));

        Assert.Equal("too-many-keys", error.Code);
        Assert.Equal(1, kit.Service.Get("shop")!.Version);
        Assert.Single(await kit.Store.ReadHistoryAsync("shop", 10));
    }

    [Fact]
    public async Task RemoveKey_MakesANewVersion_AndAMissingKeyOrAppIsNotFound()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("shop", """{"a":1,"b":2}""");

        var removed = await kit.Service.RemoveKeyAsync("shop", "a", CancellationToken.None);
        var missingKey = await Assert.ThrowsAsync<SwitchboardException>(() => kit.Service.RemoveKeyAsync("shop", "a", CancellationToken.None));
        var missingApp = await Assert.ThrowsAsync<SwitchboardException>(() => kit.Service.RemoveKeyAsync("none", "a", CancellationToken.None));

        Assert.Equal((2L, """{"b":2}"""), (removed.Version.Version, Encoding.UTF8.GetString(removed.Version.Values)));
        Assert.Equal((SwitchboardErrorKind.NotFound, "config-key-not-found"), (missingKey.Kind, missingKey.Code));
        Assert.Equal((SwitchboardErrorKind.NotFound, "config-key-not-found"), (missingApp.Kind, missingApp.Code));
        Assert.Null(kit.Service.Get("none"));
    }

    [Fact]
    public async Task Replace_ValidatesTheAppName_BeforeAnythingIsStored()
    {
        using var kit = new ConfigKit();

        var error = await Assert.ThrowsAsync<SwitchboardException>(() =>
            kit.Service.ReplaceAsync("a.b", (JsonObject)JsonNode.Parse("""{"a":1}""")!, CancellationToken.None));

        Assert.Equal("invalid-app", error.Code);
        Assert.Empty(await kit.Store.ReadHistoryAsync("a.b", 10));
    }
}
