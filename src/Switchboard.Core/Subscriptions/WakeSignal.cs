using System.Threading.Tasks.Sources;

namespace Switchboard.Subscriptions;

/// <summary>
/// An auto-reset event with one waiter (its owner), reused for every wait, so waiting allocates nothing. A set with
/// nobody waiting is remembered until the next wait or <see cref="Arm"/>.
/// </summary>
/// <remarks>
/// The rule that makes a wake-up impossible to miss: <see cref="Arm"/> before checking for work, <see cref="WaitAsync()"/>
/// after. A set that lands anywhere after <see cref="Arm"/> either is seen by the check or makes the wait return at once.
/// The owner must finish one wait (await it) before starting the next.
/// </remarks>
public class WakeSignal : IValueTaskSource
{
    private const int Idle = 0;
    private const int Signaled = 1;
    private const int Waiting = 2;

    private readonly Action<object?>? _onSet;
    private readonly object? _onSetState;
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _state;
    private long _sets;

    /// <summary>Creates a signal; <paramref name="onSet"/>, when given, also runs at every set (to pass the wake-up on).</summary>
    public WakeSignal(Action<object?>? onSet = null, object? onSetState = null)
    {
        _onSet = onSet;
        _onSetState = onSetState;
    }

    /// <summary>How many times it was set: a test hook and a cost measure.</summary>
    public long Wakes => Interlocked.Read(ref _sets);

    /// <summary>Wakes the owner now, or makes its next wait return at once. Safe from any thread, any number of times.</summary>
    public void Set()
    {
        Interlocked.Increment(ref _sets);
        _onSet?.Invoke(_onSetState);
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

    /// <summary>Forgets a wake-up already taken into account; call it just before checking for work.</summary>
    public void Arm() => Interlocked.CompareExchange(ref _state, Idle, Signaled);

    /// <summary>Waits for the next <see cref="Set"/> since <see cref="Arm"/>. Only the owner waits, one wait at a time.</summary>
    public ValueTask WaitAsync()
    {
        var state = Interlocked.CompareExchange(ref _state, Idle, Signaled);
        if (state == Signaled)
        {
            return default;
        }

        if (state == Waiting)
        {
            throw new InvalidOperationException("A wake signal has one waiter, and it is already waiting.");
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

        using (cancellationToken.UnsafeRegister(static state => ((WakeSignal)state!).Set(), this))
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
