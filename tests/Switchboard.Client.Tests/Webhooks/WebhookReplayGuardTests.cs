using Microsoft.Extensions.Time.Testing;

namespace Switchboard.Client.Tests.Webhooks;

public sealed class WebhookReplayGuardTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 3, 0, 0, TimeSpan.Zero));

    [Fact]
    public void TryAccept_SameIdWithinWindow_IsRefused_AndAcceptedAgainAfterIt()
    {
        var guard = new WebhookReplayGuard(timeProvider: _time);

        Assert.True(guard.TryAccept("msg_1"));
        _time.Advance(WebhookReplayGuard.DefaultWindow - TimeSpan.FromSeconds(1));
        Assert.False(guard.TryAccept("msg_1"));
        Assert.True(guard.TryAccept("msg_2"));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(guard.TryAccept("msg_1"));
    }

    [Fact]
    public void ExpiredIds_AreEvicted()
    {
        var guard = new WebhookReplayGuard(TimeSpan.FromMinutes(1), timeProvider: _time);
        for (var i = 0; i < 100; i++)
        {
            guard.TryAccept($"msg_{i}");
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        guard.TryAccept("msg_new");

        Assert.Equal(1, guard.Count);
    }

    [Fact]
    public void AtCapacity_TheOldestIdIsForgotten()
    {
        var guard = new WebhookReplayGuard(capacity: 3, timeProvider: _time);
        foreach (var id in new[] { "a", "b", "c", "d" })
        {
            Assert.True(guard.TryAccept(id));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(3, guard.Count);
        Assert.False(guard.TryAccept("d"));
        Assert.False(guard.TryAccept("b"));
        Assert.True(guard.TryAccept("a")); // evicted early, by design of the bound
    }

    [Fact]
    public void ReserveCompleteRelease_FollowTheHandlerOutcome()
    {
        var guard = new WebhookReplayGuard(timeProvider: _time);

        Assert.Equal(WebhookReplayStatus.New, guard.TryReserve("msg_1"));
        Assert.Equal(WebhookReplayStatus.InProgress, guard.TryReserve("msg_1"));
        guard.Release("msg_1");
        Assert.Equal(WebhookReplayStatus.New, guard.TryReserve("msg_1"));
        guard.Complete("msg_1");
        Assert.Equal(WebhookReplayStatus.Duplicate, guard.TryReserve("msg_1"));
        guard.Release("msg_1"); // a completed id stays remembered
        Assert.Equal(WebhookReplayStatus.Duplicate, guard.TryReserve("msg_1"));
    }

    [Fact]
    public void RepeatedReserveAndRelease_KeepsMemoryBounded()
    {
        var guard = new WebhookReplayGuard(capacity: 10, timeProvider: _time);
        guard.TryAccept("pinned");
        for (var i = 0; i < 10_000; i++)
        {
            guard.TryReserve("flapping");
            guard.Release("flapping");
        }

        Assert.Equal(1, guard.Count);
        Assert.False(guard.TryAccept("pinned"));
    }

    [Fact]
    public async Task TryAccept_FromManyThreads_AcceptsEachIdExactlyOnce()
    {
        var guard = new WebhookReplayGuard(timeProvider: _time);
        var accepted = 0;
        using var start = new Barrier(4);
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 5_000; i++)
            {
                if (guard.TryAccept($"msg_{i}"))
                {
                    Interlocked.Increment(ref accepted);
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(5_000, accepted);
    }
}
