using System.CommandLine;

namespace Switchboard.Cli;

/// <summary>The <c>switchboard</c> command line: serve, publish, tail, webhook listen.</summary>
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
        return root;
    }

    private static Command BuildServe()
    {
        var urls = new Option<string?>("--urls") { Description = $"Where to listen, ';'-separated (default {DefaultServer})." };
        var data = new Option<string?>("--data") { Description = "The SQLite database file (default ./switchboard.db)." };
        var store = new Option<string?>("--store") { Description = "The store: sqlite (default), memory, or redis (several nodes serving one hub)." };
        store.AcceptOnlyFromAmong("sqlite", "memory", "redis");
        var redis = new Option<string?>("--redis") { Description = "The Redis server for --store redis, as host:port or a StackExchange.Redis configuration string (default localhost:6379)." };
        var command = new Command("serve", "Run the hub.") { urls, data, store, redis };
        command.SetAction((parse, cancellationToken) => ServeCommand.RunAsync(
            new ServeSettings(parse.GetValue(urls), parse.GetValue(data), parse.GetValue(store), parse.GetValue(redis)), Console.Out, cancellationToken));
        return command;
    }

    private static Command BuildPublish()
    {
        var topic = new Argument<string>("topic") { Description = "The topic, for example orders or chat.room1." };
        var json = new Argument<string>("json") { Description = "The event data as JSON, for example '{\"id\": 42}'." };
        var type = new Option<string?>("--type") { Description = "The event type (default message)." };
        var server = ServerOption();
        var key = new Option<string?>("--idempotency-key") { Description = "Makes a retried publish return the original event." };
        var command = new Command("publish", "Publish one event and print it.") { topic, json, type, server, key };
        command.SetAction((parse, cancellationToken) => PublishCommand.RunAsync(
            new Uri(parse.GetValue(server)!), parse.GetValue(topic)!, parse.GetValue(json)!, parse.GetValue(type), parse.GetValue(key),
            Console.Out, Console.Error, cancellationToken));
        return command;
    }

    private static Command BuildTail()
    {
        var patterns = new Argument<string[]>("pattern") { Description = "Topic patterns: orders, orders.*, chat.>.", Arity = ArgumentArity.OneOrMore };
        var transport = new Option<string>("--transport") { Description = "poll, long-poll or sse.", DefaultValueFactory = _ => "sse" };
        transport.AcceptOnlyFromAmong("poll", "long-poll", "sse");
        var after = new Option<string?>("--after") { Description = "Start after this cursor, or 'earliest' / 'latest' (default)." };
        var server = ServerOption();
        var command = new Command("tail", "Print events as they arrive, one JSON object per line; reconnects and resumes by itself.") { patterns, transport, after, server };
        command.SetAction((parse, cancellationToken) => new TailCommand(new Uri(parse.GetValue(server)!), parse.GetValue(patterns)!, parse.GetValue(transport)!, Console.Out, Console.Error)
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

    private static Option<string> ServerOption() => new("--server")
    {
        Description = $"The hub's base URL (default {DefaultServer}, or SWITCHBOARD_SERVER).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SWITCHBOARD_SERVER") ?? DefaultServer,
    };
}
