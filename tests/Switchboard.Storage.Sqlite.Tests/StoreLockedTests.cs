using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Switchboard.Testing;

namespace Switchboard.Storage.Sqlite.Tests;

/// <summary>The database file locked by another process (an admin's <c>sqlite3</c> holding a write transaction).</summary>
public sealed class StoreLockedTests
{
    [Fact]
    public async Task AFileLockedByAnotherProcess_Answers503StoreUnavailable_AndWritesResumeWhenTheLockIsGone()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "locked.db");
        await using var server = await HubServer.StartAsync(sqlitePath: path);
        using var client = server.CreateClient();
        // The writer waits out SQLite's busy timeout (5 s) first; 35 s, as it once took, is no answer a publisher waits for.
        client.Timeout = TimeSpan.FromSeconds(20);

        using (var first = await client.PostAsync("v1/topics/orders/events", Json("""{"data":1}""")))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            holder.Open();
            using (var begin = holder.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                begin.ExecuteNonQuery();
            }

            using var refused = await client.PostAsync("v1/topics/orders/events", Json("""{"data":2}"""));
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)refused.StatusCode}: {text}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(refused.Headers.RetryAfter);
            using var problem = JsonDocument.Parse(text);
            Assert.Equal("store-unavailable", problem.RootElement.GetProperty("code").GetString());
            Assert.Contains("locked", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);

            // Health tells the truth from the refused write's state, without waiting out a lock itself.
            await AssertHealthAsync(client, "unavailable", HttpStatusCode.ServiceUnavailable);

            using var rollback = holder.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        // The lock is gone: readiness finds out by its own probe, before any client writes again.
        await Waiting.EventuallyAsync(async () => await AssertHealthAsync(client, "ok", HttpStatusCode.OK), TimeSpan.FromSeconds(30));

        using (var again = await client.PostAsync("v1/topics/orders/events", Json("""{"data":3}""")))
        {
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        }

        using var read = await client.GetAsync("v1/events?topic=orders&after=earliest");
        using var page = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
        Assert.Equal([1, 3], page.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("data").GetInt32()));
    }

    private static async Task<bool> AssertHealthAsync(HttpClient client, string store, HttpStatusCode readiness)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var health = await client.GetAsync("v1/health"))
        {
            var text = await health.Content.ReadAsStringAsync();
            Assert.True(health.StatusCode == HttpStatusCode.OK, $"liveness: {(int)health.StatusCode} {text}");
            using var document = JsonDocument.Parse(text);
            Assert.Equal(store, document.RootElement.GetProperty("store").GetString());
        }

        using var ready = await client.GetAsync("v1/health/ready");
        var readyText = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == readiness, $"readiness: {(int)ready.StatusCode} {readyText}");
        if (readiness != HttpStatusCode.OK)
        {
            Assert.Equal("application/problem+json", ready.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(ready.Headers.RetryAfter);
            Assert.Contains("store-unavailable", readyText, StringComparison.Ordinal);
        }

        // A probe never holds a health request: a lock is waited out in the background, not by the load balancer.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"health took {started.Elapsed}");
        return true;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
