using StackExchange.Redis;
using Switchboard.Testing;
using Switchboard.Tests.Security;

namespace Switchboard.Tests.Cli;

/// <summary>
/// <c>serve --store redis</c> against a Redis that wants a password: a wrong or missing one stops the hub with exit
/// code 5 and says so, and the password never appears in what the hub prints, whether it starts or not.
/// </summary>
public sealed class RedisPasswordProcessTests : IAsyncLifetime, IDisposable
{
    private const string Password = "redis-password-for-the-test";
    private readonly TempDirectory _directory = new();
    private RedisServer _redis = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration + ",allowAdmin=true");
        await admin.GetDatabase().ExecuteAsync("CONFIG", "SET", "requirepass", Password);
    }

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task AWrongPassword_ExitsWith5_SayingSo_WithoutPrintingIt()
    {
        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", "http://127.0.0.1:0", "--store", "redis",
            "--redis", $"{_redis.Configuration},password=not-the-password");

        Assert.True(result.ExitCode == 5, $"expected exit code 5, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Contains($"Cannot open the Redis store at '{_redis.Configuration},password=*****'", result.Error, StringComparison.Ordinal);
        Assert.Contains("password", result.Error[result.Error.IndexOf("': ", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", result.Output + result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoPassword_ExitsWith5_AskingForOne()
    {
        var result = await SwitchboardCli.RunAsync(_directory.Path, "serve", "--urls", "http://127.0.0.1:0", "--store", "redis", "--redis", _redis.Configuration);

        Assert.True(result.ExitCode == 5, $"expected exit code 5, got {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Contains("NOAUTH", result.Error, StringComparison.Ordinal);
        Assert.Contains("--redis host:port,password=", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheRightPassword_Starts_AndTheStartLineAndLogsMaskIt()
    {
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--store", "redis",
            "--redis", $"{_redis.Configuration},password={Password}");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("v1/health")).StatusCode);
        Assert.Contains($"store: redis at {_redis.Configuration},password=*****", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, server.Output, StringComparison.Ordinal);
    }
}
