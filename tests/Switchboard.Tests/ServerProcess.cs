using System.Diagnostics;
using System.Text.RegularExpressions;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>
/// The real <c>switchboard serve</c> executable in its own process, as an operator runs it.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private ServerProcess(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    public string Output => string.Join('\n', _output);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static Task<ServerProcess> StartAsync(string workingDirectory, params string[] serveArguments) =>
        StartAsync(workingDirectory, new Dictionary<string, string>(), serveArguments);

    /// <summary>Starts the server with extra environment variables, such as <c>Switchboard__Webhooks__AllowHttp</c>.</summary>
    public static Task<ServerProcess> StartAsync(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] serveArguments) =>
        LaunchAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "switchboard.dll")], workingDirectory, environment, serveArguments);

    /// <summary>
    /// Starts the server under a file-size limit (<c>ulimit -f</c>, set by <c>prlimit</c>, which then execs it in the same
    /// process). The runtime's W^X double mapping sizes a memory file past small limits and would fail the start with
    /// "Out of memory", so it is turned off, as an operator setting such a limit must (docs/operations.md).
    /// </summary>
    public static Task<ServerProcess> StartWithFileSizeLimitAsync(string workingDirectory, long bytes, params string[] serveArguments) =>
        LaunchAsync("prlimit", [$"--fsize={bytes.ToString(System.Globalization.CultureInfo.InvariantCulture)}", "dotnet", Path.Combine(AppContext.BaseDirectory, "switchboard.dll")],
            workingDirectory, new Dictionary<string, string> { ["DOTNET_EnableWriteXorExecute"] = "0" }, serveArguments);

    /// <summary>Starts <c>serve</c> from another executable, such as the <c>switchboard</c> command of an installed .NET tool.</summary>
    public static Task<ServerProcess> StartExecutableAsync(string executable, string workingDirectory, params string[] serveArguments) =>
        LaunchAsync(executable, [], workingDirectory, new Dictionary<string, string>(), serveArguments);

    private static async Task<ServerProcess> LaunchAsync(string fileName, string[] prefix, string workingDirectory, IReadOnlyDictionary<string, string> environment,
        string[] serveArguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in prefix.Append("serve").Concat(serveArguments))
        {
            start.ArgumentList.Add(argument);
        }

        var server = new ServerProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
        server._process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.Exited += (_, _) => server._listening.TrySetException(new InvalidOperationException("The server exited before listening:\n" + server.Output));
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        server.BaseAddress = await server._listening.Task.Within(TimeSpan.FromSeconds(60));
        return server;
    }

    /// <summary>Sends SIGTERM, as systemd, Docker and Kubernetes do to stop a service.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash; nothing is flushed or released.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

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

        _output.Enqueue(line);
        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value + "/"));
        }
    }

    [GeneratedRegex(@"listening on (https?://[^\s]+)")]
    private static partial Regex ListeningLine();
}
