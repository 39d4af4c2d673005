using Microsoft.Extensions.Options;

namespace Switchboard.Jobs.Tests;

/// <summary>Options that never change, for engines built in a test without a host.</summary>
internal sealed class FixedOptions(SwitchboardOptions value) : IOptionsMonitor<SwitchboardOptions>
{
    public SwitchboardOptions CurrentValue => value;

    public SwitchboardOptions Get(string? name) => value;

    public IDisposable? OnChange(Action<SwitchboardOptions, string?> listener) => null;
}
