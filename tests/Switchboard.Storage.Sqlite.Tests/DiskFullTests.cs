using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.Log;
using Switchboard.Testing;

namespace Switchboard.Storage.Sqlite.Tests;

/// <summary>
/// A full disk, simulated without root: SQLite's <c>max_page_count</c> on the writer's connection stops the file from
/// growing, which SQLite reports as SQLITE_FULL exactly as it does for ENOSPC.
/// </summary>
public sealed class DiskFullTests
{
    private static readonly string Big = new('x', 60_000);

    [Fact]
    public async Task AFullStore_Answers507StoreFull_OnEveryWrite_KeepsServingReads_LogsOnce_AndRecovers()
    {
        var logs = new Capture();
        await using var server = await HubServer.StartAsync(
            o =>
            {
                o.Webhooks.AllowHttp = true;
                o.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
            },
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        using var client = server.CreateClient();
        var log = (SqliteEventLog)server.App.Services.GetRequiredService<IEventLog>();

        using (var first = await client.PostAsync("v1/topics/orders/events", Json("""{"type":"t","data":{"n":1}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        await log.SetMaxPageCountAsync(1); // clamped to the current size: no growth from here

        // HTTP publishes, single and batch.
        for (var i = 0; i < 3; i++)
        {
            await AssertStoreFullAsync(await client.PostAsync("v1/topics/orders/events", Json($$"""{"type":"t","data":"{{Big}}"}""")));
        }

        await AssertStoreFullAsync(await client.PostAsync("v1/events", Json($$"""[{"topic":"orders","data":"{{Big}}"}]""")));

        // Jobs, config and webhooks.
        await AssertStoreFullAsync(await client.PostAsync("v1/jobs", Json($$"""{"type":"resize","input":"{{Big}}"}""")));
        await AssertStoreFullAsync(await client.PutAsync("v1/config/web", Json($$"""{"theme":"{{Big}}"}""")));
        await AssertStoreFullAsync(await client.PostAsync("v1/webhooks", Json($$"""{"url":"http://127.0.0.1:9/{{Big[..2000]}}","topics":["never.delivered"],"description":"{{Big[..1000]}}"}""")));

        // WebSocket publish: an error op, and the connection stays open.
        using (var socket = new ClientWebSocket())
        {
            await socket.ConnectAsync(new Uri(server.BaseAddress.ToString().Replace("http", "ws", StringComparison.Ordinal) + "v1/ws"), CancellationToken.None);
            await SendAsync(socket, $$"""{"op":"publish","id":"p1","topic":"chat.room","type":"t","data":"{{Big}}"}""");
            using var error = JsonDocument.Parse(await ReceiveAsync(socket));
            Assert.Equal("error", error.RootElement.GetProperty("op").GetString());
            Assert.Equal("store_full", error.RootElement.GetProperty("code").GetString());
            await SendAsync(socket, """{"op":"ping","id":"still-open"}""");
            using var pong = JsonDocument.Parse(await ReceiveAsync(socket));
            Assert.Equal("pong", pong.RootElement.GetProperty("op").GetString());
        }

        // Reads keep working.
        using (var read = await client.GetAsync("v1/events?topic=orders&after=earliest"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            using var body = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
            Assert.Single(body.RootElement.GetProperty("events").EnumerateArray());
        }

        // Logged once for the whole episode, and never as an unhandled exception.
        Assert.True(logs.Count(3) == 1, logs.Describe());
        Assert.Equal(0, logs.Count(2));
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error && e.EventId.Id != 3);

        // Space returns: the next write goes through, with no restart.
        await log.SetMaxPageCountAsync(1_000_000);
        using (var again = await client.PostAsync("v1/topics/orders/events", Json($$"""{"type":"t","data":"{{Big}}"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        }

        using (var job = await client.PostAsync("v1/jobs", Json("""{"type":"resize","input":{}}""")))
        {
            Assert.True(job.IsSuccessStatusCode, $"job submit after recovery: {job.StatusCode}");
        }

        Assert.Equal(1, logs.Count(4));
    }

    [Fact]
    public async Task AFullStore_IsDegradedInHealth_NotReady_507_AndReadyAgainWhenSpaceReturns_WithoutAPublish()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var log = (SqliteEventLog)server.App.Services.GetRequiredService<IEventLog>();
        await AssertHealthAsync(client, "ok", HttpStatusCode.OK);

        await log.SetMaxPageCountAsync(1);
        await AssertStoreFullAsync(await client.PostAsync("v1/topics/orders/events", Json($$"""{"type":"t","data":"{{Big}}"}""")));

        // Liveness stays 200 (reads still work) but says so; readiness answers the problem a write gets.
        await AssertHealthAsync(client, "full", HttpStatusCode.InsufficientStorage);

        // Space returns: readiness finds out by its own probe, with no client write.
        await log.SetMaxPageCountAsync(1_000_000);
        await Waiting.EventuallyAsync(async () => await AssertHealthAsync(client, "ok", HttpStatusCode.OK));
    }

    private static async Task<bool> AssertHealthAsync(HttpClient client, string store, HttpStatusCode readiness)
    {
        using (var health = await client.GetAsync("v1/health"))
        {
            var text = await health.Content.ReadAsStringAsync();
            Assert.True(health.StatusCode == HttpStatusCode.OK, $"liveness: {(int)health.StatusCode} {text}");
            using var document = JsonDocument.Parse(text);
            Assert.Equal(store, document.RootElement.GetProperty("store").GetString());
            Assert.Equal(store == "ok" ? "ok" : "degraded", document.RootElement.GetProperty("status").GetString());
        }

        using var ready = await client.GetAsync("v1/health/ready");
        var readyText = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == readiness, $"readiness: {(int)ready.StatusCode} {readyText}");
        if (readiness != HttpStatusCode.OK)
        {
            Assert.Equal("application/problem+json", ready.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(readyText);
            Assert.Equal("store-full", problem.RootElement.GetProperty("code").GetString());
            Assert.Equal(store, problem.RootElement.GetProperty("store").GetString());
        }

        return true;
    }

    [Fact]
    public async Task AWriteThatNeedsRoom_DoesNotFailTheWritesThatFit_InTheSameGroupCommit()
    {
        using var directory = new TempDirectory();
        await using var log = new SqliteEventLog(new SqliteEventLogOptions { Path = Path.Combine(directory.Path, "hub.db") });
        await log.AppendAsync([new Events.EventDraft("orders", "t", "{}"u8.ToArray())]);
        await log.SetMaxPageCountAsync(1);

        // Hold the writer inside one commit so that the next writes queue up and are committed as one group.
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holding = log.ExecuteWriteAsync(_ =>
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        });
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30)), "the writer never ran the holding write");

