using Microsoft.Extensions.Options;

namespace Switchboard.Testing;

/// <summary>Options that never change, for engines built in a test without a host.</summary>
public sealed class FixedOptions<T>(T value) : IOptionsMonitor<T>
    where T : class
{
    public T CurrentValue => value;

    public T Get(string? name) => value;

    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
