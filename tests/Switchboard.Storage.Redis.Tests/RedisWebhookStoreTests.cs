using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.Storage.Redis.Tests;

public sealed class RedisWebhookStoreTests(RedisFixture redis) : WebhookStoreSpecification, IClassFixture<RedisFixture>
{
    // One key prefix per store, so tests never see each other; the store closes its connection when disposed.
    protected override IWebhookStore CreateStore() => new OwningStore(Connect($"t{Guid.NewGuid():N}:"));

    private RedisConnection Connect(string prefix) => new(new RedisStoreOptions { Configuration = redis.Server.Configuration, KeyPrefix = prefix });

    [Fact]
    public async Task ASecondNode_LoadsWhatTheFirstWrote()
    {
        var prefix = $"t{Guid.NewGuid():N}:";
        await using var first = Connect(prefix);
        await using var second = Connect(prefix);
        var node1 = new RedisWebhookStore(first);
        var node2 = new RedisWebhookStore(second);
        var endpoint = Endpoint();
        var pending = new WebhookDelivery("wh_1", 3, 2, WebhookDeliveryStatus.Pending, T0.AddMinutes(5), T0, "HTTP 503");
        var failed = new WebhookDelivery("wh_1", 2, 8, WebhookDeliveryStatus.Failed, T0, T0.AddHours(1), "HTTP 502");

        await node1.ApplyAsync([
            new WebhookEndpointSaved(endpoint),
            new WebhookProgressSaved("wh_1", new WebhookProgress(3, 1, 1, T0.AddMinutes(1))),
            new WebhookDeliverySaved(pending),
            new WebhookDeliverySaved(failed),
            new WebhookAttemptAdded(Attempt("wh_1", 3, false)),
        ]);

        var snapshot = await node2.LoadAsync();
        var loaded = Assert.Single(snapshot.Endpoints);
        Assert.Equal(endpoint.Topics, loaded.Topics);
        Assert.Equal(endpoint.Types, loaded.Types);
        Assert.Equal(endpoint with { Topics = loaded.Topics, Types = loaded.Types, Progress = new WebhookProgress(3, 1, 1, T0.AddMinutes(1)) }, loaded);
        Assert.Equal(["whsec_new", "whsec_old"], loaded.SigningSecrets(T0));
        Assert.Equal(pending, Assert.Single(snapshot.PendingDeliveries));
        Assert.Equal(failed, Assert.Single(await node2.ReadFailedAsync("wh_1", T0, 10)));
        var attempt = Assert.Single(await node2.ReadAttemptsAsync("wh_1", null, 10));
        Assert.Equal(Attempt("wh_1", 3, false) with { Id = attempt.Id }, attempt);

        // The second node carries on where the first stopped: attempt ids keep increasing across nodes.
        await node2.ApplyAsync([new WebhookAttemptAdded(Attempt("wh_1", 4, true)), new WebhookDeliveryRemoved("wh_1", 3)]);
        var attempts = await node1.ReadAttemptsAsync("wh_1", null, 10);
        Assert.Equal([4L, 3], attempts.Select(a => a.Seq));
        Assert.True(attempts[0].Id > attempts[1].Id);
        Assert.Empty((await node1.LoadAsync()).PendingDeliveries);
    }

    [Fact]
    public async Task StoresOnOtherPrefixes_DoNotSeeEachOther()
    {
        await using var store = CreateStore();
        await using var other = CreateStore();
        await store.ApplyAsync([new WebhookEndpointSaved(Endpoint())]);

        Assert.Empty((await other.LoadAsync()).Endpoints);
    }

    [Fact]
    public async Task TrimmingToZero_EmptiesTheAttemptLog()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([new WebhookEndpointSaved(Endpoint()), new WebhookAttemptAdded(Attempt("wh_1", 1, true))]);

        await store.TrimAttemptsAsync(0);

