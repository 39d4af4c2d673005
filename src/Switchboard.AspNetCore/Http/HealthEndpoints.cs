using Switchboard.Hubs;
using Switchboard.Log;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Http;

/// <summary>
/// <c>/v1/health</c> (liveness) and <c>/v1/health/ready</c> (readiness), from the store's last known fault
/// (<see cref="IStoreHealth"/>): a store that refuses writes must not look healthy, and a probe must not write each time.
/// </summary>
internal static class HealthEndpoints
{
    /// <summary>Always a document: the process serves, and reads work even when writes do not.</summary>
    public static HealthResponse Health(Hub hub) => Document(hub, Fault(hub));

    /// <summary>The document while the store accepts writes; otherwise the fault, with the document's members.</summary>
    public static HealthResponse Ready(Hub hub)
    {
        var fault = Fault(hub);
        if (fault is null)
        {
            return Document(hub, null);
        }

        var document = Document(hub, fault);
        var extensions = new Dictionary<string, object?>(fault.Extensions)
        {
            ["store"] = document.Store,
            ["epoch"] = document.Epoch,
            ["cursor"] = document.Cursor,
        };
        throw new SwitchboardException(fault.Kind, fault.Code, fault.Title, fault.Message, extensions, fault.RetryAfter);
    }

    private static SwitchboardException? Fault(Hub hub) => hub.Log is IStoreHealth store ? store.CurrentFault : null;

    private static HealthResponse Document(Hub hub, SwitchboardException? fault) => new(
        fault is null ? "ok" : "degraded",
        hub.Log.Epoch,
        hub.FormatCursor(hub.Log.HeadSeq),
        fault is null ? "ok" : fault.Kind == SwitchboardErrorKind.Full ? "full" : "unavailable");
}
