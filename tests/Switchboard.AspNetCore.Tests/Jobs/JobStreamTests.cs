using System.Net.ServerSentEvents;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Jobs;

/// <summary>Following a job as events: its SSE stream, and the generic subscriptions on <c>jobs.&gt;</c>.</summary>
public sealed class JobStreamTests
{
    [Fact]
    public async Task Stream_SendsStatusAndOutput_ThenTheFinalEvent_ThenCloses()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        await using var stream = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream");
        Assert.Equal("job.queued", Type(await stream.NextAsync()));

        var claimed = (await client.ClaimAsync())!;
        Assert.Equal("job.running", Type(await stream.NextAsync()));
        await client.WorkerOkAsync(id, "progress", claimed.LeaseId, "\"percent\":30");
        await client.WorkerOkAsync(id, "progress", claimed.LeaseId, "\"output\":\"Hello \"");
        await client.WorkerOkAsync(id, "complete", claimed.LeaseId, "\"result\":{\"text\":\"Hello\"}");

        var progress = await stream.NextAsync();
        Assert.Equal("job.progress", Type(progress));
        Assert.Equal(30, Data(progress).GetProperty("progress").GetInt32());
        var output = await stream.NextAsync();
        Assert.Equal("job.output", Type(output));
        Assert.Equal("Hello ", Data(output).GetProperty("output").GetString());
        var final = await stream.NextAsync();
        Assert.Equal("job.succeeded", Type(final));
        Assert.Equal("Hello", Data(final).GetProperty("result").GetProperty("text").GetString());
        Assert.Null(await stream.NextAsync()); // the server closed the stream
    }

    [Fact]
    public async Task Stream_ResumedMidStream_WithLastEventId_LosesAndRepeatsNoChunk()
    {
        const int Chunks = 40;
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync("write")).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync("write"))!;
        var writer = Task.Run(async () =>
        {
            using var worker = server.CreateClient();
            for (var i = 0; i < Chunks; i++)
            {
                await worker.WorkerOkAsync(id, "progress", claimed.LeaseId, $"\"output\":\"w{i} \"");
            }

            await worker.WorkerOkAsync(id, "complete", claimed.LeaseId, "\"result\":null");
        });

        var chunks = new List<string>();
        string? lastEventId;
        await using (var first = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream"))
        {
            // Read up to the 10th chunk, then drop the connection while the worker keeps writing.
            SseItem<string>? item;
            do
            {
                item = await first.NextAsync();
                Assert.NotNull(item);
                if (Type(item) == "job.output")
                {
                    chunks.Add(Data(item).GetProperty("output").GetString()!);
                }
            }
            while (chunks.Count < 10);

            lastEventId = item.Value.EventId;
        }

        string? finalType = null;
        await using (var resumed = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream", lastEventId))
        {
            while (await resumed.NextAsync() is { } item)
            {
                if (Type(item) == "job.output")
                {
                    chunks.Add(Data(item).GetProperty("output").GetString()!);
                }
                else
                {
                    finalType = Type(item);
                }
            }
        }

        await writer.Within();
        Assert.Equal(Enumerable.Range(0, Chunks).Select(i => $"w{i} "), chunks);
        Assert.Equal("job.succeeded", finalType);

        // A resume after the final event has nothing more to send: 204, so an EventSource stops reconnecting.
        using var late = new HttpRequestMessage(HttpMethod.Get, $"v1/jobs/{id}/stream");
        late.Headers.Add("Last-Event-ID", await LastEventIdAsync(client, id));
        using var answer = await client.SendAsync(late).Within();
        Assert.Equal(System.Net.HttpStatusCode.NoContent, answer.StatusCode);
    }

    /// <summary>
    /// A browser's <c>EventSource</c> reconnects by itself whenever a stream closes, with the last id as
    /// <c>Last-Event-ID</c>; only a 204 makes it stop. So after the final event the reconnect is 204 (a 200 that closed
    /// at once had it reconnect every retry interval for ever), while a finished job read from the start, or from a
    /// point before its final event, still gets its events.
    /// </summary>
    [Fact]
    public async Task FinishedJob_ReconnectAfterTheFinalEvent_Is204_EarlierResumesStillStream()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync())!;
        await client.WorkerOkAsync(id, "complete", claimed.LeaseId, "\"result\":1");

        var types = new List<string>();
        string? lastEventId = null, firstEventId = null;
        await using (var whole = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream"))
        {
            while (await whole.NextAsync() is { } item)
            {
                types.Add(Type(item));
                firstEventId ??= item.EventId;
                lastEventId = item.EventId;
            }
        }

        Assert.Equal(["job.queued", "job.running", "job.succeeded"], types);

        foreach (var url in new[] { $"v1/jobs/{id}/stream", $"v1/jobs/{id}/stream?after={Uri.EscapeDataString(lastEventId!)}" })
        {
            using var reconnect = new HttpRequestMessage(HttpMethod.Get, url);
            if (!url.Contains("after=", StringComparison.Ordinal))
            {
                reconnect.Headers.Add("Last-Event-ID", lastEventId);
            }

            using var answer = await client.SendAsync(reconnect).Within();
            Assert.Equal(System.Net.HttpStatusCode.NoContent, answer.StatusCode);
        }

        await using var resumed = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream", firstEventId);
        Assert.Equal("job.running", Type(await resumed.NextAsync()));
        Assert.Equal("job.succeeded", Type(await resumed.NextAsync()));
        Assert.Null(await resumed.NextAsync());
    }

    [Fact]
    public async Task SubscriberOnAllJobs_SeesTheSameTransitions_AsTheJobStream()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options());
        using var client = server.CreateClient();
        await using var all = await SseReader.OpenAsync(client, "v1/stream?topic=jobs.>");
        var id = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        var claimed = (await client.ClaimAsync())!;
        await client.WorkerOkAsync(id, "fail", claimed.LeaseId, "\"error\":\"oops\",\"retryable\":true");
        var again = (await client.ClaimAsync(wait: 10))!;
        await client.WorkerOkAsync(id, "progress", again.LeaseId, "\"output\":\"x\"");
        await client.WorkerOkAsync(id, "complete", again.LeaseId, "\"result\":1");
        var other = (await client.SubmitAsync()).GetProperty("id").GetString()!;
        await client.DeleteAsync($"v1/jobs/{other}");

        var seen = (await all.TakeAsync(8)).Select(i => (Data(i).GetProperty("id").GetString()!, Type(i))).ToList();

        string[] expected = ["job.queued", "job.running", "job.queued", "job.running", "job.output", "job.succeeded"];
        Assert.Equal(expected.Select(t => (id, t)).Append((other, "job.queued")).Append((other, "job.canceled")), seen);
        var fromJobStream = new List<string>();
        await using (var stream = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream"))
        {
            while (await stream.NextAsync() is { } item)
            {
                fromJobStream.Add(Type(item));
            }
        }

        Assert.Equal(expected, fromJobStream);
    }

    [Fact]
    public async Task UnknownJob_StreamIs404()
    {
        await using var server = await HubServer.StartAsync(JobKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        await (await client.GetAsync("v1/jobs/job_nope/stream")).AssertProblemAsync(System.Net.HttpStatusCode.NotFound, "job-not-found");
    }

    private static async Task<string> LastEventIdAsync(HttpClient client, string id)
    {
        string? last = null;
        await using var stream = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream");
        while (await stream.NextAsync() is { } item)
        {
            last = item.EventId;
        }

        return last!;
    }

    /// <summary>The event's type (the job's own type is in its data).</summary>
    private static string Type(SseItem<string>? item) => HubApi.Parse(item!.Value.Data).GetProperty("type").GetString()!;

    private static JsonElement Data(SseItem<string>? item) => HubApi.Parse(item!.Value.Data).GetProperty("data");
}
