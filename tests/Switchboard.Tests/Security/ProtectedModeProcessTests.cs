using System.Net;
using System.Net.Http.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Security;

/// <summary>
/// Protected mode on the real executable: an open hub may listen on loopback only; on a network address it needs
/// credentials or <c>--insecure</c>.
/// </summary>
public sealed class ProtectedModeProcessTests : IDisposable
{
    private const string AnyAddress = "http://0.0.0.0:0";
    private const string Secret = "protected-mode-test-secret-of-32-bytes-or-more";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Serve_OnANetworkAddressWithoutCredentials_RefusesToStartAndSaysWhatToConfigure()
    {
        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", AnyAddress, "--store", "memory");

        Assert.True(result.ExitCode == 3, $"expected exit code 3, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Contains("Switchboard__Auth__JwtSecret", result.Error, StringComparison.Ordinal);
        Assert.Contains("keys create", result.Error, StringComparison.Ordinal);
        Assert.Contains("--insecure", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_OnANetworkAddressWithInsecure_StartsWithALoudWarning()
    {
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", AnyAddress, "--store", "memory", "--insecure");
        using var http = new HttpClient { BaseAddress = Loopback(server.BaseAddress) };

        Assert.Contains("WARNING: --insecure", server.Output, StringComparison.Ordinal);
        Assert.Contains("ANYONE WHO CAN REACH IT MAY PUBLISH AND READ EVERY TOPIC", server.Output, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("v1/topics/orders/events", new { data = 1 })).StatusCode);
    }

    [Fact]
    public async Task Serve_OnANetworkAddressWithAJwtSecret_StartsWithoutWarnings_AndRequiresCredentials()
    {
        await using var server = await ServerProcess.StartAsync(_directory.Path,
            new Dictionary<string, string> { ["Switchboard__Auth__JwtSecret"] = Secret }, "--urls", AnyAddress, "--store", "memory");
        using var http = new HttpClient { BaseAddress = Loopback(server.BaseAddress) };

        var anonymous = await http.PostAsJsonAsync("v1/topics/orders/events", new { data = 1 });

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.DoesNotContain("WARNING: --insecure", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Warning: no credentials", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Refusing", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_OnLoopbackWithNothingConfigured_StartsOpenWithAWarning_AndPublishingNeedsNoCredentials()
    {
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--store", "memory");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        var response = await http.PostAsJsonAsync("v1/topics/orders/events", new { data = 1 });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains("Warning: no credentials are configured", server.Output, StringComparison.Ordinal);
        Assert.Contains("loopback only", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("WARNING: --insecure", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_OnANetworkAddressWithoutCredentials_RefusesBeforeListening()
    {
        // The port is taken: a server that tried to listen before refusing would fail on the bind instead.
        using var holder = new System.Net.Sockets.TcpListener(IPAddress.Any, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", $"http://0.0.0.0:{port}", "--store", "memory");

        Assert.True(result.ExitCode == 3, $"expected exit code 3, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Contains("Refusing to serve", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_OnAPortInUse_SaysSoInOneLine_AndExitsNonZero()
    {
        using var holder = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", $"http://localhost:{port}", "--store", "memory");

        Assert.True(result.ExitCode == 4, $"expected exit code 4, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains($"{port} is in use", line, StringComparison.Ordinal);
        Assert.Contains("--urls http://localhost:PORT", line, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost:8080")]
    [InlineData("ftp://127.0.0.1:8080")]
    [InlineData("http://127.0.0.1:8080/path")]
    public async Task Serve_WithABadUrl_SaysSoInOneLine_AndExitsNonZero(string urls)
    {
        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", urls, "--store", "memory");

        Assert.True(result.ExitCode == 4, $"expected exit code 4, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains($"'{urls}' is not an address to listen on", line, StringComparison.Ordinal);
    }

    /// <summary>The server reports the wildcard address it bound; clients reach it on 127.0.0.1 at the same port.</summary>
    internal static Uri Loopback(Uri address) => new UriBuilder(address) { Host = "127.0.0.1" }.Uri;
}
