namespace Switchboard.Log;

/// <summary>
/// Wakes every waiting reader at once: each append completes the current task and installs a fresh one.
/// One allocation per append batch, however many readers wait.
/// </summary>
internal sealed class AppendSignalSource
{
    private TaskCompletionSource _next = NewSource();

    public Task Next => Volatile.Read(ref _next).Task;

    public void Notify() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

    // Continuations run on the thread pool, so a thousand woken readers never run on the writer's thread.
    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