        var tooBig = log.AppendAsync([new Events.EventDraft("orders", "t", Encoding.UTF8.GetBytes('"' + Big + '"'))]);
        var fits = log.ExecuteWriteAsync(transaction =>
        {
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO meta (key, value) VALUES ('fits', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value";
            command.ExecuteNonQuery();
        });
        var raise = log.SetMaxPageCountAsync(1_000_000);
        await Waiting.EventuallyAsync(() => Task.FromResult(log.PendingWrites >= 3));
        release.Set();
        await holding;

        await Assert.ThrowsAsync<StoreFullException>(() => tooBig);
        await fits;
        Assert.True(await raise >= 1_000_000);
        Assert.Equal(2, (await log.AppendAsync([new Events.EventDraft("orders", "t", Encoding.UTF8.GetBytes('"' + Big + '"'))])).Events[0].Seq);
    }

    [Fact]
    public async Task AFullFile_FromTheFirstOpen_IsAStoreFullException_FromTheLog()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "full.db");
        await using (var create = new SqliteEventLog(new SqliteEventLogOptions { Path = path }))
        {
        }

        await using var log = new SqliteEventLog(new SqliteEventLogOptions { Path = path, MaxPageCount = 1 });
        var full = await Assert.ThrowsAsync<StoreFullException>(() => log.AppendAsync([new Events.EventDraft("orders", "t", Encoding.UTF8.GetBytes('"' + Big + '"'))]));
        Assert.Equal(13, Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(full.InnerException).SqliteErrorCode);
        Assert.Equal(0, log.HeadSeq);
    }

    [Fact]
    public void ANewFile_OnAFullDisk_IsAStoreOpenException_SayingTheDiskIsFull()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "new.db");

        // One page holds no schema: creating the tables fails with SQLITE_FULL, as on a disk with no room.
        var failure = Assert.Throws<StoreOpenException>(() => new SqliteEventLog(new SqliteEventLogOptions { Path = path, MaxPageCount = 1 }));

        Assert.Equal(13, Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(failure.InnerException).SqliteErrorCode);
        Assert.StartsWith($"Cannot open the SQLite store at {path}: the disk is full.", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileThatIsNotADatabase_IsAStoreOpenException_AndIsLeftAsItWas()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "notes.db");
        var bytes = Encoding.UTF8.GetBytes(new string('n', 5000));
        await File.WriteAllBytesAsync(path, bytes);

        var failure = Assert.Throws<StoreOpenException>(() => new SqliteEventLog(new SqliteEventLogOptions { Path = path }));

        Assert.Equal(26, Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(failure.InnerException).SqliteErrorCode);
        Assert.Contains("not a Switchboard database", failure.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
    }

    private static async Task AssertStoreFullAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == 507, $"{(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.RetryAfter?.Delta);
            using var problem = JsonDocument.Parse(text);
            Assert.Equal("store-full", problem.RootElement.GetProperty("code").GetString());
            Assert.Equal(507, problem.RootElement.GetProperty("status").GetInt32());
        }
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static Task SendAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<string> ReceiveAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[64 * 1024];
        var text = new StringBuilder();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, timeout.Token);
            text.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            if (result.EndOfMessage)
            {
                var message = text.ToString();
                if (message.Contains("\"op\":\"welcome\"", StringComparison.Ordinal) || message.Contains("\"op\":\"hello\"", StringComparison.Ordinal))
                {
                    text.Clear();
                    continue;
                }

                return message;
            }
        }
    }

    private sealed class Capture : ILoggerProvider
    {
        private readonly ConcurrentQueue<(string Category, LogLevel Level, EventId EventId, string Message)> _entries = new();

        public IReadOnlyCollection<(string Category, LogLevel Level, EventId EventId, string Message)> Entries => _entries;

        public int Count(int eventId) => _entries.Count(e => e.EventId.Id == eventId && e.Category == typeof(SqliteEventLog).FullName);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public string Describe() => string.Join('\n', _entries.Where(e => e.Category == typeof(SqliteEventLog).FullName).Select(e => $"{e.EventId.Id} {e.Level}: {e.Message}"));

        public void Dispose()
        {
        }

        private sealed class Logger(Capture owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner._entries.Enqueue((category, logLevel, eventId, formatter(state, exception) + (exception is null ? "" : " " + exception)));
        }
    }
}
