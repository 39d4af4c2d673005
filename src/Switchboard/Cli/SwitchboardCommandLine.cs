using System.CommandLine;

namespace Switchboard.Cli;

/// <summary>The <c>switchboard</c> command line: serve, publish, tail, webhook listen, keys, token.</summary>
internal static class SwitchboardCommandLine
{
    public const string DefaultServer = "http://localhost:8080";

    public static RootCommand Build()
    {
        var root = new RootCommand("Switchboard: a real-time event hub. Publish to topics; receive by polling, long polling, SSE, WebSocket or webhooks.");
        root.Subcommands.Add(BuildServe());
        root.Subcommands.Add(BuildPublish());
        root.Subcommands.Add(BuildTail());
        root.Subcommands.Add(BuildWebhook());
        root.Subcommands.Add(BuildKeys());
        root.Subcommands.Add(BuildToken());
        return root;
    }

    private static Command BuildServe()
    {
        var urls = new Option<string?>("--urls") { Description = $"Where to listen, ';'-separated (default {DefaultServer})." };
        var data = new Option<string?>("--data") { Description = "The SQLite database file (default ./switchboard.db)." };
        var keys = new Option<string?>("--keys") { Description = "The folder of the key ring that encrypts webhook secrets in the database (default: <data>.keys beside it). Back it up with the database." };
        var store = new Option<string?>("--store") { Description = "The store: sqlite (default), memory, or redis (several nodes serving one hub)." };
        store.AcceptOnlyFromAmong("sqlite", "memory", "redis");
        var redis = new Option<string?>("--redis") { Description = "The Redis server for --store redis, as host:port or a StackExchange.Redis configuration string (default localhost:6379)." };
        var insecure = new Option<bool>("--insecure")
        {
            Description = "Serve on non-loopback addresses with no credentials configured (everything open). Trusted networks only.",
        };
        var command = new Command("serve", "Run the hub.") { urls, data, keys, store, redis, insecure };
        command.SetAction((parse, cancellationToken) => ServeCommand.RunAsync(
            new ServeSettings(parse.GetValue(urls), parse.GetValue(data), parse.GetValue(store), parse.GetValue(insecure), parse.GetValue(redis), parse.GetValue(keys)), Console.Out, Console.Error, cancellationToken));
        return command;
    }

    private static Command BuildKeys()
    {
        static Option<string> Data() => new("--data")
        {
            Description = "The hub's SQLite database file (default ./switchboard.db).",
            DefaultValueFactory = _ => "switchboard.db",
        };

        var createData = Data();
        var scopes = new Option<string>("--scopes") { Description = "Comma-separated: publish, subscribe, admin, worker.", Required = true };
        var topics = new Option<string?>("--topics") { Description = "Comma-separated topic patterns publish and subscribe are limited to (default: any)." };
        var name = new Option<string?>("--name") { Description = "A label for listings." };
        var create = new Command("create", "Create an API key and print it (only this once).") { scopes, topics, name, createData };
        create.SetAction((parse, cancellationToken) => KeysCommand.CreateAsync(parse.GetValue(createData)!, Split(parse.GetValue(scopes)), Split(parse.GetValue(topics)),
            parse.GetValue(name), Console.Out, Console.Error, cancellationToken));

        var listData = Data();
        var list = new Command("list", "List the API keys (id, hint, scopes, topics, name, created).") { listData };
        list.SetAction((parse, cancellationToken) => KeysCommand.ListAsync(parse.GetValue(listData)!, Console.Out, Console.Error, cancellationToken));

        var revokeData = Data();
        var id = new Argument<string>("id") { Description = "The key's id (key_...)." };
        var revoke = new Command("revoke", "Revoke an API key.") { id, revokeData };
        revoke.SetAction((parse, cancellationToken) => KeysCommand.RevokeAsync(parse.GetValue(revokeData)!, parse.GetValue(id)!, Console.Out, Console.Error, cancellationToken));
        return new Command("keys", "API keys for servers: publishers, administrators and workers.") { create, list, revoke };
    }

    private static Command BuildToken()
    {
        var secret = new Option<string?>("--secret")
        {
            Description = "The HS256 secret (default: Switchboard__Auth__JwtSecret from the environment).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("Switchboard__Auth__JwtSecret"),
        };
        secret.Validators.Add(result =>
        {
            if (string.IsNullOrEmpty(result.GetValueOrDefault<string?>()))
            {
                result.AddError("--secret (or Switchboard__Auth__JwtSecret) is required.");
            }
        });
        var subject = new Option<string>("--sub") { Description = "The subject: who the token is for.", Required = true };
        var subscribe = new Option<string[]>("--subscribe") { Description = "A topic pattern the holder may read; repeat or comma-separate.", AllowMultipleArgumentsPerToken = true };
        var publish = new Option<string[]>("--publish") { Description = "A topic pattern the holder may publish to; repeat or comma-separate.", AllowMultipleArgumentsPerToken = true };
        var presence = new Option<string?>("--presence") { Description = "The name shown in chat-room presence (default: the subject)." };
        var ttl = new Option<string>("--ttl") { Description = "Lifetime: 90s, 30m, 1h, 7d (default 1h).", DefaultValueFactory = _ => "1h" };
        ttl.Validators.Add(result =>
        {
            if (!TokenCommand.TryParseDuration(result.GetValueOrDefault<string>() ?? "", out _))
            {
                result.AddError("--ttl is a duration such as 90s, 30m, 1h or 7d.");
            }
        });
        var issuer = new Option<string?>("--issuer") { Description = "The iss claim (when the hub checks Switchboard:Auth:Issuer)." };
        var audience = new Option<string?>("--audience") { Description = "The aud claim (when the hub checks Switchboard:Auth:Audience)." };
        var command = new Command("token", "Print a subscriber token (HS256 JWT) for development.") { secret, subject, subscribe, publish, presence, ttl, issuer, audience };
        command.SetAction(parse =>
        {
            TokenCommand.TryParseDuration(parse.GetValue(ttl)!, out var lifetime);
            return TokenCommand.RunAsync(parse.GetValue(secret)!, parse.GetValue(subject)!, SplitAll(parse.GetValue(subscribe)), SplitAll(parse.GetValue(publish)),
                parse.GetValue(presence), lifetime, parse.GetValue(issuer), parse.GetValue(audience), Console.Out, Console.Error);
        });
        return command;
    }

