using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Metrics;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Monitoring;

/// <summary>
/// Listens to one hub's Switchboard meter (not another test's hub in the same process) and sums every measurement by
/// instrument name and tags, so a test can ask "how many events went out over SSE".
/// </summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _sums = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, double> _gauges = new(StringComparer.Ordinal);

    public MetricsRecorder(HubServer server)
    {
        var meter = server.App.Services.GetRequiredService<SwitchboardMetrics>().Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The sum of the measurements of <paramref name="name"/> whose tags include all of <paramref name="tags"/> ("key=value").</summary>
    public double Sum(string name, params string[] tags) => _sums.Where(e => Matches(e.Key, name, tags)).Sum(e => e.Value);

    /// <summary>How many measurements (for a histogram: recorded values) matched.</summary>
    public long Count(string name, params string[] tags) => _counts.Where(e => Matches(e.Key, name, tags)).Sum(e => e.Value);

    /// <summary>Reads the observable gauges now and returns the latest value of <paramref name="name"/> with those tags.</summary>
    public double Gauge(string name, params string[] tags)
    {
        _gauges.Clear();
        _listener.RecordObservableInstruments();
        return _gauges.Where(e => Matches(e.Key, name, tags)).Sum(e => e.Value);
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = instrument.Name + "|" + string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}").Order(StringComparer.Ordinal));
        if (instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal))
        {
            _gauges[key] = value;
            return;
        }

        _sums.AddOrUpdate(key, value, (_, sum) => sum + value);
        _counts.AddOrUpdate(key, 1, (_, count) => count + 1);
    }

    private static bool Matches(string key, string name, string[] tags)
    {
        var bar = key.IndexOf('|', StringComparison.Ordinal);
        if (key[..bar] != name)
        {
            return false;
        }

        var present = key[(bar + 1)..].Split(',');
        return tags.All(present.Contains);
    }
}
