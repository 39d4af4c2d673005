using Microsoft.Extensions.Options;
using Switchboard.Log;

namespace Switchboard.AspNetCore.ServerSentEvents;

/// <summary>
/// One timer for every stream: ticks at half the heartbeat interval, and each stream checks whether it has
/// been quiet long enough to send a heartbeat. A timer per stream per wait would mean creating and
/// cancelling hundreds of thousands of timers a second under fan-out.
/// </summary>
internal sealed class HeartbeatClock : IDisposable
{
    private readonly BroadcastSignal _ticks = new();
    private readonly ITimer _timer;

    public HeartbeatClock(IOptions<SwitchboardOptions> options, TimeProvider time)
    {
        var period = options.Value.Sse.HeartbeatInterval / 2;
        _timer = time.CreateTimer(static state => ((BroadcastSignal)state!).Notify(), _ticks, period, period);
    }

    /// <summary>Completes at the next tick.</summary>
    public Task NextTick => _ticks.Next;

    public void Dispose() => _timer.Dispose();
}
