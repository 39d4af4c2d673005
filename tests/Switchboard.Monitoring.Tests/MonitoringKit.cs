using System.Diagnostics;
using Microsoft.Extensions.Options;
using Switchboard.Webhooks;

namespace Switchboard.Monitoring.Tests;

/// <summary>An options monitor that always answers the same value.</summary>
internal sealed class StaticOptions<T>(T value) : IOptionsMonitor<T>
{
    public T CurrentValue => value;

    public T Get(string? name) => value;

    public IDisposable? OnChange(Action<T, string?> listener) => null;
}

/// <summary>The webhook endpoints the dashboard lists, as a test sets them.</summary>
internal sealed class FakeWebhooks : IDashboardWebhooks
{
    public List<WebhookEndpointHealth> List { get; } = [];

    public IReadOnlyList<WebhookEndpointHealth> Endpoints() => [.. List];
}

/// <summary>Queue depths as a test sets them; counts how often a snapshot read them (once per snapshot).</summary>
internal sealed class FakeJobs : IDashboardJobs
{
    private int _reads;

    public List<(string Queue, int Depth)> Depths { get; } = [];

    public int Unfinished { get; set; }

    public int Reads => Volatile.Read(ref _reads);

    public IReadOnlyList<(string Queue, int Depth)> QueueDepths()
    {
        Interlocked.Increment(ref _reads);
        return [.. Depths];
    }

    public int UnfinishedCount => Unfinished;
}

/// <summary>Records what the playground asked of the webhook engine, in order.</summary>
internal sealed class FakePlaygroundWebhooks : IPlaygroundWebhooks
{
    private readonly Lock _lock = new();

    public List<string> Calls { get; } = [];

    public Dictionary<string, WebhookEndpoint> Endpoints { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Local { get; } = new(StringComparer.Ordinal);

    public List<string> LeftByAPreviousRun { get; } = [];

    public string NewLocalEndpointId() => "wh_" + Guid.NewGuid().ToString("N")[..20];

    public void MarkLocal(string endpointId, string url)
    {
        lock (_lock)
        {
            Calls.Add("mark " + endpointId);
            Local[endpointId] = url;
        }
    }

    public void UnmarkLocal(string endpointId)
    {
        lock (_lock)
        {
            Calls.Add("unmark " + endpointId);
            Local.Remove(endpointId);
        }
    }

    public Task CreateAsync(WebhookEndpoint endpoint, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Calls.Add("create " + endpoint.Id);
            Endpoints[endpoint.Id] = endpoint;
        }

        return Task.CompletedTask;
    }

    public Task<bool> DeleteAsync(string endpointId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Calls.Add("delete " + endpointId);
            return Task.FromResult(Endpoints.Remove(endpointId) | LeftByAPreviousRun.Remove(endpointId));
        }
    }

    public IReadOnlyList<string> FindByDescription(string description)
    {
        lock (_lock)
        {
            return [.. LeftByAPreviousRun];
        }
    }
}

internal static class Eventually
{
    /// <summary>Polls a condition against a real deadline (hosted loops run on the pool); never sleeps to synchronize.</summary>
    public static Task UntilAsync(Func<bool> condition, string what, Action? step = null) =>
        UntilAsync(() => ValueTask.FromResult(condition()), what, step);

    /// <inheritdoc cref="UntilAsync(Func{bool}, string, Action?)"/>
    public static async Task UntilAsync(Func<ValueTask<bool>> condition, string what, Action? step = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            step?.Invoke();
            await Task.Delay(2);
        }
    }
}
