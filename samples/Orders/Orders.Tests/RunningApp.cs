using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Orders.Tests;

/// <summary>One of the sample apps (or the fake hub) started on a real Kestrel at 127.0.0.1 with a free port.</summary>
internal sealed class RunningApp : IAsyncDisposable
{
    private RunningApp(WebApplication app)
    {
        App = app;
        BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    /// <summary>The arguments every sample app gets in tests: a free port and quiet logs.</summary>
    public static string[] Arguments(params string[] more) =>
        ["--urls=http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", .. more];

    public static async Task<RunningApp> StartAsync(WebApplication app)
    {
        await app.StartAsync();
        return new RunningApp(app);
    }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
        {
            await App.StopAsync(timeout.Token);
        }

        await App.DisposeAsync();
    }
}
