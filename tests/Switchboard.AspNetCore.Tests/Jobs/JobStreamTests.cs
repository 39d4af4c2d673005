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

        // A resume after the final event has nothing more to send, and closes at once.
        await using var late = await SseReader.OpenAsync(client, $"v1/jobs/{id}/stream", await LastEventIdAsync(client, id));
        Assert.Null(await late.NextAsync());
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
