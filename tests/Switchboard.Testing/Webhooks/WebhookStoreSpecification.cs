using Switchboard.Webhooks;
using Xunit;

namespace Switchboard.Testing.Webhooks;

/// <summary>What every <see cref="IWebhookStore"/> must do; each store's tests subclass this.</summary>
public abstract class WebhookStoreSpecification
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 28, 0, 0, 0, TimeSpan.Zero);

    protected abstract IWebhookStore CreateStore();

    protected static WebhookEndpoint Endpoint(string id = "wh_1", long afterSeq = 0) => new()
    {
        Id = id,
        Url = "https://example.com/hook",
        Topics = ["orders", "shop.>"],
        Types = ["order.created"],
        Description = "shop",
        Mode = WebhookMode.Ordered,
        MaxInFlight = 1,
        RateLimitPerSecond = 7,
        Secret = "whsec_new",
        PreviousSecret = "whsec_old",
        PreviousSecretExpiresAt = T0.AddHours(24),
        CreatedAt = T0,
        UpdatedAt = T0,
        Progress = new WebhookProgress(afterSeq, 0, 0, null),
    };

    protected static WebhookAttempt Attempt(string endpointId, long seq, bool succeeded) =>
        new(0, endpointId, seq, 1, T0.AddSeconds(seq), succeeded, succeeded ? 200 : 500, 1.5, succeeded ? null : "HTTP 500", "body");

    [Fact]
    public async Task SavedEndpoint_LoadsBackWithEveryField()
    {
        await using var store = CreateStore();
        var endpoint = Endpoint(afterSeq: 12);

        await store.ApplyAsync([new WebhookEndpointSaved(endpoint)]);

        var loaded = Assert.Single((await store.LoadAsync()).Endpoints);
        Assert.Equal(endpoint.Topics, loaded.Topics);
        Assert.Equal(endpoint.Types, loaded.Types);
        Assert.Equal(endpoint with { Topics = loaded.Topics, Types = loaded.Types }, loaded);
    }

    [Fact]
    public async Task SavingAgain_ChangesTheConfiguration_ButOnlyProgressChangesMoveTheProgress()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([new WebhookEndpointSaved(Endpoint())]);

        await store.ApplyAsync([
            new WebhookProgressSaved("wh_1", new WebhookProgress(40, 30, 2, T0.AddMinutes(1), 31, 9)),
            new WebhookEndpointSaved(Endpoint(afterSeq: 5) with { Url = "https://example.org/new", Status = WebhookStatus.Paused, Types = [] }),
        ]);

        var loaded = Assert.Single((await store.LoadAsync()).Endpoints);
        Assert.Equal("https://example.org/new", loaded.Url);
        Assert.Equal(WebhookStatus.Paused, loaded.Status);
        Assert.Empty(loaded.Types);
        Assert.Equal(new WebhookProgress(40, 30, 2, T0.AddMinutes(1), 31, 9), loaded.Progress);
    }

    [Fact]
    public async Task PendingDeliveriesLoad_FailedOnesAreReadBySince_RemovedOnesAreGone()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([
            new WebhookEndpointSaved(Endpoint()),
            new WebhookDeliverySaved(new WebhookDelivery("wh_1", 3, 1, WebhookDeliveryStatus.Pending, T0.AddSeconds(5), T0, "HTTP 500")),
            new WebhookDeliverySaved(new WebhookDelivery("wh_1", 4, 1, WebhookDeliveryStatus.Pending, T0.AddSeconds(5), T0, "HTTP 500")),
            new WebhookDeliverySaved(new WebhookDelivery("wh_1", 5, 8, WebhookDeliveryStatus.Failed, T0, T0.AddHours(1), "HTTP 502")),
            new WebhookDeliverySaved(new WebhookDelivery("wh_1", 6, 8, WebhookDeliveryStatus.Failed, T0, T0.AddHours(3), "HTTP 502")),
            new WebhookDeliveryRemoved("wh_1", 4),
        ]);

        var pending = Assert.Single((await store.LoadAsync()).PendingDeliveries);
        Assert.Equal(new WebhookDelivery("wh_1", 3, 1, WebhookDeliveryStatus.Pending, T0.AddSeconds(5), T0, "HTTP 500"), pending);
        Assert.Equal([5L, 6L], (await store.ReadFailedAsync("wh_1", T0, 10)).Select(d => d.Seq));
        Assert.Equal([6L], (await store.ReadFailedAsync("wh_1", T0.AddHours(2), 10)).Select(d => d.Seq));
        Assert.Equal([5L], (await store.ReadFailedAsync("wh_1", T0, 1)).Select(d => d.Seq));
    }

    /// <summary>
    /// The store numbers the attempts; each change is told the id it got, the one the attempt log shows (a test ping
    /// answers with it), and an attempt for an endpoint that is gone gets none.
    /// </summary>
    [Fact]
    public async Task AddedAttempts_AreToldTheIdsTheAttemptLogShows()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([new WebhookEndpointSaved(Endpoint()), new WebhookEndpointSaved(Endpoint("wh_2"))]);
        WebhookAttemptAdded[] added = [new(Attempt("wh_1", 1, true)), new(Attempt("wh_gone", 1, true)), new(Attempt("wh_2", 1, false)), new(Attempt("wh_1", 2, false))];
        await store.ApplyAsync([new WebhookDeliveryRemoved("wh_1", 99), .. added]);

        var log = (await store.ReadAttemptsAsync("wh_1", null, 10)).Concat(await store.ReadAttemptsAsync("wh_2", null, 10)).ToList();
        Assert.Equal(log.Single(a => a.EndpointId == "wh_1" && a.Seq == 1).Id, added[0].AssignedId);
        Assert.Equal(0, added[1].AssignedId);
        Assert.Equal(log.Single(a => a.EndpointId == "wh_2").Id, added[2].AssignedId);
        Assert.Equal(log.Single(a => a.EndpointId == "wh_1" && a.Seq == 2).Id, added[3].AssignedId);
        Assert.All(new[] { added[0], added[2], added[3] }, a => Assert.True(a.AssignedId > 0));
    }

    [Fact]
    public async Task Attempts_ComeNewestFirst_FilterByOutcome_AndTrimKeepsTheNewest()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([new WebhookEndpointSaved(Endpoint()), new WebhookEndpointSaved(Endpoint("wh_2"))]);
        await store.ApplyAsync([.. Enumerable.Range(1, 6).Select(seq => new WebhookAttemptAdded(Attempt("wh_1", seq, seq % 2 == 0))), new WebhookAttemptAdded(Attempt("wh_2", 1, true))]);

        var all = await store.ReadAttemptsAsync("wh_1", null, 10);
        Assert.Equal([6L, 5, 4, 3, 2, 1], all.Select(a => a.Seq));
        Assert.True(all[0].Id > all[1].Id);
        Assert.Equal(Attempt("wh_1", 6, true) with { Id = all[0].Id }, all[0]);
        Assert.Equal([5L, 3, 1], (await store.ReadAttemptsAsync("wh_1", false, 10)).Select(a => a.Seq));
        Assert.Equal([6L, 4], (await store.ReadAttemptsAsync("wh_1", true, 2)).Select(a => a.Seq));

        await store.TrimAttemptsAsync(2);
        Assert.Equal([6L, 5], (await store.ReadAttemptsAsync("wh_1", null, 10)).Select(a => a.Seq));
        Assert.Single(await store.ReadAttemptsAsync("wh_2", null, 10));
    }

    [Fact]
    public async Task DeletingAnEndpoint_RemovesItsDeliveriesAndAttempts_AndLaterChangesForItAreIgnored()
    {
        await using var store = CreateStore();
        await store.ApplyAsync([
            new WebhookEndpointSaved(Endpoint()),
            new WebhookDeliverySaved(new WebhookDelivery("wh_1", 3, 1, WebhookDeliveryStatus.Pending, T0, T0, null)),
            new WebhookDeliverySaved(new WebhookDelivery("wh_1", 4, 1, WebhookDeliveryStatus.Failed, T0, T0, null)),
            new WebhookAttemptAdded(Attempt("wh_1", 3, false)),
        ]);

        await store.ApplyAsync([
            new WebhookEndpointDeleted("wh_1"),
            new WebhookDeliverySaved(new WebhookDelivery("wh_1", 9, 1, WebhookDeliveryStatus.Pending, T0, T0, null)),
            new WebhookAttemptAdded(Attempt("wh_1", 9, false)),
            new WebhookProgressSaved("wh_1", new WebhookProgress(9, 0, 0, null)),
        ]);

        var snapshot = await store.LoadAsync();
        Assert.Empty(snapshot.Endpoints);
        Assert.Empty(snapshot.PendingDeliveries);
        Assert.Empty(await store.ReadAttemptsAsync("wh_1", null, 10));
        Assert.Empty(await store.ReadFailedAsync("wh_1", T0.AddYears(-1), 10));
    }
}
