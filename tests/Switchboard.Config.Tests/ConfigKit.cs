using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Hubs;
using Switchboard.Log;

namespace Switchboard.Config.Tests;

/// <summary>A config service over the memory log and store, on a fake clock.</summary>
internal sealed class ConfigKit : IDisposable
{
    public ConfigKit(Action<ConfigOptions>? configure = null, IConfigStore? store = null)
    {
        var options = new ConfigOptions();
        configure?.Invoke(options);
        Options = new StaticOptions<ConfigOptions>(options);
        Log = new InMemoryEventLog(Time);
        Hub = new Hub(Log, new StaticOptions<LimitsOptions>(new LimitsOptions()), new StaticOptions<IdempotencyOptions>(new IdempotencyOptions()), Time);
        Store = store ?? new InMemoryConfigStore();
        Waiters = new ConfigWaiters(Options, Time);
        Service = new ConfigService(Store, Hub, Waiters, Options, Time, NullLogger<ConfigService>.Instance);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    public StaticOptions<ConfigOptions> Options { get; }

    public InMemoryEventLog Log { get; }

    public Hub Hub { get; }

    public IConfigStore Store { get; }

    public ConfigWaiters Waiters { get; }

    public ConfigService Service { get; }

    /// <summary>Replaces the app's settings with <paramref name="json"/> (compact JSON).</summary>
    public Task<ConfigWriteResult> PutAsync(string app, string json) =>
        Service.WriteAsync(app, _ => Encoding.UTF8.GetBytes(json), CancellationToken.None);

    public void Dispose() => Service.Dispose();

    /// <summary>Polls a condition against a real deadline (the drain loop runs on the pool); never sleeps to synchronize.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(5);
        }
    }

    internal sealed class StaticOptions<T>(T value) : IOptionsMonitor<T>
        where T : class
    {
        public T CurrentValue => value;

        public T Get(string? name) => value;

        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}
