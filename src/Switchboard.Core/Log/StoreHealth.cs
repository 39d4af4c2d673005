using Switchboard.Problems;

namespace Switchboard.Log;

/// <summary>
/// A log whose store can refuse writes (a full disk, a file-size limit, a locked file, Redis away) says so here, for
/// the readiness check (<c>/v1/health</c>'s <c>store</c> member, <c>/v1/health/ready</c>).
/// </summary>
public interface IStoreHealth
{
    /// <summary>
    /// The error a write would get now, or null when the store accepts writes. Cheap and never blocks: it is the last
    /// known state, which a store may refresh in the background (<see cref="StoreFaultState"/>).
    /// </summary>
    SwitchboardException? CurrentFault { get; }
}

/// <summary>
/// The last known fault of a store's writes: set by a refused write, cleared by one that went through. A health check
/// must not write on every call, and a node that a load balancer took out of rotation gets no writes to learn of its
/// recovery from, so while faulted, reading <see cref="Current"/> starts at most one small probe write per
/// <see cref="ProbeInterval"/> in the background; its outcome is what the next reading sees.
/// </summary>
public sealed class StoreFaultState(TimeProvider time, Func<CancellationToken, Task<SwitchboardException?>> probe)
{
    /// <summary>The shortest time between two probes of a faulted store.</summary>
    public static TimeSpan ProbeInterval { get; } = TimeSpan.FromSeconds(1);

    private volatile SwitchboardException? _fault;
    private long _nextProbeAt = long.MinValue;
    private int _probing;

    /// <summary>The last known fault (null: writes go through); reading it while faulted may start a probe.</summary>
    public SwitchboardException? Current
    {
        get
        {
            var fault = _fault;
            if (fault is not null)
            {
                StartProbe();
            }

            return fault;
        }
    }

    /// <summary>The last known fault, without starting a probe.</summary>
    public SwitchboardException? Peek => _fault;

    /// <summary>
    /// A write went through. A full store stays full until a write that <paramref name="grew"/> the store (added
    /// events): updates in place still fit in a full file. Costs one volatile read when nothing changes (the writers
    /// call it per commit).
    /// </summary>
    public void Succeeded(bool grew = true)
    {
        if (_fault is { } fault && (grew || fault.Kind != SwitchboardErrorKind.Full))
        {
            _fault = null;
        }
    }

    /// <summary>A write was refused for a fault of the store (not for the request's own sake).</summary>
    public void Failed(SwitchboardException fault) => _fault = fault;

    private void StartProbe()
    {
        var now = time.GetTimestamp();
        if (now < Volatile.Read(ref _nextProbeAt) || Interlocked.Exchange(ref _probing, 1) == 1)
        {
            return;
        }

        Volatile.Write(ref _nextProbeAt, now + (long)(ProbeInterval.TotalSeconds * time.TimestampFrequency));
        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10), time);
                if (await probe(timeout.Token).ConfigureAwait(false) is { } fault)
                {
                    Failed(fault);
                }
                else
                {
                    _fault = null;
                }
            }
            catch (Exception)
            {
                // A probe that timed out, met a store being disposed or failed in a way that says nothing of the store
                // (a store's own faults come back as its result) leaves the last known fault as it was; the next check tries again.
            }
            finally
            {
                Volatile.Write(ref _probing, 0);
            }
        });
    }
}
