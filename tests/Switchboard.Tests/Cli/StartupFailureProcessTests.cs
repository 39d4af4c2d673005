using System.Net;
using System.Net.Sockets;
using Switchboard.Testing;
using Switchboard.Tests.Security;

namespace Switchboard.Tests.Cli;

/// <summary>
/// A hub that cannot start says why in a line an operator can act on. A store that cannot be opened stops <c>switchboard</c> with exit code 5 and one line naming the store, where it
/// is, what is wrong and what to do, never a stack trace, and the file is left as it was.
/// </summary>
public sealed class StartupFailureProcessTests : IDisposable
{
    private const int StoreProblem = 5;
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Serve_WithRedisUnreachable_ExitsWithOneLineSayingWhereAndWhatToDo()
    {
        var port = ClosedPort();

        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", "http://127.0.0.1:0", "--store", "redis", "--redis", $"127.0.0.1:{port}");

        AssertStoreProblem(result, $"Cannot open the Redis store at '127.0.0.1:{port}'");
        Assert.Contains("Connection refused", result.Error, StringComparison.Ordinal);
        Assert.Contains("--redis", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_OnAFileThatIsNotADatabase_ExitsWithoutTouchingIt()
    {
        var path = Path.Combine(_directory.Path, "notes.db");
        var bytes = Enumerable.Range(0, 8192).Select(i => (byte)(i * 31 % 251)).ToArray();
        await File.WriteAllBytesAsync(path, bytes);

        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", "http://127.0.0.1:0", "--data", path);

        AssertStoreProblem(result, $"Cannot open the SQLite store at {path}: the file is not a Switchboard database");
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task Serve_WithADataPathUnderARegularFile_ExitsSayingSo()
    {
        var file = Path.Combine(_directory.Path, "plain");
        await File.WriteAllTextAsync(file, "not a folder");
        var path = Path.Combine(file, "hub.db");

        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", "http://127.0.0.1:0", "--data", path);

        AssertStoreProblem(result, $"Cannot open the SQLite store at {path}");
        Assert.Contains("--data", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WithADataPathThatIsAFolder_SaysSo_AndSuggestsAFileInIt()
    {
        var folder = Path.Combine(_directory.Path, "data");
        Directory.CreateDirectory(folder);

        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", "http://127.0.0.1:0", "--data", folder);

        AssertStoreProblem(result, $"Cannot open the SQLite store at {folder}: it is a folder, not a file. Pass --data with a file in it, such as {Path.Combine(folder, "switchboard.db")}.");
    }

    [Fact]
    public async Task Serve_WithAKeyRingFolderThatCannotBeMade_ExitsSayingWhichFolder()
    {
        var file = Path.Combine(_directory.Path, "plain");
        await File.WriteAllTextAsync(file, "not a folder");
        var ring = Path.Combine(file, "ring");

        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", "http://127.0.0.1:0", "--data", Path.Combine(_directory.Path, "hub.db"), "--keys", ring);

        AssertStoreProblem(result, $"Cannot open the key ring at {ring}");
        Assert.Contains("--keys", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeysList_OnAFileThatIsNotADatabase_ExitsTheSameWay()
    {
        var path = Path.Combine(_directory.Path, "notes.db");
        await File.WriteAllTextAsync(path, new string('x', 4096));

        var result = await SwitchboardCli.RunAsync(_directory.Path, "keys", "list", "--data", path);

        AssertStoreProblem(result, $"Cannot open the SQLite store at {path}: the file is not a Switchboard database");
    }

    [Fact]
    public async Task Serve_WithAnInvalidSetting_ExitsNamingTheKey_WithoutAStackTraceOfItsOwn()
    {
        var result = await SwitchboardCli.RunAsync(_directory.Path, new Dictionary<string, string> { ["Switchboard__Polling__MaxWait"] = "99:00:00" },
            "serve", "--urls", "http://127.0.0.1:0", "--store", "memory");

        Assert.True(result.ExitCode == 1, $"expected exit code 1, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Equal("Invalid setting: Polling:MaxWait must be between 0 and 10 minutes.", result.Error.Trim());
        Assert.DoesNotContain("Unhandled exception", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error + result.Output, StringComparison.Ordinal); // no stack trace, not even in the host's log
        Assert.DoesNotContain("Hosting failed to start", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", result.Output, StringComparison.Ordinal);
    }

    private static void AssertStoreProblem((int ExitCode, string Output, string Error) result, string expected)
    {
        Assert.True(result.ExitCode == StoreProblem, $"expected exit code {StoreProblem}, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error + result.Output, StringComparison.Ordinal); // no stack trace, not even in the logs
        Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.DoesNotContain("listening on", result.Output, StringComparison.Ordinal);
    }

    // A port that was just free: nothing listens there, so connecting is refused at once.
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
