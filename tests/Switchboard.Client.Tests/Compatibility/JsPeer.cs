using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Client.Tests.Compatibility;

/// <summary>
/// The JavaScript client (<c>clients/js/dist</c>) subscribed on one transport by <c>tests/node/wire-client.mjs</c>, running
/// while the test goes on: its JSON lines are collected as they arrive, so the test can wait for it to be connected and then
/// publish live events.
/// </summary>
internal sealed class JsPeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<JsonElement> _lines = new();
    private readonly StringBuilder _error = new();
    private readonly Task _readingOutput;
    private readonly Task _readingError;

    private JsPeer(Process process)
    {
        _process = process;
        _readingOutput = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                _lines.Enqueue(JsonDocument.Parse(line).RootElement.Clone());
            }
        });
        _readingError = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                lock (_error)
                {
                    _error.AppendLine(line);
                }
            }
        });
    }

    public static string TransportName(SwitchboardTransport transport) => transport switch
    {
        SwitchboardTransport.WebSocket => "websocket",
        SwitchboardTransport.ServerSentEvents => "sse",
        SwitchboardTransport.LongPolling => "long-poll",
        SwitchboardTransport.Polling => "poll",
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    /// <summary>Starts the JS client subscribed to <paramref name="patterns"/> after <paramref name="after"/>; it exits after <paramref name="count"/> events.</summary>
    public static JsPeer Start(Uri hub, SwitchboardTransport transport, string after, int count, params string[] patterns)
    {
        var directory = Path.Combine(NodeScript.RepositoryRoot(), "tests", "node");
        if (!Directory.Exists(Path.Combine(directory, "node_modules")))
        {
            throw new InvalidOperationException($"{directory}/node_modules is missing: run scripts/test.sh (it runs npm ci there).");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var argument in (string[])["wire-client.mjs", hub.ToString().TrimEnd('/'), TransportName(transport), after, count.ToString(System.Globalization.CultureInfo.InvariantCulture), .. patterns])
        {
            start.ArgumentList.Add(argument);
        }

        return new JsPeer(Process.Start(start)!);
    }

    public string Error
    {
        get
        {
            lock (_error)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Waits until the client says it is receiving on a transport (its <c>open</c> event).</summary>
    public Task UntilOpenAsync() =>
        Waiting.UntilAsync(() => _process.HasExited || _lines.Any(l => l.GetProperty("kind").GetString() == "open"),
            "the JS client to open", TimeSpan.FromSeconds(20));

    /// <summary>Waits for the script to end and returns what it saw (resets and events, in order); fails unless it got all its events.</summary>
    public async Task<List<Sighting>> CompleteAsync()
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the JS client did not finish; it saw {_lines.Count} lines. stderr:\n{Error}");
        }

        await Task.WhenAll(_readingOutput, _readingError);
        Assert.True(_process.ExitCode == 0, $"wire-client.mjs exited {_process.ExitCode}:\n{Error}");
        Assert.Equal("done", _lines.Last().GetProperty("kind").GetString());
        return [.. _lines.Select(Sighting.FromJs).OfType<Sighting>()];
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
