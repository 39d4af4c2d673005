using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Cli;

/// <summary>
/// A file-size limit (<c>ulimit -f</c>) reached mid-commit: the kernel raises SIGXFSZ, whose default action kills the
/// process. The hub must refuse the write as a store fault and keep serving instead.
/// </summary>
public sealed class FileSizeLimitProcessTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task PublishPastTheFileSizeLimit_Answers507StoreFull_LogsTheEpisodeOnce_AndTheServerKeepsServing()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // prlimit and SIGXFSZ as on the Linux hosts the hub is run on
        }

        var database = Path.Combine(_directory.Path, "hub.db");
        await using var server = await ServerProcess.StartWithFileSizeLimitAsync(_directory.Path, 2 * 1024 * 1024, "--urls", "http://127.0.0.1:0", "--data", database);
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        var payload = new string('x', 60_000);
        var acknowledged = new List<long>();
        HttpResponseMessage? refused = null;
        // 2 MiB of WAL holds about 30 such events; 60 must cross the limit.
        for (var i = 0; i < 60 && refused is null; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/topics/big/events") { Content = JsonContent.Create(new { data = payload }) };
            request.Headers.Add("Idempotency-Key", $"big-{i}");
            var response = await http.SendAsync(request); // a killed server fails this with HttpRequestException
            if (response.StatusCode == HttpStatusCode.Created)
            {
                using var stored = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                acknowledged.Add(stored.RootElement.GetProperty("seq").GetInt64());
                response.Dispose();
            }
            else
            {
                refused = response;
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            // A file that may not grow is a full store, as a full disk is: 507 store-full, not 503.
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.InsufficientStorage, $"{(int)refused.StatusCode}: {text}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(refused.Headers.RetryAfter);
            using var problem = JsonDocument.Parse(text);
            Assert.Equal("store-full", problem.RootElement.GetProperty("code").GetString());
        }

        // Liveness stays 200 but says the store is full; readiness answers the same problem a write gets
        // (or 200, when its probe found the WAL restarted by a checkpoint: then writes go through again).
        using (var health = await http.GetAsync("v1/health"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            using var document = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
            Assert.Equal("full", document.RootElement.GetProperty("store").GetString());
        }

        using (var ready = await http.GetAsync("v1/health/ready"))
        {
            Assert.True(ready.StatusCode is HttpStatusCode.InsufficientStorage or HttpStatusCode.OK, $"{(int)ready.StatusCode}");
            if (ready.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal("application/problem+json", ready.Content.Headers.ContentType?.MediaType);
            }
        }

        // More writes: refused alike (or taken, once a checkpoint has restarted the WAL), and the refusals are logged
        // once per episode (it ends with a write that goes through), never once per request with its stack.
        var refusals = 1;
        for (var i = 0; i < 30; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/topics/big/events") { Content = JsonContent.Create(new { data = payload }) };
            request.Headers.Add("Idempotency-Key", $"more-{i}");
            using var again = await http.SendAsync(request);
            Assert.True(again.StatusCode is HttpStatusCode.InsufficientStorage or HttpStatusCode.Created, $"{(int)again.StatusCode}: {await again.Content.ReadAsStringAsync()}");
            if (again.StatusCode == HttpStatusCode.Created)
            {
                using var stored = JsonDocument.Parse(await again.Content.ReadAsStringAsync());
                acknowledged.Add(stored.RootElement.GetProperty("seq").GetInt64());
            }
            else
            {
                refusals++;
            }
        }

        Assert.False(server.HasExited, "the server died at the file-size limit:\n" + server.Output);
        var output = server.Output;
        var episodes = CountOf(output, "is full: writes are refused with 507");
        Assert.True(episodes >= 1 && episodes <= CountOf(output, "accepts writes again") + 1, $"{refusals} refusals, {episodes} logged:\n{output}");
        Assert.True(CountOf(output, "SQLite write of") == 0, output);

        // What was acknowledged before the limit is still there to read.
        using var page = JsonDocument.Parse(await http.GetStringAsync("v1/events?topic=big&after=earliest&limit=1000"));
        Assert.Equal(acknowledged, page.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
