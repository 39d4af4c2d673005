using System.Diagnostics;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>A third-party SSE client (npm <c>eventsource</c>) against the real server.</summary>
public sealed class NodeEventSourceTests
{
    [Fact]
    public async Task EventSource_DisconnectedByTheServer_ResumesWithLastEventIdAndGetsEveryEventOnce()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Sse.MaxStreamDuration = TimeSpan.FromMilliseconds(700);
            o.Sse.ReconnectDelay = TimeSpan.FromMilliseconds(100);
        });

        var result = await NodeScript.RunAsync("sse-resume.mjs", server.BaseAddress.ToString().TrimEnd('/'), "node.resume", "200");

        Assert.True(result.ExitCode == 0, $"sse-resume.mjs failed:\n{result.Output}\n{result.Error}");
        using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
        Assert.Equal(200, summary.RootElement.GetProperty("received").GetInt32());
        Assert.True(summary.RootElement.GetProperty("opens").GetInt32() >= 2, "the server never cut the stream, so no resume was tested");
    }
}

/// <summary>Runs a script from tests/node with the packages scripts/test.sh installed.</summary>
internal static class NodeScript
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string script, params string[] arguments)
    {
        var directory = Path.Combine(RepositoryRoot(), "tests", "node");
        if (!Directory.Exists(Path.Combine(directory, "node_modules")))
        {
            throw new InvalidOperationException($"{directory}/node_modules is missing: run scripts/test.sh (it runs npm ci there).");
        }

        var start = new ProcessStartInfo("node") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }

    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Switchboard.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Switchboard.slnx not found above " + AppContext.BaseDirectory);
    }
}
