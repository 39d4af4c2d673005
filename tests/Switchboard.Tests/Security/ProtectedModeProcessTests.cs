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

    /// <summary>The server reports the wildcard address it bound; clients reach it on 127.0.0.1 at the same port.</summary>
    internal static Uri Loopback(Uri address) => new UriBuilder(address) { Host = "127.0.0.1" }.Uri;
}
