using System.Diagnostics;

namespace Switchboard.Testing;

/// <summary>Waits for conditions with a deadline; tests never sleep to synchronize.</summary>
public static class Waiting
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Polls <paramref name="condition"/> until true; fails with <paramref name="what"/> on timeout.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? DefaultTimeout;
        while (!condition())
        {
            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Retries <paramref name="action"/> until it succeeds (a server coming back); rethrows the last failure on timeout.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> action, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? DefaultTimeout;
        while (true)
        {
            try
            {
                return await action();
            }
            catch (Exception) when (deadline.Elapsed < limit)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Awaits a task with a deadline.</summary>
    public static Task<T> Within<T>(this Task<T> task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? DefaultTimeout);

    /// <summary>Awaits a task with a deadline.</summary>
    public static Task Within(this Task task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? DefaultTimeout);
}