    private static string[] Split(string? list) => (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string[] SplitAll(string[]? lists) => (lists ?? []).SelectMany(Split).ToArray();

    private static Command BuildPublish()
    {
        var topic = new Argument<string>("topic") { Description = "The topic, for example orders or chat.room1." };
        var json = new Argument<string>("json") { Description = "The event data as JSON, for example '{\"id\": 42}'." };
        var type = new Option<string?>("--type") { Description = "The event type (default message)." };
        var server = ServerOption();
        var key = new Option<string?>("--idempotency-key") { Description = "Makes a retried publish return the original event." };
        var credential = CredentialOption();
        var command = new Command("publish", "Publish one event and print it.") { topic, json, type, server, key, credential };
        command.SetAction((parse, cancellationToken) => PublishCommand.RunAsync(
            new Uri(parse.GetValue(server)!), parse.GetValue(topic)!, parse.GetValue(json)!, parse.GetValue(type), parse.GetValue(key),
            Console.Out, Console.Error, cancellationToken, parse.GetValue(credential)));
        return command;
    }

    private static Command BuildTail()
    {
        var patterns = new Argument<string[]>("pattern") { Description = "Topic patterns: orders, orders.*, chat.>.", Arity = ArgumentArity.OneOrMore };
        var transport = new Option<string>("--transport")
        {
            Description = "ws, sse, long-poll, poll, or auto (WebSocket, falling back to SSE, long polling, polling). Default sse.",
            DefaultValueFactory = _ => "sse",
        };
        transport.AcceptOnlyFromAmong(TailCommand.TransportNames);
        var after = new Option<string?>("--after") { Description = "Start after this cursor, or 'earliest' / 'latest' (default)." };
        var server = ServerOption();
        var credential = CredentialOption();
        var command = new Command("tail", "Print events as they arrive, one JSON object per line; reconnects and resumes by itself.") { patterns, transport, after, server, credential };
        command.SetAction((parse, cancellationToken) => new TailCommand(new Uri(parse.GetValue(server)!), parse.GetValue(patterns)!, parse.GetValue(transport)!, Console.Out, Console.Error,
                credential: parse.GetValue(credential))
            .RunAsync(parse.GetValue(after), cancellationToken));
        return command;
    }

    private static Command BuildWebhook()
    {
        var port = new Option<int>("--port") { Description = "The port to listen on; 0 picks a free one (the URL is printed).", Required = true };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 65535)
            {
                result.AddError("--port must be between 0 and 65535.");
            }
        });
        var secret = new Option<string?>("--secret")
        {
            Description = "The subscription's whsec_ secret (default SWITCHBOARD_WEBHOOK_SECRET, which keeps it out of the shell history).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SWITCHBOARD_WEBHOOK_SECRET"),
        };
        secret.Validators.Add(result =>
        {
            if (string.IsNullOrEmpty(result.GetValueOrDefault<string?>()))
            {
                result.AddError("--secret (or SWITCHBOARD_WEBHOOK_SECRET) is required.");
            }
        });
        var status = new Option<int>("--status") { Description = "The status answered to verified deliveries (default 200); 503 makes the hub retry.", DefaultValueFactory = _ => 200 };
        status.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 200 or > 599)
            {
                result.AddError("--status must be between 200 and 599.");
            }
        });
        var host = new Option<string>("--host") { Description = "The address to listen on (default 127.0.0.1).", DefaultValueFactory = _ => "127.0.0.1" };
        var listen = new Command("listen", "Receive webhooks locally: verify each delivery's signature and print it on one line.") { port, secret, status, host };
        listen.SetAction((parse, cancellationToken) => WebhookListenCommand.RunAsync(
            new WebhookListenSettings(parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(secret)!, parse.GetValue(status)),
            Console.Out, Console.Error, cancellationToken));
        return new Command("webhook", "Tools for webhook subscriptions.") { listen };
    }

    /// <summary>Sends <c>Authorization: Bearer</c> when a credential is given.</summary>
    internal static void Authorize(HttpClient http, string? credential)
    {
        if (!string.IsNullOrEmpty(credential))
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", credential);
        }
    }

    private static Option<string?> CredentialOption() => new("--token")
    {
        Description = "An API key (sk_...) or subscriber token for a protected hub (default SWITCHBOARD_TOKEN, which keeps it out of the shell history).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SWITCHBOARD_TOKEN"),
    };

    private static Option<string> ServerOption()
    {
        var server = new Option<string>("--server")
        {
            Description = $"The hub's base URL (default {DefaultServer}, or SWITCHBOARD_SERVER).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SWITCHBOARD_SERVER") ?? DefaultServer,
        };
        server.Validators.Add(result =>
        {
            // Said as a usage error, before the command builds a client from it; SWITCHBOARD_SERVER is checked too.
            if (!IsHubAddress(result.GetValueOrDefault<string>()))
            {
                result.AddError("--server (or SWITCHBOARD_SERVER) must be an absolute http:// or https:// URL, for example " + DefaultServer + ".");
            }
        });
        return server;
    }

    internal static bool IsHubAddress(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
