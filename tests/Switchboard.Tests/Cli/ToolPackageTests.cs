using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using Switchboard.Cli;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

/// <summary>
/// The install path the README gives: <c>dotnet pack src/Switchboard</c>, then <c>dotnet tool install</c> from the folder, then
/// the <c>switchboard</c> command serves everything the project-built executable does (pages, the JavaScript client, a data
/// file in the working directory).
/// </summary>
public sealed class ToolPackageTests : IDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task PackedTool_InstalledFromTheFolder_RunsAsSwitchboard_AndServesTheApiTheClientScriptAndThePages()
    {
        var packages = Directory.CreateDirectory(Path.Combine(_directory.Path, "packages")).FullName;
        var tools = Path.Combine(_directory.Path, "tools");
        var work = Directory.CreateDirectory(Path.Combine(_directory.Path, "work")).FullName;
        var project = Path.Combine(NodeScript.RepositoryRoot(), "src", "Switchboard", "Switchboard.csproj");
        // The test build has just built the executable in this configuration; packing it again without building keeps the
        // test quick and leaves the shared output folders alone.
        var configuration = typeof(ToolPackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        var version = typeof(ServeCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

        await RunAsync(_directory.Path, "dotnet", "pack", project, "-c", configuration, "--no-build", "-o", packages);
        Assert.True(File.Exists(Path.Combine(packages, $"Switchboard.{version}.nupkg")), string.Join(", ", Directory.GetFiles(packages)));

        // Only the local folder as a source: the tool package carries its dependencies, so no registry is needed.
        var config = Path.Combine(_directory.Path, "nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        await RunAsync(_directory.Path, "dotnet", "tool", "install", "--tool-path", tools, "--configfile", config, "--version", version, "Switchboard");
        var command = Path.Combine(tools, OperatingSystem.IsWindows() ? "switchboard.exe" : "switchboard");

        var printed = await RunAsync(work, command, "--version");
        Assert.StartsWith(version, printed.Trim(), StringComparison.Ordinal);

        await using var server = await ServerProcess.StartExecutableAsync(command, work, "--urls", "http://127.0.0.1:0");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        Assert.Contains("\"status\":\"ok\"", await http.GetStringAsync("v1/health"), StringComparison.Ordinal);
        using (var client = await http.GetAsync("v1/client.js"))
        {
            Assert.Equal(HttpStatusCode.OK, client.StatusCode);
            Assert.Equal("text/javascript", client.Content.Headers.ContentType?.MediaType);
            Assert.Contains("export class Switchboard", await client.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // wwwroot, found next to the installed dll rather than in the source tree.
        Assert.Contains("<html", await http.GetStringAsync("chat/"), StringComparison.OrdinalIgnoreCase);
        using (var script = await http.GetAsync("chat/chat.js"))
        {
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        }

        Assert.Contains("<html", await http.GetStringAsync("dashboard"), StringComparison.OrdinalIgnoreCase);

        using var published = await http.PostAsJsonAsync("v1/topics/orders/events", new { data = new { id = 1 } });
        Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        Assert.True(File.Exists(Path.Combine(work, "switchboard.db")), "the data file belongs in the working directory: " + server.Output);
    }

    private static async Task<string> RunAsync(string workingDirectory, string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(CommandTimeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {CommandTimeout}:\n{await output}\n{await error}");
        }

        Assert.True(process.ExitCode == 0, $"{fileName} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await output}\n{await error}");
        return await output;
    }
}
