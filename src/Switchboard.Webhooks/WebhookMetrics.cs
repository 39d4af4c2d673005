using System.Diagnostics.Metrics;
using Switchboard.Metrics;

namespace Switchboard.Webhooks;

/// <summary>
/// The webhook engine's instruments, on the hub's one meter (<see cref="SwitchboardMetrics.MeterName"/>): the meter
/// factory hands every feature the same instance for that name, so one listener or exporter sees them all.
/// Deliveries themselves are counted with every other transport's, on <see cref="SwitchboardMetrics"/>.
/// </summary>
public sealed class WebhookMetrics : IDisposable
{
    private static readonly KeyValuePair<string, object?> Success = new("outcome", "success");
    private static readonly KeyValuePair<string, object?> HttpError = new("outcome", "http_error");
    private static readonly KeyValuePair<string, object?> NoResponse = new("outcome", "no_response");

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _attempts;

    /// <summary>Creates the instruments on the meter from <paramref name="meterFactory"/> (one per host), or on a meter of their own.</summary>
    public WebhookMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(SwitchboardMetrics.MeterName)) ?? new Meter(SwitchboardMetrics.MeterName);
        _attempts = _meter.CreateCounter<long>("switchboard.webhook.attempts", "{attempt}",
            "Webhook delivery attempts by outcome: success (2xx), http_error (any other status), no_response (refused, timed out, network).");
    }

    /// <summary>Registers the gauge of endpoints by state.</summary>
    internal void ObserveEndpoints(Func<IEnumerable<Measurement<int>>> endpoints) =>
        _meter.CreateObservableGauge("switchboard.webhook.endpoints", endpoints, "{endpoint}",
            "Webhook endpoints by state: active (circuit closed or half-open), circuit_open, paused, disabled.");

    /// <summary>One attempt ended with <paramref name="statusCode"/>, or with no response at all.</summary>
    public void Attempted(int? statusCode) =>
        _attempts.Add(1, statusCode is >= 200 and < 300 ? Success : statusCode is null ? NoResponse : HttpError);

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
