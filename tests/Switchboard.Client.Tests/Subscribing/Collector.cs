using System.Collections.Concurrent;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Subscribing;

/// <summary>
/// Runs a subscription in the background, collecting its events, resets and the transports it connected on;
/// <see cref="Running"/> faults with what ended it.
/// </summary>
internal sealed class Collector : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    public Collector(SwitchboardClient client, string[] patterns, string? after = "earliest")
    {
        var options = new SubscribeOptions { After = after, OnConnected = Connections.Enqueue, OnReset = Resets.Enqueue };
        Running = Task.Run(async () =>
        {
            await foreach (var e in client.SubscribeAsync(patterns, options, _stop.Token))
            {
                Events.Enqueue(e);
            }
        });
    }

    public ConcurrentQueue<HubEvent> Events { get; } = new();

    public ConcurrentQueue<SwitchboardTransport> Connections { get; } = new();

    public ConcurrentQueue<HubReset> Resets { get; } = new();

    public Task Running { get; }

    public SwitchboardTransport? Current => Connections.IsEmpty ? null : Connections.Last();

    public Task UntilCountAsync(int count) =>
        Waiting.UntilAsync(() => Running.IsCompleted || Events.Count >= count, $"{count} events (have {Events.Count})", TimeSpan.FromSeconds(30));

    public Task UntilTransportAsync(SwitchboardTransport transport) =>
        Waiting.UntilAsync(() => Running.IsCompleted || Current == transport, $"a connection over {transport} (on {Current})", TimeSpan.FromSeconds(20));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Running.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // cancelled, or already ended by the failure the test looked at through Running
        }

        _stop.Dispose();
    }
}
