using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

/// <summary>The real <c>switchboard webhook listen</c> executable in its own process, with its output lines.</summary>
internal sealed partial class WebhookListenProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _lines = new();

    private WebhookListenProcess(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyList<string> Lines => [.. _lines];

    public static async Task<WebhookListenProcess> StartAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "switchboard.dll"));
        start.ArgumentList.Add("webhook");
        start.ArgumentList.Add("listen");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var listener = new WebhookListenProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
        listener._process.OutputDataReceived += (_, e) => listener.OnLine(e.Data);
        listener._process.ErrorDataReceived += (_, e) => listener.OnLine(e.Data);
        listener._process.Exited += (_, _) => listener._listening.TrySetException(
            new InvalidOperationException("webhook listen exited before listening:\n" + string.Join('\n', listener._lines)));
        listener._process.Start();
        listener._process.BeginOutputReadLine();
        listener._process.BeginErrorReadLine();
        listener.BaseAddress = await listener._listening.Task.Within(TimeSpan.FromSeconds(60));
        return listener;
    }

    /// <summary>Waits for a printed line that satisfies <paramref name="match"/> and returns it.</summary>
    public async Task<string> LineAsync(Func<string, bool> match, string what)
    {
        await Waiting.UntilAsync(() => _lines.Any(match), what);
        return _lines.First(match);
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

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"^Listening for webhooks on (http://\S+/) \(answering \d+\)$")]
    private static partial Regex ListeningLine();
}
