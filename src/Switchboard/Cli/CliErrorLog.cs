using Microsoft.Extensions.Logging;

namespace Switchboard.Cli;

/// <summary>
/// Writes the client's connection warnings (a transport failed, falling back, reconnecting in N) to the command's
/// stderr as <c>tail: ...</c> lines. Without it a tail aimed at a hub that is down or unreachable printed nothing at
/// all while it retried, which reads as "connected, no events yet".
/// </summary>
internal sealed class CliErrorLog(string prefix, TextWriter error) : ILoggerProvider, ILogger
{
    // The reset warning is printed by the command itself (with the cursor it continues from), so not twice.
    private static readonly EventId[] Skipped = [new(44)];
    private readonly Lock _gate = new();

    /// <summary>Whether a warning was written since <see cref="TakeReported"/> last cleared it.</summary>
    private bool _reported;

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel) || Array.Exists(Skipped, skipped => skipped.Id == eventId.Id))
        {
            return;
        }

        lock (_gate)
        {
            error.WriteLine($"{prefix}: {Format(state, exception, formatter)}");
            error.Flush();
            _reported = true;
        }
    }

    /// <summary>The message, with delays in seconds ("1.6 s") rather than TimeSpan's "00:00:01.6154920".</summary>
    private static string Format<TState>(TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (state is not IReadOnlyList<KeyValuePair<string, object?>> values
            || values.FirstOrDefault(v => v.Key == "{OriginalFormat}").Value is not string template)
        {
            return formatter(state, exception);
        }

        var text = new System.Text.StringBuilder(template);
        foreach (var (name, value) in values)
        {
            text.Replace("{" + name + "}", value switch
            {
                TimeSpan delay => delay.TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " s",
                null => "",
                _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture),
            });
        }

        return text.ToString();
    }

    /// <summary>True once after warnings were written: the caller then says the connection is back.</summary>
    public bool TakeReported()
    {
        lock (_gate)
        {
            var reported = _reported;
            _reported = false;
            return reported;
        }
    }

    public void Dispose()
    {
    }
}
