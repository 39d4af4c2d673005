using Xunit;

namespace Switchboard.Client.Tests.Subscribing;

public sealed class DeadlineTests
{
    [Fact]
    public void TimerThatFiresAfterDispose_DoesNotThrow()
    {
        // Disposing a timer does not wait for a callback already running on the thread pool; this provider's timer
        // keeps its callback after Dispose, so the test can run it at the worst moment.
        var time = new LateFiringTimeProvider();
        var deadline = new Deadline(TimeSpan.FromSeconds(5), time, CancellationToken.None);
        var token = deadline.Token;

        deadline.Dispose();
        var fire = Record.Exception(time.FireAll);

        Assert.Null(fire);
        Assert.False(token.IsCancellationRequested);
    }

    [Fact]
    public void Timeout_CancelsTheToken_AndTheCallersTokenDoesToo()
    {
        var time = new LateFiringTimeProvider();
        using (var deadline = new Deadline(TimeSpan.FromSeconds(5), time, CancellationToken.None))
        {
            time.FireAll();
            Assert.True(deadline.IsCancellationRequested);
        }

        using var caller = new CancellationTokenSource();
        using var linked = new Deadline(TimeSpan.FromSeconds(5), time, caller.Token);
        Assert.False(linked.IsCancellationRequested);
        caller.Cancel();
        Assert.True(linked.Token.IsCancellationRequested);
    }

    [Fact]
    public void InfiniteTimeout_StartsNoTimer()
    {
        var time = new LateFiringTimeProvider();
        using var deadline = new Deadline(Timeout.InfiniteTimeSpan, time, CancellationToken.None);
        Assert.Equal(0, time.Created);
    }

    private sealed class LateFiringTimeProvider : TimeProvider
    {
        private readonly List<(TimerCallback Callback, object? State)> _timers = [];

        public int Created => _timers.Count;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _timers.Add((callback, state));
            return new IgnoredTimer();
        }

        public void FireAll()
        {
            foreach (var (callback, state) in _timers.ToArray())
            {
                callback(state);
            }
        }

        private sealed class IgnoredTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
