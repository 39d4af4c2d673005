using Switchboard.Problems;

namespace Switchboard.Config.Tests;

public sealed class ConfigWaitersTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AwaitChange_HeldPoll_WakesWhenItsAppChanges()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("shop", """{"a":1}""");

        var poll = kit.Service.AwaitChangeAsync([new ConfigWatch("shop", 1)], Wait, CancellationToken.None, CancellationToken.None);
        Assert.False(poll.IsCompleted);
        Assert.Equal(1, kit.Waiters.Held);

        await kit.PutAsync("shop", """{"a":2}""");

        var changed = await poll.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([new ConfigWatch("shop", 1)], changed);
        Assert.Equal(0, kit.Waiters.Held);
        Assert.Equal(1, kit.Waiters.Released);
    }

    [Fact]
    public async Task AwaitChange_NoChange_AnswersEmptyAtTheDeadline_OnTheFakeClock()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("shop", """{"a":1}""");

        var poll = kit.Service.AwaitChangeAsync([new ConfigWatch("shop", 1)], Wait, CancellationToken.None, CancellationToken.None);
        kit.Time.Advance(Wait - TimeSpan.FromMilliseconds(1));
        Assert.False(poll.IsCompleted);

        kit.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(await poll.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, kit.Waiters.Held);
    }

    [Fact]
    public async Task AwaitChange_ChangeToAnotherApp_DoesNotWakeIt()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("shop", """{"a":1}""");

        var poll = kit.Service.AwaitChangeAsync([new ConfigWatch("shop", 1)], Wait, CancellationToken.None, CancellationToken.None);
        await kit.PutAsync("blog", """{"a":1}""");
        await kit.PutAsync("blog", """{"a":2}""");
        Assert.False(poll.IsCompleted);

        kit.Time.Advance(Wait);
        Assert.Empty(await poll.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AwaitChange_ClientBehind_OrAppUnknownAtVersionZero_AnswersAtOnceOrWaits()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("shop", """{"a":1}""");
        await kit.PutAsync("shop", """{"a":2}""");

        var behind = kit.Service.AwaitChangeAsync([new ConfigWatch("shop", 1)], Wait, CancellationToken.None, CancellationToken.None);
        Assert.True(behind.IsCompletedSuccessfully);
        Assert.Equal(0, kit.Waiters.Held);

        // Version 0 is "no settings": an unknown app is not a change until it is created.
        var unknown = kit.Service.AwaitChangeAsync([new ConfigWatch("new", 0)], Wait, CancellationToken.None, CancellationToken.None);
        Assert.False(unknown.IsCompleted);
        await kit.PutAsync("new", "{}");
        Assert.Equal([new ConfigWatch("new", 0)], await unknown.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AwaitChange_ManyApps_AnswersWithTheOnesThatChanged()
    {
        using var kit = new ConfigKit();
        await kit.PutAsync("a", "{}");
        await kit.PutAsync("b", "{}");

        var poll = kit.Service.AwaitChangeAsync([new ConfigWatch("a", 1), new ConfigWatch("b", 1)], Wait, CancellationToken.None, CancellationToken.None);
        await kit.PutAsync("b", """{"x":1}""");

        Assert.Equal([new ConfigWatch("b", 1)], await poll.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AwaitChange_Stopping_AnswersNowWithNothing_ButTheClientGoingAwayCancels()
    {
        using var kit = new ConfigKit();
        using var stopping = new CancellationTokenSource();
        using var aborted = new CancellationTokenSource();

        var held = kit.Service.AwaitChangeAsync([new ConfigWatch("shop", 0)], Wait, stopping.Token, CancellationToken.None);
        await stopping.CancelAsync();
        Assert.Empty(await held.WaitAsync(TimeSpan.FromSeconds(10)));

        var gone = kit.Service.AwaitChangeAsync([new ConfigWatch("shop", 0)], Wait, CancellationToken.None, aborted.Token);
        await aborted.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gone.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, kit.Waiters.Held);
    }

    [Fact]
    public async Task Register_OverMaxHeldRequests_IsUnavailableWithRetryAfter()
    {
        using var kit = new ConfigKit(o => o.MaxHeldRequests = 2);
        var first = kit.Waiters.Register(["a"]);
        var second = kit.Waiters.Register(["b"]);

        var problem = Assert.Throws<SwitchboardException>(() => kit.Waiters.Register(["c"]));
        Assert.Equal((SwitchboardErrorKind.Unavailable, "too-many-waiters"), (problem.Kind, problem.Code));
        Assert.Equal(TimeSpan.FromSeconds(1), problem.RetryAfter);

        // Through the service too, and a slot freed is a slot usable again.
        var refused = await Assert.ThrowsAsync<SwitchboardException>(() =>
            kit.Service.AwaitChangeAsync([new ConfigWatch("c", 0)], Wait, CancellationToken.None, CancellationToken.None));
        Assert.Equal("too-many-waiters", refused.Code);
        kit.Waiters.Unregister(first);
        kit.Waiters.Unregister(kit.Waiters.Register(["c"]));
        kit.Waiters.Unregister(second);
        Assert.Equal(0, kit.Waiters.Held);
    }

    [Fact]
    public async Task Changed_ReleasesInBatches_OnePerReleaseInterval()
    {
        using var kit = new ConfigKit(o =>
        {
            o.ReleaseBatchSize = 2;
            o.ReleaseInterval = TimeSpan.FromMilliseconds(10);
        });
        var waiters = Enumerable.Range(0, 5).Select(_ => kit.Waiters.Register(["shop"])).ToList();

        kit.Waiters.Changed("shop");

        // The first batch goes at once; the rest wait for the (fake) clock.
        await ConfigKit.UntilAsync(() => kit.Waiters.Batches == 1, "the first release batch");
        Assert.Equal(2, kit.Waiters.Released);
        Assert.Equal(2, waiters.Count(w => w.Released.IsCompleted));

        while (kit.Waiters.Released < 5)
        {
            kit.Time.Advance(TimeSpan.FromMilliseconds(10));
            await Task.Delay(1);
        }

        await Task.WhenAll(waiters.Select(w => w.Released)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, kit.Waiters.Batches);
        waiters.ForEach(kit.Waiters.Unregister);
        Assert.Equal(0, kit.Waiters.Held);
    }

    [Fact]
    public async Task Changed_ReleasesAWaiterOnSeveralAppsOnce_AndUnregisterForgetsIt()
    {
        using var kit = new ConfigKit(o => o.ReleaseInterval = TimeSpan.Zero);
        var both = kit.Waiters.Register(["a", "b"]);
        var other = kit.Waiters.Register(["c"]);
        kit.Waiters.Unregister(other);

        kit.Waiters.Changed("a");
        kit.Waiters.Changed("b");
        kit.Waiters.Changed("c");

        await both.Released.WaitAsync(TimeSpan.FromSeconds(10));
        await ConfigKit.UntilAsync(() => kit.Waiters.Batches == 1, "the release batch to be counted");
        Assert.False(other.Released.IsCompleted);
        kit.Waiters.Unregister(both);
        Assert.Equal(0, kit.Waiters.Held);
        Assert.Equal(1, kit.Waiters.Released);
    }
}
