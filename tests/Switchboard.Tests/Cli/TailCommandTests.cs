using System.Net.Http.Json;
using System.Text.Json;
using Switchboard.Cli;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

public sealed class TailCommandTests
{
    [Theory]
    [InlineData("poll")]
    [InlineData("long-poll")]
    [InlineData("sse")]
    [InlineData("ws")]
    [InlineData("auto")]
    public async Task Tail_PrintsEveryEventOnceInOrder_AcrossReconnects(string transport)
    {
        // Streams are cut every 200 ms, so the SSE tail must reconnect and resume several times.
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Sse.MaxStreamDuration = TimeSpan.FromMilliseconds(200);
            o.Polling.PollIntervalSeconds = 1;
        });
        using var http = server.CreateClient();
        var output = new LineWriter();
        var tail = new TailCommand(server.BaseAddress, ["orders.*"], transport, output, TextWriter.Null);
        using var stop = new CancellationTokenSource();
        var running = tail.RunAsync("earliest", stop.Token);

        for (var i = 0; i < 30; i++)
        {
            var topic = i % 3 == 0 ? "other" : "orders.eu";
            (await http.PostAsJsonAsync($"v1/topics/{topic}/events", new { data = new { i } })).EnsureSuccessStatusCode();
            if (i % 10 == 9)
            {
                // Let some events arrive live and some after a reconnect.
                var expectedSoFar = Enumerable.Range(0, i + 1).Count(n => n % 3 != 0);
                await Waiting.UntilAsync(() => output.Lines.Count >= expectedSoFar, $"{expectedSoFar} lines from tail --transport {transport}");
            }
        }

        await stop.CancelAsync();
        Assert.Equal(0, await running.Within());

        var printed = output.Lines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("data").GetProperty("i").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(0, 30).Where(n => n % 3 != 0), printed);
    }

    [Fact]
    public async Task Tail_AfterAForeignCursor_ReportsTheResetAndContinues()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var http = server.CreateClient();
        (await http.PostAsJsonAsync("v1/topics/a/events", new { data = 1 })).EnsureSuccessStatusCode();
        var output = new LineWriter();
        var errors = new LineWriter();
        var tail = new TailCommand(server.BaseAddress, ["a"], "long-poll", output, errors);
        using var stop = new CancellationTokenSource();
        var running = tail.RunAsync("0123456789abcdef.7", stop.Token);

        await Waiting.UntilAsync(() => output.Lines.Count == 1, "the retained event after the reset");
        await stop.CancelAsync();
        await running.Within();
        Assert.Contains(errors.Lines, line => line.Contains("epoch-changed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("sse")]
    [InlineData("ws")]
    [InlineData("auto")]
    public async Task Tail_AtAHubThatIsNotListening_SaysSoOnStderr_WhileItRetries(string transport)
    {
        // A port nothing listens on: bound, then released.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var output = new LineWriter();
        var errors = new LineWriter();
        var tail = new TailCommand(new Uri($"http://127.0.0.1:{port}/"), ["orders"], transport, output, errors);
        using var stop = new CancellationTokenSource();
        var running = tail.RunAsync(null, stop.Token);

        await Waiting.UntilAsync(() => errors.Lines.Any(line => line.StartsWith("tail: ", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(line, @"reconnecting in \d+\.\d s$")),
            $"a reconnecting line on stderr from tail --transport {transport}");
        await stop.CancelAsync();

        Assert.Equal(0, await running.Within());
        Assert.Empty(output.Lines);
    }

    [Fact]
    public async Task Publish_PrintsTheStoredEvent_AndRejectsInvalidJson()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        var output = new LineWriter();
        var errors = new LineWriter();

        var ok = await PublishCommand.RunAsync(server.BaseAddress, "orders", """{"id": 7}""", "order.created", "key-1", output, errors, CancellationToken.None);
        var bad = await PublishCommand.RunAsync(server.BaseAddress, "orders", "{nope", null, null, output, errors, CancellationToken.None);
        var rejected = await PublishCommand.RunAsync(server.BaseAddress, "bad topic", "1", null, null, output, errors, CancellationToken.None);

        Assert.Equal((0, 2, 1), (ok, bad, rejected));
        var printed = JsonDocument.Parse(Assert.Single(output.Lines)).RootElement;
        Assert.Equal("order.created", printed.GetProperty("type").GetString());
        Assert.Equal(7, printed.GetProperty("data").GetProperty("id").GetInt32());
        Assert.Contains(errors.Lines, line => line.Contains("invalid-topic", StringComparison.Ordinal));
    }

    /// <summary>Collects written lines; safe to read while the command writes.</summary>
    private sealed class LineWriter : StringWriter
    {
        private readonly Lock _gate = new();
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_gate)
                {
                    return _lines.ToList();
                }
            }
        }

        public override void WriteLine(string? value)
        {
            lock (_gate)
            {
                _lines.Add(value ?? "");
            }
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }
    }
}
