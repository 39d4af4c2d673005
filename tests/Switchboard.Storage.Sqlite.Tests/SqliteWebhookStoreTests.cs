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
}
