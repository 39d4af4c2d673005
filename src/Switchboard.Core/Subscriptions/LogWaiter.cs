using System.Threading.Tasks.Sources;
using Switchboard.Topics;

namespace Switchboard.Subscriptions;

/// <summary>
/// One reader's wake-up: the <see cref="SubscriptionIndex"/> sets it when a commit holds an event its filter matches,
/// and the <see cref="TailClock"/> sets it when a deadline it asked for comes. It is an auto-reset event with
/// one waiter (its owner), reused for every wait, so waiting allocates nothing.
/// </summary>
/// <remarks>
/// The rule that makes a publish impossible to miss: <see cref="Arm"/> before reading, <see cref="WaitAsync()"/> after.
/// A set that lands anywhere after <see cref="Arm"/> either is seen by the read or makes the wait return at once.
/// </remarks>
public sealed class LogWaiter : IValueTaskSource
{
    private const int Idle = 0;
    private const int Signaled = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _state;
    private long _wakes;

    internal LogWaiter(TopicFilter filter) => Filter = filter;

    /// <summary>The topics this waiter is woken for.</summary>
    public TopicFilter Filter { get; }

    /// <summary>How many times an index match or a deadline woke it: a test hook and a cost measure.</summary>
    public long Wakes => Interlocked.Read(ref _wakes);

    /// <summary>Set while registered in an index; guarded by that index's lock.</summary>
    internal bool Registered { get; set; }

    /// <summary>The earliest deadline queued for it on a clock (0: none); guarded by that clock's lock.</summary>
    internal long ScheduledAt { get; set; }

    /// <summary>Wakes the owner now, or makes its next wait return at once. Safe from any thread, any number of times.</summary>
    public void Set()
    {
        Interlocked.Increment(ref _wakes);
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Signaled:
                    return;
                case Idle when Interlocked.CompareExchange(ref _state, Signaled, Idle) == Idle:
                    return;
                case Waiting when Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting:
                    _core.SetResult(true);
                    return;
            }
        }
    }

    /// <summary>Forgets a wake-up already taken into account; call it just before reading.</summary>
    public void Arm() => Interlocked.CompareExchange(ref _state, Idle, Signaled);

    /// <summary>Waits for the next <see cref="Set"/> since <see cref="Arm"/>. Only the owner waits, one wait at a time.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled)
        {
            return default;
        }

        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) == Idle)
        {
            return new ValueTask(this, _core.Version);
        }

        // Set between the two exchanges: the state is Signaled, so take it.
        Volatile.Write(ref _state, Idle);
        return default;
    }

    /// <summary>Waits for a set or for <paramref name="cancellationToken"/>; throws when cancelled.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            await WaitAsync().ConfigureAwait(false);
            return;
        }

        using (cancellationToken.UnsafeRegister(static state => ((LogWaiter)state!).Set(), this))
        {
            await WaitAsync().ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
