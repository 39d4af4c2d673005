using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>Replay, recover, pause, and restarts: the endpoint is a durable cursor.</summary>
public sealed class WebhookRecoveryTests
{
    /// <summary>
    /// One quick retry. Six failed attempts in a row would open the circuit (threshold 5) and hold the last retry for
    /// its break; these tests are about recover and replay, so the circuit stays out of the way.
    /// </summary>
    private static readonly Action<SwitchboardOptions> QuickRetriesNoCircuit = WebhookKit.Options(w =>
    {
        w.RetrySchedule = [TimeSpan.FromMilliseconds(10)];
        w.CircuitFailureThreshold = 100;
    });

    [Fact]
    public async Task Replay_RedeliversEverythingAfterTheCursor_WithTheOriginalWebhookIds()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        var events = await client.PublishManyAsync("orders", 5);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 5, "the first five");
        var firstIds = receiver.Received.ToDictionary(d => d.Seq, d => d.Id);
        var epoch = (await client.GetWebhookAsync(webhook.Id())).GetProperty("cursor").GetString()!.Split('.')[0];

        var cursor = $"{epoch}.{events[1].Seq()}";
        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/replay", $$"""{"after":"{{cursor}}"}""");
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 8, "three redeliveries");

        var replayed = receiver.Received.Skip(5).ToList();
        Assert.Equal(events.Skip(2).Select(e => e.Seq()), replayed.Select(d => d.Seq).Order());
        Assert.All(replayed, d => Assert.Equal(firstIds[d.Seq], d.Id));

        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/replay", """{"after":"earliest"}""");
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 13, "all five again");
        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/replay", """{"after":"not a cursor"}""", System.Net.HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Recover_RedeliversOnlyTheFailedEvents()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = d => d.Json.GetProperty("data").GetProperty("n").GetInt32() % 2 == 0 ? new ReceiverAnswer(500) : ReceiverAnswer.Ok;
        await using var server = await HubServer.StartAsync(QuickRetriesNoCircuit);
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        await client.PublishManyAsync("orders", 6);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("failed") == 3 && w.Counts("delivered") == 3, "three failed, three delivered");

        var none = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/recover", $$"""{"since":"{{DateTimeOffset.UtcNow.AddMinutes(1):O}}"}""");
        Assert.Equal(0, none.GetProperty("recovered").GetInt32());

        receiver.Respond = _ => ReceiverAnswer.Ok;
        var sentBefore = receiver.Received.Count;
        var recovered = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/recover", $$"""{"since":"{{before:O}}"}""");
        Assert.Equal(3, recovered.GetProperty("recovered").GetInt32());
        var done = await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 6, "the three recovered");

        Assert.Equal(0, done.Counts("failed"));
        Assert.Equal([0, 2, 4], receiver.Received.Skip(sentBefore).Select(d => d.Json.GetProperty("data").GetProperty("n").GetInt32()).Order());
        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/recover", """{"since":"yesterday"}""", System.Net.HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Replay_OverFailedEvents_ForgetsThemSoRecoverDoesNotSendThemAgain()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(500);
        await using var server = await HubServer.StartAsync(QuickRetriesNoCircuit);
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        await client.PublishManyAsync("orders", 3);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("failed") == 3, "three failed");

        receiver.Respond = _ => ReceiverAnswer.Ok;
        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/replay", """{"after":"earliest"}""");
        var replayed = await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 3, "the replay");
        var recovered = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/recover", $$"""{"since":"{{before:O}}"}""");

        Assert.Equal(0, replayed.Counts("failed"));
        Assert.Equal(0, recovered.GetProperty("recovered").GetInt32());
    }

    [Fact]
    public async Task Recover_TakesNoMoreThanThePendingCapAllows()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(500);
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w =>
        {
            w.RetrySchedule = [TimeSpan.FromMilliseconds(10)];
            w.MaxPendingRetriesPerEndpoint = 2;
            w.CircuitFailureThreshold = 1000;
        }));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        await client.PublishManyAsync("orders", 5);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("failed") == 5, "five failed");

        receiver.Respond = _ => ReceiverAnswer.Ok;
        var first = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/recover", $$"""{"since":"{{before:O}}"}""");
        Assert.Equal(2, first.GetProperty("recovered").GetInt32());
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 2, "the first two");
        var second = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/recover", $$"""{"since":"{{before:O}}"}""");
        Assert.Equal(2, second.GetProperty("recovered").GetInt32());
    }

    [Fact]
    public async Task Pause_StopsDeliveries_AndEnableResumesFromTheCursor()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        await client.PublishManyAsync("orders", 1);
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 1, "the first delivery");

        var paused = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/pause");
        Assert.Equal("paused", paused.GetProperty("status").GetString());
        await client.PublishManyAsync("orders", 3, firstN: 1);

        // A later webhook on the same topic proves the events went out while this one stayed quiet.
        await using var witness = await WebhookReceiver.StartAsync();
        await client.CreateWebhookAsync(witness, "orders", "\"after\":\"earliest\"");
        await Waiting.UntilAsync(() => witness.Received.Count == 4, "the witness to get all four");
        Assert.Single(receiver.Received);

        await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/enable");
        await Waiting.UntilAsync(() => receiver.Received.Count == 4, "the three held back");
        Assert.Equal([0, 1, 2, 3], receiver.Received.Select(d => d.Json.GetProperty("data").GetProperty("n").GetInt32()).Order()); // parallel mode: any order
    }

    [Fact]
    public async Task Restart_InTheMiddleOfARetrySchedule_LosesNothing()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "switchboard.db");
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(500);
        var options = WebhookKit.Options(w =>
        {
            w.RetrySchedule = [TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(1)];
            w.CircuitFailureThreshold = 1000;
        });
        string id;
        IReadOnlyList<long> seqs;
        await using (var server = await HubServer.StartAsync(options, sqlitePath: path))
        {
            using var client = server.CreateClient();
            id = (await client.CreateWebhookAsync(receiver, "orders")).Id();
            seqs = [.. (await client.PublishManyAsync("orders", 10)).Select(e => e.Seq())];
            await client.WaitForWebhookAsync(id, w => w.Counts("pending") == 10 && receiver.Received.Count >= 15, "retries under way");
        }

        var failedBeforeRestart = receiver.Received.Count;
        receiver.Respond = _ => ReceiverAnswer.Ok;
        await using (var server = await HubServer.StartAsync(options, sqlitePath: path))
        {
            using var client = server.CreateClient();
            var done = await client.WaitForWebhookAsync(id, w => w.Counts("delivered") == 10, "every event after the restart");
            Assert.Equal(0, done.Counts("pending"));
            Assert.Equal(seqs, receiver.Received.Skip(failedBeforeRestart).Select(d => d.Seq).Distinct().Order());

            // The cursor survived too: new events flow, old ones are not sent again.
            await client.PublishAsync("orders");
            await client.WaitForWebhookAsync(id, w => w.Counts("delivered") == 11, "a new event");
        }
    }

    [Fact]
    public async Task Restart_WithADeliveryInFlight_SendsItAgainWithTheSameWebhookId()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "switchboard.db");
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(204, Delay: TimeSpan.FromSeconds(30));
        string id;
        await using (var server = await HubServer.StartAsync(WebhookKit.Options(), sqlitePath: path))
        {
            using var client = server.CreateClient();
            id = (await client.CreateWebhookAsync(receiver, "orders")).Id();
            await client.PublishAsync("orders");
            await Waiting.UntilAsync(() => receiver.Received.Count == 1, "the delivery to be in flight");
        }

        receiver.Respond = _ => ReceiverAnswer.Ok;
        await using (var server = await HubServer.StartAsync(WebhookKit.Options(), sqlitePath: path))
        {
            using var client = server.CreateClient();
            await client.WaitForWebhookAsync(id, w => w.Counts("delivered") == 1, "the redelivery");
            Assert.Equal(receiver.Received[0].Id, receiver.Received[^1].Id);
        }
    }
}
