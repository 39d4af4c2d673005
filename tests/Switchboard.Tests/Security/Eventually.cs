using System.Diagnostics;

namespace Switchboard.Tests.Security;

/// <summary>Waits for a condition that needs a request to check (a hub noticing a new or revoked key), with a deadline.</summary>
internal static class Eventually
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}; last seen: {value}.");
            }

            await Task.Delay(100);
        }
    }
}
