namespace Switchboard.Log;

/// <summary>
/// Wakes every waiter at once: <see cref="Notify"/> completes the current task and installs a fresh one.
/// One allocation per notification, however many wait. The log uses it for appends (capture
/// <see cref="Next"/> before checking, so nothing falls between the check and the wait), and the SSE
/// heartbeat clock for its ticks.
/// </summary>
internal sealed class BroadcastSignal
{
    private TaskCompletionSource _next = NewSource();

    /// <summary>Completes at the next <see cref="Notify"/> after it was read.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    public void Notify() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

    // Continuations run on the thread pool, so a thousand woken readers never run on the notifier's thread.
    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A task that completes when a token is cancelled, for waiting on it with <see cref="Task.WhenAny(Task[])"/>.</summary>
internal sealed class CancellationSignal : IDisposable
{
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration _registration;

    public CancellationSignal(CancellationToken token) =>
        _registration = token.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), _cancelled);

    public Task Task => _cancelled.Task;

    public void Dispose() => _registration.Dispose();
}
