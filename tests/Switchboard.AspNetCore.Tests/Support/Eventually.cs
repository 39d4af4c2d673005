using System.Diagnostics;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Support;

/// <summary><see cref="Waiting.UntilAsync"/> for conditions that need a request to check.</summary>
internal static class Eventually
{
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Waiting.DefaultTimeout;
        var deadline = Stopwatch.StartNew();
        while (!await condition().WaitAsync(limit))
        {
            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.");
            }

            // Re-check interval of a condition wait, as in Waiting.UntilAsync; not used to synchronize.
            await Task.Delay(20);
        }
    }
}
