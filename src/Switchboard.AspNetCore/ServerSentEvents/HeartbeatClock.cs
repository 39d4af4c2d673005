using Microsoft.Extensions.Options;

namespace Switchboard.AspNetCore.ServerSentEvents;

/// <summary>
/// One timer for every stream: ticks at half the heartbeat interval, and each stream checks whether it has
/// been quiet long enough to send a heartbeat. A timer per stream per wait would mean creating and
/// cancelling hundreds of thousands of timers a second under fan-out.
/// </summary>
internal sealed class HeartbeatClock : IDisposable
{
    private readonly ITimer _timer;
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public HeartbeatClock(IOptions<SwitchboardOptions> options, TimeProvider time)
    {
        var period = options.Value.Sse.HeartbeatInterval / 2;
        _timer = time.CreateTimer(static state => ((HeartbeatClock)state!).Tick(), this, period, period);
    }

    /// <summary>Completes at the next tick.</summary>
    public Task NextTick => Volatile.Read(ref _next).Task;

    public void Dispose() => _timer.Dispose();

    private void Tick() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
