using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Retention;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>Failures that are not a plain error status: broken responses, a failing store, trimmed neighbours, recovered backlogs.</summary>
public sealed class WebhookFailureModeTests
{
    [Fact]
    public async Task ResponseCutOffMidBody_IsAFailedAttempt_ThatIsRetried()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var calls = 0;
        receiver.Respond = _ => Interlocked.Increment(ref calls) == 1 ? new ReceiverAnswer(200, TruncateBody: true) : ReceiverAnswer.Ok;
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");

        await client.PublishAsync("orders");
        var done = await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 1, "the retried delivery");

        Assert.Equal(2, receiver.Received.Count);
        Assert.Equal(["succeeded", "failed"], (await client.AttemptsAsync(webhook.Id())).Select(a => a.GetProperty("status").GetString()));
        Assert.Equal(0, done.Counts("pending"));
    }

    [Fact]
    public async Task BrokenHalfOpenProbe_ReopensTheCircuit_InsteadOfStallingIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var calls = 0;
        receiver.Respond = _ => Interlocked.Increment(ref calls) switch
        {
            1 => new ReceiverAnswer(500),
            2 => new ReceiverAnswer(200, TruncateBody: true),
            _ => ReceiverAnswer.Ok,
        };
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w =>
        {
            w.CircuitFailureThreshold = 1;
            w.CircuitBreakDuration = TimeSpan.FromMilliseconds(200);
            w.RetrySchedule = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50)];
        }));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");

        await client.PublishManyAsync("orders", 2);

        var done = await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 2, "both events after the broken probe");
        Assert.Equal("closed", done.GetProperty("circuit").GetProperty("state").GetString());
    }

    [Fact]
    public async Task OrderedEndpoint_RecoveredBacklog_GoesOutInLogOrder()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var failing = true;
        receiver.Respond = _ => Volatile.Read(ref failing) ? new ReceiverAnswer(500) : ReceiverAnswer.Ok;
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w =>
        {
            w.RetrySchedule = [TimeSpan.FromMilliseconds(10)];
            w.CircuitFailureThreshold = 1000;
        }));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"mode\":\"ordered\"");
        var since = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O");
        var published = await client.PublishManyAsync("orders", 10);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("failed") == 10, "all ten given up");

        Volatile.Write(ref failing, false);
        var before = receiver.Received.Count;
        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/recover", $$"""{"since":"{{since}}"}""");
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 10, "all ten recovered");

        Assert.Equal(published.Select(e => e.Seq()), receiver.Received.Skip(before).Select(d => d.Seq));
    }

    [Fact]
    public async Task Retry_StillFindsItsEvent_WhenAnotherMatchingTopicWasTrimmed()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var orderCalls = 0;
        receiver.Respond = d => d.Topic == "orders" && Interlocked.Increment(ref orderCalls) == 1 ? new ReceiverAnswer(500) : ReceiverAnswer.Ok;
        await using var server = await HubServer.StartAsync(o =>
        {
            WebhookKit.Options(w => w.RetrySchedule = [TimeSpan.FromSeconds(1)])(o);
            o.Retention.Topics["noisy"] = new RetentionRule { MaxEventsPerTopic = 1 };
            o.Retention.TrimInterval = TimeSpan.FromMilliseconds(50);
        });
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync("""{"url":"URL","topics":["orders","noisy"]}""".Replace("URL", receiver.Url, StringComparison.Ordinal));
        var order = await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => receiver.Received.Count >= 1, "the first attempt");

        await client.PublishManyAsync("noisy", 3);
        await Waiting.UntilAsync(() => receiver.Received.Count(r => r.Seq == order.Seq()) == 2, "the retry of the order");

        var done = await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("pending") == 0, "nothing owed");
        Assert.Equal(0, done.Counts("failed"));
    }

    [Fact]
    public async Task StoreFailing_ForAWhile_DelaysDeliveries_ButLosesNoRetry()
    {
        var store = new FlakyWebhookStore();
        await using var receiver = await WebhookReceiver.StartAsync();
        var calls = 0;
        receiver.Respond = _ => Interlocked.Increment(ref calls) == 1 ? new ReceiverAnswer(500) : ReceiverAnswer.Ok;
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w => w.RetrySchedule = [TimeSpan.FromMinutes(5)]), sqlite: false,
            services: s => s.AddSingleton<IWebhookStore>(store));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");

        store.Failing = true;
        var first = await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => receiver.Received.Count == 1, "the failed first attempt");
        await Waiting.UntilAsync(() => store.Refusals >= 6, "the journal to retry the store past its old give-up point");
        store.Failing = false;
        var second = await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => receiver.Received.Count == 2, "the second event");
        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/test"); // commits everything before it

        var stored = await store.Inner.LoadAsync();
        Assert.True(Assert.Single(stored.Endpoints).Progress.AfterSeq >= second.Seq());
        Assert.Contains(stored.PendingDeliveries, d => d.Seq == first.Seq()); // still owed, with the cursor past it
    }

    [Fact]
    public async Task DeleteRefused_ByAFullStore_LeavesTheEndpointDelivering()
    {
        var store = new FlakyWebhookStore();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false, services: s => s.AddSingleton<IWebhookStore>(store));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => receiver.Received.Count == 1, "the first delivery");

        store.Full = true;
        using (var refused = await client.DeleteAsync($"v1/webhooks/{webhook.Id()}"))
        {
            Assert.Equal((System.Net.HttpStatusCode)507, refused.StatusCode);
        }

        store.Full = false;
        var second = await client.PublishAsync("orders");

        // The endpoint is still there, so it still gets its events.
        await Waiting.UntilAsync(() => receiver.Received.Any(r => r.Seq == second.Seq()), "the event after the refused delete");
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 2, "both events delivered");
    }

    [Fact]
    public async Task ChangeWhileTheStoreIsUnreachable_Answers503AtOnce_AndTheEndpointCarriesOnAsItWas()
    {
        var store = new FlakyWebhookStore();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false, services: s => s.AddSingleton<IWebhookStore>(store));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"description\":\"before\"");

        store.Unreachable = true;
        using (var refused = await client.PatchAsync($"v1/webhooks/{webhook.Id()}", HubApi.Json("""{"description":"after"}""")).Within(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Contains("store-unavailable", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        store.Unreachable = false;
        var published = await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => receiver.Received.Any(r => r.Seq == published.Seq()), "a delivery after the refused change");
        Assert.Equal("before", (await client.GetWebhookAsync(webhook.Id())).GetProperty("description").GetString());
    }

    /// <summary>A store whose writes fail while <see cref="Failing"/> is set, like a broken disk, refuse as a full one while <see cref="Full"/> is, or as an unreachable one while <see cref="Unreachable"/> is.</summary>
    private sealed class FlakyWebhookStore : IWebhookStore
    {
        private int _refusals;

        public InMemoryWebhookStore Inner { get; } = new();

        public volatile bool Failing;

        public volatile bool Full;

        public volatile bool Unreachable;

        public int Refusals => Volatile.Read(ref _refusals);

        public Task<WebhookSnapshot> LoadAsync(CancellationToken cancellationToken = default) => Inner.LoadAsync(cancellationToken);

        public Task ApplyAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default)
        {
            if (Failing)
            {
                Interlocked.Increment(ref _refusals);
                throw new IOException("disk full");
            }

            if (Unreachable)
            {
                Interlocked.Increment(ref _refusals);
                throw Switchboard.Problems.StoreProblems.Unavailable("The store cannot be reached.");
            }

            if (Full)
            {
                throw new Switchboard.Log.StoreFullException("The store is full.");
            }

            return Inner.ApplyAsync(changes, cancellationToken);
        }

        public Task<IReadOnlyList<WebhookAttempt>> ReadAttemptsAsync(string endpointId, bool? succeeded, int limit, CancellationToken cancellationToken = default) =>
            Inner.ReadAttemptsAsync(endpointId, succeeded, limit, cancellationToken);

        public Task<IReadOnlyList<WebhookDelivery>> ReadFailedAsync(string endpointId, DateTimeOffset since, int limit, CancellationToken cancellationToken = default) =>
            Inner.ReadFailedAsync(endpointId, since, limit, cancellationToken);

        public Task TrimAttemptsAsync(int keepPerEndpoint, CancellationToken cancellationToken = default) => Inner.TrimAttemptsAsync(keepPerEndpoint, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
