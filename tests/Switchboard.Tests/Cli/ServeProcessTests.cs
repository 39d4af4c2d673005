using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

/// <summary>The executable end to end: start, serve, stop on SIGTERM, start again on the same file.</summary>
public sealed class ServeProcessTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Serve_DefaultsToSqliteInTheWorkingDirectory_AndPrintsWhereItListens()
    {
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        var response = await http.PostAsJsonAsync("v1/topics/hello/events", new { data = new { ok = true } });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains("store: sqlite at " + Path.Combine(_directory.Path, "switchboard.db"), server.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_directory.Path, "switchboard.db")));
    }

    [Fact]
    public async Task Sigterm_EndsStreamsCleanly_LosesNoAcknowledgedEvent_AndCursorsSurviveARestart()
    {
        var database = Path.Combine(_directory.Path, "data", "hub.db");
        var acknowledged = new ConcurrentBag<long>();
        string cursorBeforeStop;
        string epoch;

        await using (var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database))
        {
            using var http = new HttpClient { BaseAddress = server.BaseAddress };
            var first = await PublishAsync(http, 0);
            acknowledged.Add(first.Seq);
            cursorBeforeStop = first.Cursor;
            epoch = cursorBeforeStop.Split('.')[0];

            await using var stream = await SseReader.OpenAsync(http, "v1/stream?topic=orders&after=earliest");
            Assert.NotNull(await stream.NextAsync());

            // Keep publishing while the server is told to stop: whatever it acknowledged must survive.
            using var stopPublishing = new CancellationTokenSource();
            var publisher = Task.Run(async () =>
            {
                // Bounded below one poll page (1,000), so the checks after the restart see every event at once.
                for (var i = 1; !stopPublishing.IsCancellationRequested && i < 900; i++)
                {
                    try
                    {
                        acknowledged.Add((await PublishAsync(http, i)).Seq);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException)
                    {
                        return; // the server is going away; unacknowledged publishes may be lost
                    }
                }
            });
            await Waiting.UntilAsync(() => acknowledged.Count >= 20, "publishes before the stop");

            server.Terminate();

            await DrainUntilEndAsync(stream);
            await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
            await stopPublishing.CancelAsync();
            await publisher.Within();
            Assert.Equal(0, server.ExitCode);
        }

        await using var restarted = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database);
        using var client = new HttpClient { BaseAddress = restarted.BaseAddress };
        using var all = JsonDocument.Parse(await client.GetStringAsync("v1/events?topic=orders&after=earliest&limit=1000"));
        var stored = all.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()).ToHashSet();
        Assert.Subset(stored, acknowledged.ToHashSet());

        // The cursor handed out before the restart is still valid: same epoch, resumes right after that event.
        using var resumed = JsonDocument.Parse(await client.GetStringAsync($"v1/events?topic=orders&after={cursorBeforeStop}&limit=1000"));
        Assert.Equal(stored.Order().Skip(1), resumed.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
        Assert.StartsWith(epoch + ".", resumed.RootElement.GetProperty("cursor").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SigKill_UnderConcurrentPublishers_LosesNoAcknowledgedEvent_AcrossCheckpoints()
    {
        var database = Path.Combine(_directory.Path, "data", "hub.db");
        // A short delay, so background checkpoints run between and during the publishes that get killed.
        var environment = new Dictionary<string, string>
        {
            ["Switchboard__Store__CheckpointDelay"] = "00:00:00.050",
            ["Switchboard__Limits__RequestsPerSecondPerIp"] = "0",
        };
        var acknowledged = new ConcurrentBag<long>();
        for (var round = 0; round < 2; round++)
        {
            var server = await ServerProcess.StartAsync(_directory.Path, environment, "--urls", "http://127.0.0.1:0", "--data", database);
            await using (server)
            {
                using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
                var target = acknowledged.Count + 400;
                var publishers = Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
                {
                    // Each event is about 2 KiB, so the WAL crosses SQLite's 1,000-page threshold within the round.
                    for (var i = 0; i < 5_000; i++)
                    {
                        try
                        {
                            acknowledged.Add((await PublishAsync(http, i, new string('k', 2048))).Seq);
                        }
                        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException)
                        {
                            return; // killed: what was not acknowledged may be lost
                        }
                    }
                })).ToArray();
                await Waiting.UntilAsync(() => acknowledged.Count >= target, $"{target} acknowledged publishes", TimeSpan.FromSeconds(60));

                server.Kill();
                await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
                await Task.WhenAll(publishers).Within(TimeSpan.FromSeconds(30));
            }
        }

        await using var restarted = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database);
        using var client = new HttpClient { BaseAddress = restarted.BaseAddress };
        var stored = new HashSet<long>();
        var after = "earliest";
        for (var page = 0; page < 1_000; page++)
        {
            using var json = JsonDocument.Parse(await client.GetStringAsync($"v1/events?topic=orders&after={after}&limit=1000"));
            var events = json.RootElement.GetProperty("events");
            if (events.GetArrayLength() == 0)
            {
                break;
            }

            stored.UnionWith(events.EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
            after = json.RootElement.GetProperty("cursor").GetString()!;
        }

        Assert.True(acknowledged.Count >= 800, $"only {acknowledged.Count} publishes were acknowledged");
        var lost = acknowledged.Where(seq => !stored.Contains(seq)).Order().ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged events were lost, first {string.Join(", ", lost.Take(10))}");
    }

    [Fact]
    public async Task Sigterm_WithAStreamThatReadsNothing_ExitsZero_WithoutWaitingOutTheClient()
    {
        var database = Path.Combine(_directory.Path, "stuck.db");
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--data", database);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        // A subscriber with a tiny receive window that never reads: the stream's writes back up into the server.
        using var stuck = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp)
        {
            ReceiveBufferSize = 4096,
        };
        await stuck.ConnectAsync(IPAddress.Loopback, server.BaseAddress.Port);
        await stuck.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET /v1/stream?topic=orders HTTP/1.1\r\nHost: 127.0.0.1:{server.BaseAddress.Port}\r\n\r\n"));
        await Waiting.UntilAsync(() => stuck.Available > 0, "the stream's headers");

        // About 10 MB to it: more than the socket buffers and Kestrel's pipe hold, so a flush is left waiting.
        var padding = new string('x', 50_000);
        for (var i = 0; i < 200; i++)
        {
            await PublishAsync(http, i, padding);
        }

        await Waiting.UntilAsync(() => stuck.Available >= 2048, "the events backing up at the client");
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        server.Terminate();
        await server.WaitForExitAsync(TimeSpan.FromSeconds(25));
        Assert.Equal(0, server.ExitCode);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {stopping.Elapsed}");
    }

    /// <summary>
    /// The chat page's paths answer GET and HEAD; another method is a 405 problem with Allow, as every route's is, and a
    /// path no file has is a 404 problem, not the empty answers the static files middleware leaves.
    /// </summary>
    [Fact]
    public async Task ChatPage_OtherMethods_Are405Problems_AndMissingFiles404Problems()
    {
        await using var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--store", "memory");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        foreach (var (method, path) in new[] { ("POST", "chat"), ("DELETE", "chat/"), ("PUT", "chat/chat.js"), ("POST", "chat/index.html") })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)).Within();
            var problem = await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
            Assert.Equal(["GET", "HEAD"], response.Content.Headers.Allow);
            Assert.Equal("/" + path, problem.GetProperty("instance").GetString());
        }

        foreach (var (method, path) in new[] { ("POST", "chat/nope.js"), ("GET", "chat/nope.js"), ("POST", "nothing") })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)).Within();
            await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        }

        // What the page serves is untouched: the redirect, and the files.
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };
        using (var redirect = await noRedirects.GetAsync("chat").Within())
        {
            Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        }

        using var script = await http.GetAsync("chat/chat.js").Within();
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal("urn:switchboard:problem:" + code, problem.GetProperty("type").GetString());
        return problem;
    }

    [Fact]
    public async Task Serve_MemoryStore_ForgetsEverythingAndTellsOldCursorsToReset()
    {
        string cursor;
        await using (var server = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--store", "memory"))
        {
            using var http = new HttpClient { BaseAddress = server.BaseAddress };
            cursor = (await PublishAsync(http, 0)).Cursor;
            Assert.Contains("store: memory", server.Output, StringComparison.Ordinal);
        }

        await using var restarted = await ServerProcess.StartAsync(_directory.Path, "--urls", "http://127.0.0.1:0", "--store", "memory");
        using var client = new HttpClient { BaseAddress = restarted.BaseAddress };
        var response = await client.GetAsync($"v1/events?topic=orders&after={cursor}");
        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        Assert.Contains("epoch-changed", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory.Path, "switchboard.db")));
    }

    private static async Task<(long Seq, string Cursor)> PublishAsync(HttpClient http, int i, string? padding = null)
    {
        using var response = await http.PostAsJsonAsync("v1/topics/orders/events", new { type = "order.created", data = new { i, padding } });
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"Publish answered {(int)response.StatusCode}");
        }

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var seq = json.RootElement.GetProperty("seq").GetInt64();
        using var poll = JsonDocument.Parse(await http.GetStringAsync($"v1/health"));
        var epoch = poll.RootElement.GetProperty("epoch").GetString();
        return (seq, $"{epoch}.{seq}");
    }

    private static async Task DrainUntilEndAsync(SseReader stream)
    {
        // The stream must end (EOF) rather than hang or break: read until the server closes it.
        for (var i = 0; i < 200_000; i++)
        {
            if (await stream.NextAsync(TimeSpan.FromSeconds(30)) is null)
            {
                return;
            }
        }

        throw new InvalidOperationException("The stream did not end.");
    }
}
