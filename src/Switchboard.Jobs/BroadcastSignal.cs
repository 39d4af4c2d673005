namespace Switchboard.Jobs;

/// <summary>
/// Wakes every waiter at once: <see cref="Notify"/> completes the current task and installs a fresh one.
/// One allocation per notification, however many wait. The job queue uses it per job type and per job
/// (capture <see cref="Next"/> before checking, so nothing falls between the check and the wait).
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