        Assert.Empty(await store.ReadAttemptsAsync("wh_1", null, 10));
    }

    [Fact]
    public async Task AddSwitchboardRedis_ReplacesTheMemoryWebhookStore()
    {
        await using var connection = Connect($"t{Guid.NewGuid():N}:");
        var services = new ServiceCollection().AddSwitchboard().AddSingleton(connection).AddSwitchboardRedis();
        await using var provider = services.BuildServiceProvider();

        Assert.IsType<RedisWebhookStore>(provider.GetRequiredService<IWebhookStore>());
    }

    [Fact]
    public async Task SecretsAndUrlCredentials_AreEncryptedInRedis_ClearTextIsMigratedOnLoad_AndAnotherNodeReadsThem()
    {
        var prefix = $"t{Guid.NewGuid():N}:";
        await using var first = Connect(prefix);
        await using var second = Connect(prefix);
        var node1 = new RedisWebhookStore(first);
        var endpoint = Endpoint() with { Url = "https://hookuser:p4ssw0rd@example.com/hook", Secret = "whsec_" + Convert.ToBase64String(new byte[24]) + "A", PreviousSecret = "whsec_previousSecretValue" };
        await node1.ApplyAsync([new WebhookEndpointSaved(endpoint)]);

        var raw = (string)(await first.Database.HashGetAsync(first.Key("wh:endpoints"), endpoint.Id))!;
        Assert.DoesNotContain(endpoint.Secret, raw, StringComparison.Ordinal);
        Assert.DoesNotContain("previousSecretValue", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("p4ssw0rd", raw, StringComparison.Ordinal);

        var loaded = Assert.Single((await new RedisWebhookStore(second).LoadAsync()).Endpoints);
        Assert.Equal(endpoint.Secret, loaded.Secret);
        Assert.Equal(endpoint.PreviousSecret, loaded.PreviousSecret);
        Assert.Equal(endpoint.Url, loaded.Url);

        // A row an older version wrote in clear: read as it is, and rewritten encrypted.
        string clear;
        using (var document = System.Text.Json.JsonDocument.Parse(raw))
        {
            var fields = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
            var url = fields.Keys.First(k => k.Equals("url", StringComparison.OrdinalIgnoreCase));
            var secret = fields.Keys.First(k => k.Equals("secret", StringComparison.OrdinalIgnoreCase));
            fields[url] = endpoint.Url;
            fields[secret] = endpoint.Secret;
            clear = System.Text.Json.JsonSerializer.Serialize(fields);
        }

        await first.Database.HashSetAsync(first.Key("wh:endpoints"), endpoint.Id, clear);
        var migrated = Assert.Single((await node1.LoadAsync()).Endpoints);
        Assert.Equal(endpoint.Secret, migrated.Secret);
        Assert.Equal(endpoint.Url, migrated.Url);
        var rewritten = (string)(await first.Database.HashGetAsync(first.Key("wh:endpoints"), endpoint.Id))!;
        Assert.DoesNotContain(endpoint.Secret, rewritten, StringComparison.Ordinal);
        Assert.DoesNotContain("p4ssw0rd", rewritten, StringComparison.Ordinal);
    }

    private sealed class OwningStore(RedisConnection connection) : IWebhookStore
    {
        private readonly RedisWebhookStore _store = new(connection);

        public Task<WebhookSnapshot> LoadAsync(CancellationToken cancellationToken = default) => _store.LoadAsync(cancellationToken);

        public Task ApplyAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default) => _store.ApplyAsync(changes, cancellationToken);

        public Task<IReadOnlyList<WebhookAttempt>> ReadAttemptsAsync(string endpointId, bool? succeeded, int limit, CancellationToken cancellationToken = default) =>
            _store.ReadAttemptsAsync(endpointId, succeeded, limit, cancellationToken);

        public Task<IReadOnlyList<WebhookDelivery>> ReadFailedAsync(string endpointId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default) =>
            _store.ReadFailedAsync(endpointId, since, limit, cancellationToken);

        public Task TrimAttemptsAsync(int keepPerEndpoint, CancellationToken cancellationToken = default) => _store.TrimAttemptsAsync(keepPerEndpoint, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await _store.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
