using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Switchboard.Client;
using Switchboard.Events;

namespace Switchboard.Cli;

/// <summary>
/// <c>switchboard tail</c>: prints each event as one JSON line, through <see cref="SwitchboardClient"/>. The client keeps the
/// cursor of the last event, so after any disconnect or transport switch it resumes exactly there. A reset (410 or
/// <c>switchboard.reset</c>) is reported on stderr and followed, never hidden.
/// </summary>
internal sealed class TailCommand(Uri server, IReadOnlyList<string> patterns, string transport, TextWriter output, TextWriter error, HttpMessageHandler? handler = null,
    string? credential = null)
{
    /// <summary>The <c>--transport</c> values.</summary>
    public static readonly string[] TransportNames = ["auto", "ws", "sse", "long-poll", "poll"];

    /// <summary>The cursor after the last printed event, or null before the first.</summary>
    public string? Cursor { get; private set; }

    public async Task<int> RunAsync(string? after, CancellationToken cancellationToken)
    {
        Cursor = after;
        var options = new SwitchboardClientOptions { BaseAddress = server, Token = string.IsNullOrEmpty(credential) ? null : credential, MaxReconnectDelay = TimeSpan.FromSeconds(10) };
        if (transport != "auto")
        {
            options.Transports.Clear();
            options.Transports.Add(transport switch
            {
                "ws" => SwitchboardTransport.WebSocket,
                "sse" => SwitchboardTransport.ServerSentEvents,
                "long-poll" => SwitchboardTransport.LongPolling,
                "poll" => SwitchboardTransport.Polling,
                _ => throw new ArgumentException($"Unknown transport '{transport}'.", nameof(transport)),
            });
        }

        using var http = handler is null ? null : new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var log = new CliErrorLog("tail", error);
        using var logging = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Warning).AddProvider(log));
        using var client = new SwitchboardClient(options, http, logging);
        var subscribe = new SubscribeOptions
        {
            After = after,
            OnReset = reset =>
            {
                Cursor = reset.Cursor;
                error.WriteLine($"tail: reset ({reset.Reason}); continuing from {reset.Cursor}");
            },
            OnConnected = transport =>
            {
                if (log.TakeReported())
                {
                    error.WriteLine($"tail: connected over {transport}");
                }
            },
        };
        try
        {
            await foreach (var e in client.SubscribeAsync(patterns, subscribe, cancellationToken))
            {
                await output.WriteLineAsync(Format(e));
                await output.FlushAsync(cancellationToken);
                Cursor = e.Cursor;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C
        }
        catch (SwitchboardException ex)
        {
            await error.WriteLineAsync($"tail: {ex.Message}");
            return 1;
        }

        return 0;
    }

    /// <summary>The event as the hub stores it: <c>{"seq","topic","type","time","data"}</c>.</summary>
    private static string Format(HubEvent e)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("seq", e.Seq);
            writer.WriteString("topic", e.Topic);
            writer.WriteString("type", e.Type);
            writer.WriteString("time", WireTime.Format(e.Time));
            writer.WritePropertyName("data");
            e.Data.WriteTo(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
