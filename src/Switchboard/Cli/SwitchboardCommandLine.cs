using System.CommandLine;

namespace Switchboard.Cli;

/// <summary>The <c>switchboard</c> command line: serve, publish, tail.</summary>
internal static class SwitchboardCommandLine
{
    public const string DefaultServer = "http://localhost:8080";

    public static RootCommand Build()
    {
        var root = new RootCommand("Switchboard: a real-time event hub. Publish to topics; receive by polling, long polling, SSE, WebSocket or webhooks.");
        root.Subcommands.Add(BuildServe());
        root.Subcommands.Add(BuildPublish());
        root.Subcommands.Add(BuildTail());
        return root;
    }

    private static Command BuildServe()
    {
        var urls = new Option<string?>("--urls") { Description = $"Where to listen, ';'-separated (default {DefaultServer})." };
        var data = new Option<string?>("--data") { Description = "The SQLite database file (default ./switchboard.db)." };
        var store = new Option<string?>("--store") { Description = "The store: sqlite (default) or memory." };
        store.AcceptOnlyFromAmong("sqlite", "memory");
        var command = new Command("serve", "Run the hub.") { urls, data, store };
        command.SetAction((parse, cancellationToken) => ServeCommand.RunAsync(
            new ServeSettings(parse.GetValue(urls), parse.GetValue(data), parse.GetValue(store)), Console.Out, cancellationToken));
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

    private static Option<string> ServerOption() => new("--server")
    {
        Description = $"The hub's base URL (default {DefaultServer}, or SWITCHBOARD_SERVER).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SWITCHBOARD_SERVER") ?? DefaultServer,
    };
}
