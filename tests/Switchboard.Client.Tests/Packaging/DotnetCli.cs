using System.Diagnostics;
using System.Text;

namespace Switchboard.Client.Tests.Packaging;

/// <summary>Runs the <c>dotnet</c> CLI as a user would, outside this test's own build.</summary>
internal static class DotnetCli
{
    /// <summary>
    /// Runs <c>dotnet</c> with <paramref name="arguments"/>. MSBuild settings inherited from the <c>dotnet test</c> that started this
    /// process are dropped (they belong to another build), and no build server is left running to hold the output pipes open.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string directory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var name in start.Environment.Keys.ToList())
        {
            if (name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || name is "MSBuildExtensionsPath" or "MSBuildSDKsPath" or "MSBuildLoadMicrosoftTargetsReadOnly")
            {
                start.Environment.Remove(name);
            }
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish in {timeout}:\n{await output}\n{await error}");
        }

        return (process.ExitCode, await output + await error);
    }

    /// <summary>Runs <c>dotnet</c> and fails the test, with its output, unless it succeeds.</summary>
    public static async Task<string> RunCheckedAsync(string directory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments)
    {
        var (exitCode, output) = await RunAsync(directory, environment, timeout, arguments);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} exited {exitCode}:\n{output}");
        return output;
    }
}
