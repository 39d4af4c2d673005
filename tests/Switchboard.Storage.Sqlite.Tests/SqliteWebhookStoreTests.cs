using Switchboard.Testing;
using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Sqlite.Tests;

public sealed class SqliteWebhookStoreTests : WebhookStoreSpecification, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override IWebhookStore CreateStore() => new SqliteWebhookStore(Path.Combine(_directory.Path, $"{Guid.NewGuid():N}.db"));

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Reopen_KeepsEndpointsProgressAndPendingRetries_NextToTheLog()
    {
        var path = Path.Combine(_directory.Path, "shared.db");
        await using (var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path }))
        await using (var store = new SqliteWebhookStore(path))
        {
            await log.AppendAsync([new Events.EventDraft("orders", "t", "{}"u8.ToArray())]);
            await store.ApplyAsync([
                new WebhookEndpointSaved(Endpoint()),
                new WebhookProgressSaved("wh_1", new WebhookProgress(1, 1, 0, null)),
                new WebhookDeliverySaved(new WebhookDelivery("wh_1", 1, 2, WebhookDeliveryStatus.Pending, T0, T0, "HTTP 503")),
            ]);
        }

        await using var reopened = new SqliteWebhookStore(path);
        var snapshot = await reopened.LoadAsync();
        Assert.Equal(new WebhookProgress(1, 1, 0, null), Assert.Single(snapshot.Endpoints).Progress);
        Assert.Equal(2, Assert.Single(snapshot.PendingDeliveries).Attempts);
    }

    [Fact]
    public async Task Open_AFileFromBeforeAttemptCounts_AddsTheColumns_AndCountsFromZero()
    {
        var path = Path.Combine(_directory.Path, "old.db");
        await using (var store = new SqliteWebhookStore(path))
        {
            await store.ApplyAsync([new WebhookEndpointSaved(Endpoint()), new WebhookProgressSaved("wh_1", new WebhookProgress(7, 5, 1, null))]);
        }

        // The table as an older version created it.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "ALTER TABLE webhook_endpoints DROP COLUMN attempts_succeeded; ALTER TABLE webhook_endpoints DROP COLUMN attempts_failed;";
            await command.ExecuteNonQueryAsync();
        }

        await using (var reopened = new SqliteWebhookStore(path))
        {
            Assert.Equal(new WebhookProgress(7, 5, 1, null, 0, 0), Assert.Single((await reopened.LoadAsync()).Endpoints).Progress);
            await reopened.ApplyAsync([new WebhookProgressSaved("wh_1", new WebhookProgress(8, 6, 1, null, 1, 3))]);
        }

        await using var again = new SqliteWebhookStore(path);
        Assert.Equal(new WebhookProgress(8, 6, 1, null, 1, 3), Assert.Single((await again.LoadAsync()).Endpoints).Progress);
    }
}

/// <summary>The same specification with the store writing through the event log's writer thread, as the server runs it.</summary>
public sealed class SqliteSharedWriterWebhookStoreTests : WebhookStoreSpecification, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override IWebhookStore CreateStore()
    {
        var path = Path.Combine(_directory.Path, $"{Guid.NewGuid():N}.db");
        var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path });
        return new StoreWithLog(new SqliteWebhookStore(log, path), log);
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task AFailingWrite_RollsBackAlone_AndTheLogKeepsAppending()
    {
        var path = Path.Combine(_directory.Path, "shared.db");
        await using var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path });
        var failing = log.ExecuteWriteAsync(transaction =>
        {
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO no_such_table VALUES (1)";
            command.ExecuteNonQuery();
        });
        var append = log.AppendAsync([new Events.EventDraft("orders", "t", "{}"u8.ToArray())]);

        await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => failing);
        Assert.Equal(1, (await append).Events[0].Seq);
    }

    private sealed class StoreWithLog(SqliteWebhookStore store, SqliteEventLog log) : IWebhookStore
    {
        public Task<WebhookSnapshot> LoadAsync(CancellationToken cancellationToken = default) => store.LoadAsync(cancellationToken);

        public Task ApplyAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default) => store.ApplyAsync(changes, cancellationToken);

        public Task<IReadOnlyList<WebhookAttempt>> ReadAttemptsAsync(string endpointId, bool? succeeded, int limit, CancellationToken cancellationToken = default) =>
            store.ReadAttemptsAsync(endpointId, succeeded, limit, cancellationToken);

        public Task<IReadOnlyList<WebhookDelivery>> ReadFailedAsync(string endpointId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default) =>
            store.ReadFailedAsync(endpointId, since, limit, cancellationToken);

        public Task TrimAttemptsAsync(int keepPerEndpoint, CancellationToken cancellationToken = default) => store.TrimAttemptsAsync(keepPerEndpoint, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await store.DisposeAsync();
            await log.DisposeAsync();
        }
    }
}
