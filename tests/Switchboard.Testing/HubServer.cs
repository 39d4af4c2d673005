using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.AspNetCore;
using Switchboard.Hubs;
using Switchboard.Storage.Redis;
using Switchboard.Storage.Sqlite;

namespace Switchboard.Testing;

/// <summary>
/// A real Kestrel on 127.0.0.1 with a free port, hosting the hub the way an embedding app does
/// (<c>AddSwitchboard</c> + <c>MapSwitchboard</c>). Tests talk to it over real sockets.
/// </summary>
public sealed class HubServer : IAsyncDisposable
{
    private readonly TempDirectory? _ownedDirectory;

    private HubServer(WebApplication app, TempDirectory? ownedDirectory)
    {
        App = app;
        _ownedDirectory = ownedDirectory;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address + "/");
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    public Hub Hub => App.Services.GetRequiredService<Hub>();

    /// <summary>
    /// Starts a hub. <paramref name="sqlitePath"/> selects SQLite at that file; otherwise a SQLite file in a fresh temp folder, or memory.
    /// <paramref name="redis"/> selects the Redis store instead: several hubs started with the same one are nodes of one hub.
    /// </summary>
    public static async Task<HubServer> StartAsync(
        Action<SwitchboardOptions>? configure = null,
        bool sqlite = true,
        string? sqlitePath = null,
        Action<IServiceCollection>? services = null,
        string environmentName = "Testing",
        Action<RedisStoreOptions>? redis = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environmentName });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(SwitchboardRequestLimits.RaiseKestrelLimits); // as the switchboard executable does
        builder.Services.AddSwitchboard(configure);
        builder.Services.AddSwitchboardOpenApi();
        TempDirectory? owned = null;
        if (redis is not null)
        {
            builder.Services.AddSwitchboardRedis(redis);
        }
        else if (sqlite)
        {
            if (sqlitePath is null)
            {
                owned = new TempDirectory();
                sqlitePath = Path.Combine(owned.Path, "switchboard.db");
            }

            builder.Services.AddSwitchboardSqlite(o => o.Path = sqlitePath);
        }

        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseSwitchboardProblemAnswers(); // as the switchboard executable does
        app.MapSwitchboard();
        app.MapSwitchboardOpenApi();
        await app.StartAsync();
        return new HubServer(app, owned);
    }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
        {
            await App.StopAsync(timeout.Token);
        }

        await App.DisposeAsync();
        _ownedDirectory?.Dispose();
    }
}
