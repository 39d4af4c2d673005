using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using SocialShare.Web;
using SocialShare.Worker;
using Switchboard.Testing;

namespace SocialShare.Tests;

/// <summary>The sample end to end: the real hub in-process, the worker's loop in-process, jobs over HTTP.</summary>
public sealed class SocialShareSampleTests
{
    [Fact]
    public async Task ShareJob_IsClaimedByTheWorker_AndSucceedsWithAPostUrl()
    {
        await using var hub = await StartHubAsync();
        using var client = hub.CreateClient();
        await using var worker = RunningWorker.Start(hub);

        var id = await SubmitAsync(client, "share", new { text = "Hello, fediverse", network = "bluesky" });
        var job = await WaitUntilFinishedAsync(client, id);

        Assert.Equal(("succeeded", 1, 100), (job.GetProperty("status").GetString(), job.GetProperty("attempts").GetInt32(), job.GetProperty("progress").GetInt32()));
        var result = job.GetProperty("result");
        Assert.Equal("bluesky", result.GetProperty("network").GetString());
        Assert.StartsWith("https://bluesky.example/posts/", result.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Equal(16, result.GetProperty("characters").GetInt32());
    }

    [Fact]
    public async Task WriteJob_StreamsItsWordsInOrder_OverTheJobsSseStream()
    {
        const string Prompt = "Once upon a time";
        await using var hub = await StartHubAsync();
        using var client = hub.CreateClient();
        var id = await SubmitAsync(client, "write", new { prompt = Prompt, words = 25 });
        await using var stream = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream");
        await using var worker = RunningWorker.Start(hub);

        var events = await ReadToEndAsync(stream);

        var chunks = events.Where(e => e.Type == "job.output").Select(e => e.Data.GetProperty("output").GetString()!).ToList();
        var expected = ShareWorker.Generate(Prompt, 25);
        Assert.Equal(expected.Select((word, i) => i == 0 ? word : " " + word), chunks);
        Assert.StartsWith("Once upon a time ", string.Concat(chunks), StringComparison.Ordinal);
        var final = events[^1];
        Assert.Equal("job.succeeded", final.Type);
        Assert.Equal(string.Concat(chunks), final.Data.GetProperty("result").GetProperty("text").GetString());
        Assert.Equal(["job.queued", "job.running"], events.Take(2).Select(e => e.Type));
    }

    [Fact]
    public async Task FailingAttempt_IsRetried_AndTheJobThenSucceeds()
    {
        await using var hub = await StartHubAsync();
        using var client = hub.CreateClient();
        await using var worker = RunningWorker.Start(hub, failFirstAttempts: 1);

        var id = await SubmitAsync(client, "share", new { text = "Second time lucky", network = "mastodon" });
        await using var stream = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream");
        var events = await ReadToEndAsync(stream);
        var job = await WaitUntilFinishedAsync(client, id);

        Assert.Equal(("succeeded", 2), (job.GetProperty("status").GetString(), job.GetProperty("attempts").GetInt32()));
        var transitions = events.Select(e => e.Type).Where(t => t is not ("job.progress" or "job.output")).ToList();
        Assert.Equal(["job.queued", "job.running", "job.queued", "job.running", "job.succeeded"], transitions);
        var requeued = events.First(e => e.Type == "job.queued" && e.Data.GetProperty("attempts").GetInt32() == 1);
        Assert.Contains("simulated", requeued.Data.GetProperty("error").GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Worker_StoppedMidJob_GivesTheJobBack_AndEndsCleanly()
    {
        await using var hub = await StartHubAsync();
        using var client = hub.CreateClient();
        var id = await SubmitAsync(client, "share", new { text = "slow", network = "linkedin" });
        var worker = RunningWorker.Start(hub, stepDelay: TimeSpan.FromSeconds(30));
        await Waiting.UntilAsync(() => Status(client, id) == "running", "the worker to claim the job");

        await worker.DisposeAsync(); // cancels the loop and awaits it: no exception escapes

        using var response = await client.GetAsync($"v1/jobs/{id}");
        var job = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("queued", job.GetProperty("status").GetString());
        Assert.Contains("stopped", job.GetProperty("error").GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebApp_ServesThePage_AndForwardsSubmitPollAndStream_ToTheHub()
    {
        await using var hub = await StartHubAsync();
        await using var worker = RunningWorker.Start(hub);
        var web = SocialShareWeb.Build(["--urls=http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", $"--Hub:Url={hub.BaseAddress}"]);
        await web.StartAsync();
        try
        {
            var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var page = new HttpClient { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromSeconds(30) };

            Assert.Contains("<h1>SocialShare</h1>", await page.GetStringAsync(""), StringComparison.Ordinal);
            Assert.Contains("from '/client.js'", await page.GetStringAsync("app.js"), StringComparison.Ordinal);
            Assert.Contains("export class Switchboard", await page.GetStringAsync("client.js"), StringComparison.Ordinal);
            using var refused = await page.PostAsync("api/jobs", Json(new { type = "tweet", input = new { } }));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

            using var submitted = await page.PostAsync("api/jobs", Json(new { type = "write", input = new { prompt = "via the page", words = 5 } }));
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
            var id = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
            Assert.Equal($"/api/jobs/{id}", submitted.Headers.Location?.OriginalString);

            await using (var stream = await SseReader.OpenAsync(page, $"api/jobs/{id}/stream"))
            {
                var events = await ReadToEndAsync(stream);
                Assert.Equal("via the page", string.Concat(events.Where(e => e.Type == "job.output").Select(e => e.Data.GetProperty("output").GetString())).Split(' ').Take(3).Aggregate((a, b) => a + " " + b));
                Assert.Equal("job.succeeded", events[^1].Type);
            }

            // The client resumes a job stream with ?after=; the forwarder keeps the query, so the resumed stream starts
            // right after the given event.
            string firstCursor;
            await using (var stream = await SseReader.OpenAsync(page, $"api/jobs/{id}/stream"))
            {
                firstCursor = (await stream.NextAsync())!.Value.EventId!;
            }

            await using (var resumed = await SseReader.OpenAsync(page, $"api/jobs/{id}/stream?after={Uri.EscapeDataString(firstCursor)}"))
            {
                var events = await ReadToEndAsync(resumed);
                Assert.Equal("job.running", events[0].Type);
                Assert.Equal("job.succeeded", events[^1].Type);
            }

            using var polled = await page.GetAsync($"api/jobs/{id}");
            Assert.Equal(HttpStatusCode.OK, polled.StatusCode);
            Assert.Equal("succeeded", JsonDocument.Parse(await polled.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
            using var again = new HttpRequestMessage(HttpMethod.Get, $"api/jobs/{id}");
            again.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(polled.Headers.ETag!.ToString()));
            using var unchanged = await page.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        }
        finally
        {
            await web.StopAsync();
            await web.DisposeAsync();
        }
    }

    [Fact]
    public void WorkerOptions_ParseTheCommandLine()
    {
        var options = WorkerOptions.Parse(["--hub", "http://hub:9000", "--failure-rate", "0.5", "--fail-first", "1", "--step-ms", "10", "--word-ms", "0"]);

        Assert.Equal((new Uri("http://hub:9000/"), 0.5, 1, TimeSpan.FromMilliseconds(10), TimeSpan.Zero),
            (options.HubUrl, options.FailureRate, options.FailFirstAttempts, options.StepDelay, options.WordDelay));
        Assert.Throws<ArgumentException>(() => WorkerOptions.Parse(["--failure-rate", "2"]));
        Assert.Throws<ArgumentException>(() => WorkerOptions.Parse(["--nope", "1"]));
    }

    private static Task<HubServer> StartHubAsync() =>
        HubServer.StartAsync(o => o.Jobs.RetryBackoff = TimeSpan.FromMilliseconds(20));

    private static StringContent Json(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    private static async Task<string> SubmitAsync(HttpClient client, string type, object input)
    {
        using var response = await client.PostAsync("v1/jobs", Json(new { type, input }));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    private static string? Status(HttpClient client, string id) =>
        JsonDocument.Parse(client.GetStringAsync($"v1/jobs/{id}").GetAwaiter().GetResult()).RootElement.GetProperty("status").GetString();

    /// <summary>Long-polls the job (<c>?wait=</c> with <c>If-None-Match</c>) until it is final.</summary>
    private static async Task<JsonElement> WaitUntilFinishedAsync(HttpClient client, string id)
    {
        using var deadline = new CancellationTokenSource(Waiting.DefaultTimeout);
        string? etag = null;
        JsonElement job = default;
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, etag is null ? $"v1/jobs/{id}" : $"v1/jobs/{id}?wait=5");
            if (etag is not null)
            {
                request.Headers.TryAddWithoutValidation("If-None-Match", etag);
            }

            using var response = await client.SendAsync(request, deadline.Token);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                etag = response.Headers.ETag?.ToString();
                job = JsonDocument.Parse(await response.Content.ReadAsStringAsync(deadline.Token)).RootElement;
                if (job.GetProperty("status").GetString() is "succeeded" or "failed" or "canceled")
                {
                    return job;
                }
            }
        }
    }

    private static async Task<List<(string Type, JsonElement Data)>> ReadToEndAsync(SseReader stream)
    {
        var events = new List<(string, JsonElement)>();
        while (await stream.NextAsync() is { } item)
        {
            var root = JsonDocument.Parse(item.Data).RootElement;
            events.Add((root.GetProperty("type").GetString()!, root.GetProperty("data")));
        }

        return events;
    }

    /// <summary>The worker's loop running in this process against a hub, fast and with no random failures.</summary>
    private sealed class RunningWorker : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly HttpClient _http;
        private readonly Task _run;

        private RunningWorker(HubServer hub, WorkerOptions options)
        {
            _http = new HttpClient { BaseAddress = hub.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            _run = new ShareWorker(_http, options, TextWriter.Null).RunAsync(_stop.Token);
        }

        public static RunningWorker Start(HubServer hub, int failFirstAttempts = 0, TimeSpan? stepDelay = null) => new(hub, new WorkerOptions
        {
            HubUrl = hub.BaseAddress,
            FailureRate = 0,
            FailFirstAttempts = failFirstAttempts,
            StepDelay = stepDelay ?? TimeSpan.Zero,
            WordDelay = TimeSpan.Zero,
            ClaimWaitSeconds = 1,
        });

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run.Within();
            _http.Dispose();
            _stop.Dispose();
        }
    }
}
