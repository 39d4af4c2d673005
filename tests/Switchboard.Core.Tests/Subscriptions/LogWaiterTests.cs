using Switchboard.Subscriptions;
using Switchboard.Topics;

namespace Switchboard.Core.Tests.Subscriptions;

public sealed class LogWaiterTests
{
    private readonly LogWaiter _waiter = new SubscriptionIndex().Register(TopicFilter.Parse("a"));

    [Fact]
    public void Set_BeforeTheWait_MakesItReturnAtOnce()
    {
        _waiter.Arm();
        _waiter.Set(); // e.g. an append between the read and the wait

        Assert.True(_waiter.WaitAsync().IsCompleted);
        Assert.False(_waiter.WaitAsync().IsCompleted); // auto-reset: taken once
    }

    [Fact]
    public void Arm_ForgetsAnEarlierSet()
    {
        _waiter.Set();
        _waiter.Arm();

        Assert.False(_waiter.WaitAsync().IsCompleted);
    }

    [Fact]
    public async Task Set_DuringTheWait_CompletesItAndTheWaiterIsReusable()
    {
        for (var i = 0; i < 3; i++)
        {
            _waiter.Arm();
            var wait = _waiter.WaitAsync().AsTask();
            Assert.False(wait.IsCompleted);
            _waiter.Set();
            await wait.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(3, _waiter.Wakes);
    }

    [Fact]
    public async Task Wait_Cancelled_Throws()
    {
        using var cancel = new CancellationTokenSource();
        _waiter.Arm();
        var wait = _waiter.WaitAsync(cancel.Token).AsTask();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
