using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Switchboard.AspNetCore.Tests.Support;

/// <summary>A logger provider that keeps every entry, so a test can wait for something the server only logs.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, EventId EventId, string Message)> _entries = new();

    public IReadOnlyCollection<(string Category, EventId EventId, string Message)> Entries => _entries;

    public bool Contains(int eventId) => _entries.Any(e => e.EventId.Id == eventId);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue((category, eventId, formatter(state, exception)));
    }
}
