using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Switchboard.AspNetCore;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Storage.Redis;
using Switchboard.Storage.Sqlite;

namespace Switchboard.Cli;

/// <summary>What <c>switchboard serve</c> was asked for; unset values come from configuration, then defaults.</summary>
internal sealed record ServeSettings(string? Urls, string? DataPath, string? Store, bool Insecure = false, string? Redis = null, string? KeysPath = null);

/// <summary><c>switchboard serve</c>: the hub as a standalone server.</summary>
internal static class ServeCommand
{
    /// <summary>Exit code: an address cannot be listened on (in use, or not a URL).</summary>
    public const int AddressProblem = 4;

    /// <summary>Exit code: protected mode refused an open hub on a network address.</summary>
    public const int ProtectedModeRefusal = 3;

    /// <summary>Exit code of every command: the store cannot be opened (disk full, not a database, no permission, Redis unreachable).</summary>
    public const int StoreProblem = 5;

    /// <summary>SIGXFSZ on Linux and macOS: a write past the process's file-size limit (<c>ulimit -f</c>).</summary>
    private const int FileSizeLimitSignal = 25;

    public static async Task<int> RunAsync(ServeSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var fileSizeLimit = IgnoreFileSizeLimitSignal();
        await using var app = Build(settings, []);
        // The host would validate at start too, but log the failure with its stack trace ("Hosting failed to start")
        // before Program prints the one line naming the key; validated here, it is only that line.
        app.Services.GetService<Microsoft.Extensions.Options.IStartupValidator>()?.Validate();
        OpenStores(app.Services);
        var configured = ConfiguredAddresses(app.Configuration);
        if (CheckAddresses(configured, probe: false) is { } malformed)
        {
            await error.WriteLineAsync(malformed);
            return AddressProblem;
        }
        // Checked before Kestrel listens, so an open hub is never reachable on a network address, not even for a moment.
        var access = await app.Services.GetRequiredService<SwitchboardAuthenticator>().DescribeAsync(cancellationToken);
        var open = access.IsOpen;
        var insecure = app.Configuration.GetValue<bool>("Switchboard:Auth:Insecure");
        var exposed = configured.Where(address => !IsLoopback(address)).ToArray();
        if (open && exposed.Length > 0 && !insecure)
        {
            // Redis's "protected mode": an open hub on a network address would let anyone publish and read everything.
            await error.WriteLineAsync($"""
                Refusing to serve on {string.Join(", ", exposed)} without credentials: anyone could publish and read every topic.
                Configure one of:
                  - a subscriber-token secret:  Switchboard__Auth__JwtSecret=<32+ random bytes>
                  - an API key:                 switchboard keys create --scopes publish,admin --data {app.Configuration["Switchboard:Store:Path"]}
                or listen on loopback only (--urls http://127.0.0.1:8080), or pass --insecure on a trusted network.
                """);
            return ProtectedModeRefusal;
        }

        if (CheckAddresses(configured, probe: true) is { } problem)
        {
            await error.WriteLineAsync(problem);
            return AddressProblem;
        }

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException or System.Net.Sockets.SocketException)
        {
            // Taken between the check above and the bind.
            await error.WriteLineAsync($"{ex.Message.TrimEnd('.')}; pass --urls http://localhost:PORT with a free port.");
            return AddressProblem;
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        var store = app.Configuration["Switchboard:Store:Kind"];
        var where = store switch
        {
            "memory" => "memory (nothing is kept after exit)",
            "redis" => $"redis at {RedisStoreOptions.Redact(app.Configuration[$"{RedisServiceCollectionExtensions.SectionName}:Configuration"] ?? "localhost:6379")}",
            _ => $"sqlite at {Path.GetFullPath(app.Configuration["Switchboard:Store:Path"]!)}",
        };
        var keysWhere = store switch
        {
            "memory" => "in memory",
            "redis" => "in redis",
            _ => "in " + Path.GetFullPath(app.Configuration["Switchboard:Store:Path"]!),
        };
        if (open)
        {
            await error.WriteLineAsync(exposed.Length > 0
                ? "WARNING: --insecure: no credentials are configured and the hub listens on network addresses. ANYONE WHO CAN REACH IT MAY PUBLISH AND READ EVERY TOPIC."
                : $"Warning: no credentials are configured (no API keys {keysWhere}, no subscriber-token secret), so the hub is open: anyone on this machine (loopback only) may publish and read every topic. See the README's security section to protect it.");
        }
        else
        {
            var line = DescribeProtection(access, keysWhere);
            if (access.StoredKeys > 0 && store is not ("memory" or "redis"))
            {
                // The trap this answers: a key made for a test run keeps locking the same data file.
                line += $" List or revoke the stored keys with: switchboard keys list --data {Path.GetFullPath(app.Configuration["Switchboard:Store:Path"]!)}";
            }

            await output.WriteLineAsync(line);
        }

        foreach (var address in addresses)
        {
            await output.WriteLineAsync($"Switchboard listening on {address} (store: {where})");
        }

        await output.FlushAsync(cancellationToken);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    /// <summary>
    /// A write that would take a file past <c>ulimit -f</c> raises SIGXFSZ, whose default action kills the process
    /// (with every open connection) in the middle of a commit. Handled and cancelled, the write fails with EFBIG instead,
    /// which SQLite reports as an I/O error: the write is rolled back and answered 503 <c>store-unavailable</c>, and the
    /// hub carries on (a checkpoint that restarts the WAL, or a raised limit, lets writes through again). Null where the
    /// signal does not exist (Windows).
    /// </summary>
    private static PosixSignalRegistration? IgnoreFileSizeLimitSignal() =>
        OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()
            ? PosixSignalRegistration.Create((PosixSignal)FileSizeLimitSignal, static context => context.Cancel = true)
            : null;

    /// <summary>
    /// Opens every store before the host starts (which would open them too), so one that cannot be opened stops the
    /// command with its one-line <see cref="Switchboard.Log.StoreOpenException"/> rather than the host's failure log.
    /// </summary>
    private static void OpenStores(IServiceProvider services)
    {
        _ = services.GetService<Switchboard.Log.IEventLog>();
        _ = services.GetService<Switchboard.Webhooks.IWebhookStore>();
        _ = services.GetService<Switchboard.Jobs.IJobStore>();
        _ = services.GetService<Switchboard.Config.IConfigStore>();
        _ = services.GetService<Switchboard.Auth.IApiKeyStore>();
    }

    /// <summary>
    /// The start-up line of a protected hub: by what, and where its stored keys live, because a key left in a data file
    /// keeps every later run of that file protected.
    /// </summary>
    internal static string DescribeProtection(AccessSummary access, string keysWhere)
    {
        var by = new List<string>();
        var keys = access.StoredKeys + access.ConfiguredKeys;
        if (keys > 0)
        {
            var origin = (access.StoredKeys, access.ConfiguredKeys) switch
            {
                (_, 0) => $"stored {keysWhere}",
                (0, _) => "from configuration",
                _ => $"{access.StoredKeys} stored {keysWhere}, {access.ConfiguredKeys} from configuration",
            };
            by.Add($"{keys} API key{(keys == 1 ? "" : "s")} ({origin})");
        }

        by.AddRange(access.TokenVerifiers);
        var line = $"Protected by {Join(by)}: requests without a valid credential are refused (401).";
        if (access.PublicTopics.Count > 0)
        {
            line += $" Anyone may read the public topics {string.Join(", ", access.PublicTopics)}.";
        }

        return line;

        static string Join(List<string> parts) => parts.Count == 1 ? parts[0] : string.Join(", ", parts[..^1]) + " and " + parts[^1];
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

        if (settings.KeysPath is not null)
        {
            overrides["Switchboard:Store:KeysPath"] = settings.KeysPath;
        }

        if (settings.Store is not null)
        {
            overrides["Switchboard:Store:Kind"] = settings.Store;
        }

        if (settings.Insecure)
        {
            overrides["Switchboard:Auth:Insecure"] = "true";
        }

        if (settings.Redis is not null)
        {
            overrides[$"{RedisServiceCollectionExtensions.SectionName}:Configuration"] = settings.Redis;
        }

        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Configuration["Switchboard:Store:Kind"] ??= "sqlite";
        builder.Configuration["Switchboard:Store:Path"] = Path.GetFullPath(builder.Configuration["Switchboard:Store:Path"] ?? "switchboard.db", Environment.CurrentDirectory);
        if (builder.Configuration["Switchboard:Store:KeysPath"] is { Length: > 0 } keys)
        {
            builder.Configuration["Switchboard:Store:KeysPath"] = Path.GetFullPath(keys, Environment.CurrentDirectory);
        }

        builder.WebHost.UseUrls(settings.Urls ?? builder.Configuration["urls"] ?? SwitchboardCommandLine.DefaultServer);
        // Kestrel answers an over-long request line or header block with an empty body; above the hub's limits and below
        // these, the hub answers with a problem document (UseSwitchboardProblemAnswers).
        builder.WebHost.ConfigureKestrel(SwitchboardRequestLimits.RaiseKestrelLimits);
        ResolveCertificatePaths(builder.Configuration);

        // The console prints no scopes, yet capturing them keeps Kestrel's connection scope, and the execution context
        // that carries it, alive for every open stream. Logging:CaptureScopes=true brings them back for a provider that shows them.
        builder.Services.Configure<LoggerFilterOptions>(filters => filters.CaptureScopes = builder.Configuration.GetValue("Logging:CaptureScopes", false));

        builder.Services.AddSwitchboard();
        builder.Services.AddSwitchboardOpenApi();
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
        // Every path of this host is the hub's: routing's own empty 404s and 405s get problem bodies too.
        app.UseSwitchboardProblemAnswers();
        MapChatPage(app);
        app.MapSwitchboard();
        app.MapSwitchboardOpenApi();
        return app;
    }

    /// <summary>
    /// Fix (found by the TLS process tests): Kestrel resolves certificate paths against the content root, which is the
    /// executable's folder (so the chat page is found), so <c>Kestrel__Endpoints__Https__Certificate__Path=cert.pem</c>
    /// looked next to the dll. A relative path given by an operator means the working directory, as it does for
    /// <c>--data</c> and the JWT key files.
    /// </summary>
    private static void ResolveCertificatePaths(ConfigurationManager configuration)
    {
        var certificates = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(endpoint => endpoint.GetSection("Certificate"))
            .Concat(configuration.GetSection("Kestrel:Certificates").GetChildren());
        foreach (var certificate in certificates.ToList())
        {
            foreach (var key in new[] { "Path", "KeyPath" })
            {
                if (certificate[key] is { Length: > 0 } path && !Path.IsPathRooted(path))
                {
                    certificate[key] = Path.GetFullPath(path, Environment.CurrentDirectory);
                }
            }
        }
    }

    /// <summary>Where Kestrel will listen: its configured endpoints when there are any (they replace the URLs), else the URLs.</summary>
    internal static string[] ConfiguredAddresses(IConfiguration configuration)
    {
        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(endpoint => endpoint["Url"]).OfType<string>().ToArray();
        return endpoints.Length > 0
            ? endpoints
            : (configuration["urls"] ?? SwitchboardCommandLine.DefaultServer).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>
    /// One line saying what is wrong with the first address that is not a URL to listen on, or (with <paramref name="probe"/>)
    /// whose port is taken; null when all are fine.
    /// </summary>
    internal static string? CheckAddresses(IEnumerable<string> addresses, bool probe)
    {
        foreach (var address in addresses)
        {
            if (!Uri.TryCreate(address.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/")
            {
                return $"'{address}' is not an address to listen on; pass --urls http://localhost:8080 (scheme, host and port only, ';' between several).";
            }

            if (!probe || uri.Port == 0)
            {
                continue; // port 0: any free one
            }

            var hosts = uri.Host == "localhost" ? [System.Net.IPAddress.Loopback] : System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? new[] { ip } : [];
            foreach (var host in hosts)
            {
                if (!CanBind(new System.Net.IPEndPoint(host, uri.Port)))
                {
                    return $"Port {uri.Port} is in use ({address}); stop what uses it, or pass --urls http://localhost:PORT with a free port.";
                }
            }
        }

        return null;
    }

    private static bool CanBind(System.Net.IPEndPoint endpoint)
    {
        using var probe = new System.Net.Sockets.Socket(endpoint.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        // As Kestrel binds (SO_REUSEADDR on Unix), so a port with only TIME_WAIT connections left counts as free.
        probe.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
        try
        {
            probe.Bind(endpoint);
            probe.Listen(1);
            return true;
        }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            return false;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return true; // not ours to judge (an address this machine does not have): Kestrel says so itself
        }
    }

    /// <summary>True for an address only this machine can reach: localhost, 127.0.0.0/8, ::1.</summary>
    internal static bool IsLoopback(string address)
    {
        if (!Uri.TryCreate(address.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return false;
        }

        return uri.IsLoopback || (System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));
    }

    /// <summary>
    /// The browser chat page: static files from wwwroot (copied next to the executable, where the content root is),
    /// with <c>/chat</c> redirected to <c>/chat/</c> (query kept) so the page's relative links resolve. Its paths
    /// asked with another method than GET or HEAD are 405 problems, as every route's are.
    /// </summary>
    private static void MapChatPage(WebApplication app)
    {
        var files = app.Environment.WebRootFileProvider;
        // Relative, so it also works behind a path base; a 302 rather than the default files' 301, which browsers
        // cache forever. Not an endpoint: routing ignores trailing slashes, and /chat/ must reach the static files.
        app.Use((context, next) =>
        {
            var request = context.Request;
            var reads = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
            if (request.Path.Value == "/chat" && reads)
            {
                context.Response.Redirect("chat/" + request.QueryString);
                return Task.CompletedTask;
            }

            // Only a request no endpoint took can be for a static file: the file system is not asked about every publish.
            if (!reads && context.GetEndpoint() is null && IsPage(files, request.Path))
            {
                // The static files middleware passes other methods on, and the request would end as a 404 for a path
                // that exists. This runs before MapSwitchboard's middleware, so it writes its problem itself.
                const string Allowed = "GET, HEAD";
                context.Response.Headers.Allow = Allowed;
                return ProblemResponses.WriteAsync(context, HttpProblem.MethodNotAllowed(request, Allowed));
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

    /// <summary>True for <c>/chat</c> and for what the static files serve: a file of the web root, or a folder with an index.html.</summary>
    private static bool IsPage(Microsoft.Extensions.FileProviders.IFileProvider files, PathString path)
    {
        var value = path.Value ?? "";
        if (value == "/chat")
        {
            return true;
        }

        // Dot segments never reach here as such (Kestrel resolves them), so a path cannot climb out of the web root.
        return value.Length > 1 && (value.EndsWith('/') ? files.GetFileInfo(value + "index.html").Exists : files.GetFileInfo(value) is { Exists: true, IsDirectory: false });
    }
}
