using System.Diagnostics;

namespace Switchboard.Testing;

/// <summary>Runs a script from tests/node with the packages scripts/test.sh installed.</summary>
public static class NodeScript
{
    public static Task<(int ExitCode, string Output, string Error)> RunAsync(string script, params string[] arguments) =>
        RunAsync(script, new Dictionary<string, string>(), arguments);

    /// <summary>Runs a script with extra environment variables, such as <c>NODE_EXTRA_CA_CERTS</c>.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string script, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var directory = Path.Combine(RepositoryRoot(), "tests", "node");
        if (!Directory.Exists(Path.Combine(directory, "node_modules")))
        {
            throw new InvalidOperationException($"{directory}/node_modules is missing: run scripts/test.sh (it runs npm ci there).");
        }

        var start = new ProcessStartInfo("node") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
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
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }

    /// <summary>
    /// Runs <c>node</c> with <paramref name="arguments"/> in <paramref name="directory"/> (relative to the repository root),
    /// for a package other than tests/node, such as <c>clients/js</c> (<c>node --test</c>). Its node_modules must exist.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunInAsync(string directory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments)
    {
        var path = Path.Combine(RepositoryRoot(), directory);
        if (!Directory.Exists(Path.Combine(path, "node_modules")))
        {
            throw new InvalidOperationException($"{path}/node_modules is missing: run scripts/test.sh (it runs npm ci there).");
        }

        var start = new ProcessStartInfo("node") { WorkingDirectory = path, RedirectStandardOutput = true, RedirectStandardError = true };
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
            throw new TimeoutException($"node {string.Join(' ', arguments)} did not finish in {timeout}:\n{await output}\n{await error}");
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
