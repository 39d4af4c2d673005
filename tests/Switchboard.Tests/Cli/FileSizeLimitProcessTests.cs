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
    public async Task PublishPastTheFileSizeLimit_Answers503Problem_AndTheServerKeepsServing()
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
            Assert.True(refused.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.InsufficientStorage, $"{(int)refused.StatusCode}: {await refused.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        Assert.False(server.HasExited, "the server died at the file-size limit:\n" + server.Output);
        using var health = await http.GetAsync("v1/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        // What was acknowledged before the limit is still there to read.
        using var page = JsonDocument.Parse(await http.GetStringAsync("v1/events?topic=big&after=earliest&limit=1000"));
        Assert.Equal(acknowledged, page.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
    }
}
