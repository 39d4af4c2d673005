using System.CommandLine;
using Switchboard.Cli;

namespace Switchboard.Tests.Cli;

/// <summary>The client commands' <c>--server</c>: a value that is not a hub address is a usage error, not a crash.</summary>
public sealed class ServerOptionTests
{
    [Theory]
    [InlineData("publish", "notaurl")]
    [InlineData("publish", "ftp://localhost:8080")]
    [InlineData("publish", "localhost:8080")]
    [InlineData("tail", "notaurl")]
    [InlineData("tail", "/relative/path")]
    public async Task ANonHttpServer_IsAUsageError_WithoutAStackTrace(string command, string server)
    {
        string[] args = command == "publish" ? ["publish", "orders", "{}", "--server", server] : ["tail", "orders", "--server", server];
        var output = new StringWriter();
        var error = new StringWriter();

        var parse = SwitchboardCommandLine.Build().Parse(args);
        var exitCode = await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });

        Assert.NotEqual(0, exitCode);
        Assert.Contains(parse.Errors, e => e.Message.Contains("--server", StringComparison.Ordinal) && e.Message.Contains("http://", StringComparison.Ordinal));
        Assert.DoesNotContain("Exception", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080")]
    [InlineData("https://hub.example.com/")]
    [InlineData("http://localhost:8080/prefix/")]
    public void HubAddresses_AreAccepted(string server)
    {
        var parse = SwitchboardCommandLine.Build().Parse(["publish", "orders", "{}", "--server", server]);

        Assert.Empty(parse.Errors);
    }
}
