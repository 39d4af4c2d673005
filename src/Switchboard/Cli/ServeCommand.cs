using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Switchboard.AspNetCore;
using Switchboard.Storage.Redis;
using Switchboard.Storage.Sqlite;

namespace Switchboard.Cli;

/// <summary>What <c>switchboard serve</c> was asked for; unset values come from configuration, then defaults.</summary>
internal sealed record ServeSettings(string? Urls, string? DataPath, string? Store, string? Redis = null);

/// <summary><c>switchboard serve</c>: the hub as a standalone server.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(ServeSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        await using var app = Build(settings, []);
        await app.StartAsync(cancellationToken);
        var store = app.Configuration["Switchboard:Store:Kind"];
        var where = store switch
        {
            "memory" => "memory (nothing is kept after exit)",
            "redis" => $"redis at {app.Configuration[$"{RedisServiceCollectionExtensions.SectionName}:Configuration"] ?? "localhost:6379"}",
            _ => $"sqlite at {Path.GetFullPath(app.Configuration["Switchboard:Store:Path"]!)}",
        };
        foreach (var address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses)
        {
            await output.WriteLineAsync($"Switchboard listening on {address} (store: {where})");
        }

        await output.FlushAsync(cancellationToken);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    /// <summary>Builds the server; tests use this too, so they run exactly what users run.</summary>
    public static WebApplication Build(ServeSettings settings, string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        // Flags win over environment variables, which win over appsettings.json.
        var overrides = new Dictionary<string, string?>();
        if (settings.DataPath is not null)
        {
            overrides["Switchboard:Store:Path"] = settings.DataPath;
        }

        if (settings.Store is not null)
        {
            overrides["Switchboard:Store:Kind"] = settings.Store;
        }

        if (settings.Redis is not null)
        {
            overrides[$"{RedisServiceCollectionExtensions.SectionName}:Configuration"] = settings.Redis;
        }

        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Configuration["Switchboard:Store:Kind"] ??= "sqlite";
        builder.Configuration["Switchboard:Store:Path"] = Path.GetFullPath(builder.Configuration["Switchboard:Store:Path"] ?? "switchboard.db", Environment.CurrentDirectory);
        builder.WebHost.UseUrls(settings.Urls ?? builder.Configuration["urls"] ?? SwitchboardCommandLine.DefaultServer);

        builder.Services.AddSwitchboard();
        var kind = builder.Configuration["Switchboard:Store:Kind"];
        switch (kind)
        {
            case "sqlite":
                builder.Services.AddSwitchboardSqlite();
                break;
            case "memory":
                break;
            case "redis":
                builder.Services.AddSwitchboardRedis();
                break;
            default:
                throw new InvalidOperationException($"Unknown store '{kind}'; use sqlite, memory or redis.");
        }

        customize?.Invoke(builder);
        var app = builder.Build();
        MapChatPage(app);
        app.MapSwitchboard();
        return app;
    }

    /// <summary>
    /// The browser chat page: static files from wwwroot (copied next to the executable, where the content root is),
    /// with <c>/chat</c> redirected to <c>/chat/</c> (query kept) so the page's relative links resolve.
    /// </summary>
    private static void MapChatPage(WebApplication app)
    {
        // Relative, so it also works behind a path base; a 302 rather than the default files' 301, which browsers
        // cache forever. Not an endpoint: routing ignores trailing slashes, and /chat/ must reach the static files.
        app.Use((context, next) =>
        {
            var request = context.Request;
            if (request.Path.Value == "/chat" && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
            {
                context.Response.Redirect("chat/" + request.QueryString);
                return Task.CompletedTask;
            }

            return next(context);
        });
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            // Revalidate on every load (ETag/Last-Modified), so an upgraded server never runs a stale page.
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
    }
}
