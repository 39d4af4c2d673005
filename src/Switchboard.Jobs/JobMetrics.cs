using System.Diagnostics.Metrics;
using Switchboard.Metrics;

namespace Switchboard.Jobs;

/// <summary>
/// The job queue's instruments. They live on the hub's one meter (<see cref="SwitchboardMetrics.MeterName"/>): a
/// meter factory hands every feature the same instance for that name, so one listener or exporter sees them all.
/// </summary>
public sealed class JobMetrics : IDisposable
{
    private static readonly KeyValuePair<string, object?> Succeeded = new("status", "succeeded");
    private static readonly KeyValuePair<string, object?> Failed = new("status", "failed");
    private static readonly KeyValuePair<string, object?> Canceled = new("status", "canceled");

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _finished;

    /// <summary>Creates the instruments on the meter from <paramref name="meterFactory"/> (one per host), or on a meter of their own.</summary>
    public JobMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(SwitchboardMetrics.MeterName)) ?? new Meter(SwitchboardMetrics.MeterName);
        _finished = _meter.CreateCounter<long>("switchboard.jobs.finished", "{job}",
            "Jobs that reached a final status (succeeded, failed, canceled).");
    }

    /// <summary>Registers the queue's gauges: unfinished jobs by status, and jobs waiting per queue.</summary>
    internal void ObserveQueue(Func<IEnumerable<Measurement<long>>> statuses, Func<IEnumerable<Measurement<long>>> queues)
    {
        _meter.CreateObservableGauge("switchboard.jobs", statuses, "{job}", "Unfinished jobs by status (queued, running).");
        _meter.CreateObservableGauge("switchboard.jobs.queue.depth", queues, "{job}", "Jobs waiting to be claimed, by queue (the job type).");
    }

    /// <summary>Counts a job reaching a final status, told by the event type the queue appends (<c>job.succeeded</c>, ...).</summary>
    internal void Changed(string eventType)
    {
        switch (eventType)
        {
            case "job.succeeded":
                _finished.Add(1, Succeeded);
                break;
            case "job.failed":
                _finished.Add(1, Failed);
                break;
            case "job.canceled":
                _finished.Add(1, Canceled);
                break;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // A meter from the factory belongs to the factory, which disposes it with the host.
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
