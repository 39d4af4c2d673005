using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Testing;
using Switchboard.Testing.Log;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Tests.Support;

/// <summary>
/// A pass-through <see cref="IEventLog"/> that lets a test see what readers do inside the server:
/// how many reads found nothing (a long poll or stream is about to wait), and how far each filter has read.
/// </summary>
internal sealed class ObservedEventLog(IEventLog inner) : DelegatingEventLog(inner)
{
    private readonly ConcurrentDictionary<string, long> _readThrough = new(StringComparer.Ordinal);
    private int _emptyReads;

    /// <summary>Reads that returned no events and no gap: the reader is about to wait for an append.</summary>
    public int EmptyReads => Volatile.Read(ref _emptyReads);

    /// <summary>Starts the hub's usual server (SQLite in a temp folder) with its log wrapped in an observer.</summary>
    public static Task<HubServer> StartServerAsync(Action<SwitchboardOptions>? configure = null) =>
        HubServer.StartAsync(configure, services: services =>
        {
            var original = services.Last(d => d.ServiceType == typeof(IEventLog));
            services.Remove(original);
            services.AddSingleton<IEventLog>(sp => new ObservedEventLog(original.ImplementationFactory is { } factory
                ? (IEventLog)factory(sp)
                : throw new InvalidOperationException("Expected the store to be registered with a factory.")));
        });

    /// <summary>The observer of a server started by <see cref="StartServerAsync"/>.</summary>
    public static ObservedEventLog Of(HubServer server) => (ObservedEventLog)server.Hub.Log;

    /// <summary>The furthest position a reader with this filter (as <c>TopicFilter.ToString()</c>) has read through, or null.</summary>
    public long? ReadThrough(string filter) => _readThrough.TryGetValue(filter, out var seq) ? seq : null;

    public override async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        var result = await Inner.ReadAsync(filter, afterSeq, limit, cancellationToken);
        _readThrough.AddOrUpdate(filter.ToString(), result.NextAfterSeq, (_, seen) => Math.Max(seen, result.NextAfterSeq));
        if (result.Events.Count == 0 && result.Gap is null)
        {
            Interlocked.Increment(ref _emptyReads);
        }

        return result;
    }
}
