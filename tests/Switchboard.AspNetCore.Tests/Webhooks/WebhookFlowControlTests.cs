using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>Circuit breaking, auto-disable, modes, the rate limit and the in-flight caps.</summary>
public sealed class WebhookFlowControlTests
{
    [Fact]
    public async Task Circuit_OpensAfterConsecutiveFailures_ProbesOnceAfterTheBreak_AndClosesOnSuccess()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(500);
        var breakDuration = TimeSpan.FromMilliseconds(1500);
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w =>
        {
            w.CircuitFailureThreshold = 3;
            w.CircuitBreakDuration = breakDuration;
            w.RetrySchedule = [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(20), 20)];
        }));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"maxInFlight\":1");

        await client.PublishManyAsync("orders", 3);
        var open = await client.WaitForWebhookAsync(webhook.Id(), w => w.GetProperty("circuit").GetProperty("state").GetString() == "open", "the circuit to open");
        var openedAt = DateTimeOffset.UtcNow;
        var sentWhenOpened = receiver.Received.Count;
        Assert.True(open.GetProperty("circuit").GetProperty("consecutiveFailures").GetInt32() >= 3);

        // While open, nothing is sent; after the break exactly one probe goes, and it fails: open again.
        await Waiting.UntilAsync(() => receiver.Received.Count > sentWhenOpened, "the half-open probe", TimeSpan.FromSeconds(10));
        var probeAt = receiver.Received[sentWhenOpened].ReceivedAt;
        Assert.True(probeAt - openedAt >= breakDuration * 0.6, $"the probe came {(probeAt - openedAt).TotalMilliseconds} ms after opening");
        await client.WaitForWebhookAsync(webhook.Id(), w => w.GetProperty("circuit").GetProperty("state").GetString() == "open"
            && w.GetProperty("circuit").GetProperty("consecutiveFailures").GetInt32() > 3, "the failed probe to reopen the circuit");
        Assert.Equal(sentWhenOpened + 1, receiver.Received.Count);

        // The next probe succeeds: the circuit closes and the backlog drains.
        receiver.Respond = _ => ReceiverAnswer.Ok;
        var closed = await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 3, "the backlog after the circuit closed", TimeSpan.FromSeconds(20));
        Assert.Equal("closed", closed.GetProperty("circuit").GetProperty("state").GetString());
    }

    [Fact]
    public async Task EndpointFailingForTheDisablePeriod_IsDisabled_AndAnnounced()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(500);
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w =>
        {
            w.DisableAfter = TimeSpan.FromMilliseconds(600);
            w.RetrySchedule = [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(50), 100)];
            w.CircuitFailureThreshold = 1000;
        }));
        using var client = server.CreateClient();
        var start = await client.CursorNowAsync("switchboard.webhooks");
        var webhook = await client.CreateWebhookAsync(receiver, "orders");

        await client.PublishAsync("orders");
        var disabled = await client.WaitForWebhookAsync(webhook.Id(), w => w.GetProperty("status").GetString() == "disabled", "auto-disable");

        Assert.Contains("failing without a success", disabled.GetProperty("disabledReason").GetString());
        Assert.True(receiver.Received.Count >= 2);
        Assert.Equal(1, disabled.Counts("pending")); // kept, so enabling delivers it
        var notice = await client.PollAsync($"topic=switchboard.webhooks&after={start}&wait=5");
        Assert.Equal("switchboard.webhook.disabled", Assert.Single(notice.Events).GetProperty("type").GetString());
    }

    [Fact]
    public async Task OrderedMode_HoldsLaterEventsBackWhileOneFails()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var failuresOfSecond = 0;
        receiver.Respond = d => d.Json.GetProperty("data").GetProperty("n").GetInt32() == 1 && Interlocked.Increment(ref failuresOfSecond) <= 2
            ? new ReceiverAnswer(500) : ReceiverAnswer.Ok;
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w => w.RetrySchedule = [TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200)]));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"mode\":\"ordered\"");
        Assert.Equal(1, webhook.GetProperty("maxInFlight").GetInt32());

        await client.PublishManyAsync("orders", 5);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 5, "all five");

        var order = receiver.Received.Select(d => d.Json.GetProperty("data").GetProperty("n").GetInt32()).ToList();
        Assert.Equal([0, 1, 1, 1, 2, 3, 4], order);
        Assert.Equal(1, receiver.MaxConcurrent);
    }

    [Fact]
    public async Task ParallelMode_LetsLaterEventsPassAFailingOne()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var failuresOfSecond = 0;
        receiver.Respond = d => d.Json.GetProperty("data").GetProperty("n").GetInt32() == 1 && Interlocked.Increment(ref failuresOfSecond) <= 2
            ? new ReceiverAnswer(500) : ReceiverAnswer.Ok;
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w => w.RetrySchedule = [TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500)]));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"maxInFlight\":1");

        await client.PublishManyAsync("orders", 5);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 5, "all five");

        var order = receiver.Received.Select(d => d.Json.GetProperty("data").GetProperty("n").GetInt32()).ToList();
        Assert.Equal([0, 1, 2, 3, 4, 1, 1], order);
    }

    [Fact]
    public async Task RateLimit_CapsDeliveriesPerSecond()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"rateLimit\":{\"perSecond\":5}");
        Assert.Equal(5, webhook.GetProperty("rateLimit").GetProperty("perSecond").GetInt32());

        await client.PublishManyAsync("orders", 20);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 20, "all twenty", TimeSpan.FromSeconds(20));

        // A burst of one second's worth, then 5 per second: 20 take about 3 s, and no second holds more than 5 + 5.
        var times = receiver.Received.Select(d => d.ReceivedAt).Order().ToList();
        Assert.True(times[^1] - times[0] >= TimeSpan.FromSeconds(2.5), $"20 deliveries took only {(times[^1] - times[0]).TotalMilliseconds} ms");
        var busiestSecond = times.Max(t => times.Count(u => u >= t && u < t + TimeSpan.FromSeconds(1)));
        Assert.True(busiestSecond <= 10, $"{busiestSecond} deliveries within one second");
    }

    [Fact]
    public async Task BurstOfEvents_UsesAtMostMaxInFlightConnectionsToTheReceiver()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(204, Delay: TimeSpan.FromMilliseconds(2));
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"maxInFlight\":8");

        await client.PublishManyAsync("orders", 2000);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 2000, "the burst", TimeSpan.FromSeconds(60));

        Assert.InRange(receiver.MaxConcurrent, 2, 8);
        Assert.InRange(receiver.Connections, 1, 8);
        Assert.Equal(2000, receiver.Received.Select(d => d.Seq).Distinct().Count());
    }

    [Fact]
    public async Task PendingRetries_AreCappedPerEndpoint_AndNewEventsWaitUntilTheyDrain()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(500);
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w =>
        {
            w.MaxPendingRetriesPerEndpoint = 3;
            w.CircuitFailureThreshold = 1000;
            w.RetrySchedule = [TimeSpan.FromSeconds(2)];
        }));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"maxInFlight\":1");

        await client.PublishManyAsync("orders", 10);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("pending") == 3, "three pending retries");

        // A witness endpoint proves the later events are out there, while this endpoint holds at the cap.
        await using var witness = await WebhookReceiver.StartAsync();
        await client.CreateWebhookAsync(witness, "orders", "\"after\":\"earliest\"");
        await Waiting.UntilAsync(() => witness.Received.Count == 10, "the witness");
        Assert.Equal(3, receiver.Received.Count);

        receiver.Respond = _ => ReceiverAnswer.Ok;
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 10, "everything once the retries drained");
    }

    [Fact]
    public async Task GlobalConcurrencyCap_HoldsAcrossEndpoints()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(204, Delay: TimeSpan.FromMilliseconds(5));
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w => w.MaxConcurrentDeliveries = 3));
        using var client = server.CreateClient();
        for (var i = 0; i < 4; i++)
        {
            await client.CreateWebhookAsync(receiver, "orders", "\"maxInFlight\":10");
        }

        await client.PublishManyAsync("orders", 100);
        await Waiting.UntilAsync(() => receiver.Received.Count == 400, "400 deliveries", TimeSpan.FromSeconds(60));
        Assert.InRange(receiver.MaxConcurrent, 1, 3);
    }
}
