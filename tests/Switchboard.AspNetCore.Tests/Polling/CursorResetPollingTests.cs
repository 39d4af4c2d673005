using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Polling;

public sealed class CursorResetPollingTests
{
    [Fact]
    public async Task Poll_CursorFromAnotherEpoch_Returns410EpochChangedWithFreshCursor()
    {
        await using var server = await HubServer.StartAsync();
        await using var other = await HubServer.StartAsync();
        using var client = server.CreateClient();
        using var otherClient = other.CreateClient();
        var published = await client.PublishManyAsync("epoch", 3);
        await otherClient.PublishManyAsync("epoch", 5);
        var foreignCursor = (await otherClient.PollAsync("topic=epoch&after=earliest")).Cursor;

        using var response = await client.GetAsync($"v1/events?topic=epoch&after={foreignCursor}").Within();

        var problem = await response.AssertProblemAsync(HttpStatusCode.Gone, "epoch-changed");
        var fresh = problem.GetProperty("cursor").GetString()!;
        Assert.NotEqual(foreignCursor, fresh);
        var resumed = await client.PollAsync($"topic=epoch&after={fresh}");
        Assert.Equal(published.Select(e => e.Seq()), resumed.Seqs);
    }

    [Fact]
    public async Task Poll_CursorAheadOfTheLog_Returns410CursorAhead()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var published = await client.PublishManyAsync("ahead", 2);
        var cursor = await client.CursorNowAsync("ahead");
        var epoch = cursor[..cursor.LastIndexOf('.')];

        using var response = await client.GetAsync($"v1/events?topic=ahead&after={epoch}.999999").Within();

        var problem = await response.AssertProblemAsync(HttpStatusCode.Gone, "cursor-ahead");
        var resumed = await client.PollAsync("topic=ahead&after=" + problem.GetProperty("cursor").GetString());
        Assert.Equal(published.Select(e => e.Seq()), resumed.Seqs);
    }

    [Fact]
    public async Task Poll_CursorBeforeRetainedHistory_Returns410CursorExpiredThenFreshCursorResumes()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Retention.MaxEventsPerTopic = 2;
            o.Retention.TrimInterval = TimeSpan.FromMilliseconds(50);
        });
        using var client = server.CreateClient();
        var firstCursor = await client.CursorNowAsync("retained");
        // One batch, so a trim sees all five at once and the result does not depend on when the timer ticks.
        var published = await client.PublishManyAsync("retained", 5);

        string? fresh = null;
        await Eventually.UntilAsync(async () =>
        {
            using var response = await client.GetAsync($"v1/events?topic=retained&after={firstCursor}");
            if (response.StatusCode != HttpStatusCode.Gone)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return false;
            }

            var problem = await response.AssertProblemAsync(HttpStatusCode.Gone, "cursor-expired");
            fresh = problem.GetProperty("cursor").GetString();
            return true;
        }, "retention to trim the topic to 2 events");

        var resumed = await client.PollAsync($"topic=retained&after={fresh}");
        Assert.Equal(published.TakeLast(2).Select(e => e.Seq()), resumed.Seqs);
        Assert.Equal(published.TakeLast(2).Select(e => e.Seq()), (await client.PollAsync("topic=retained&after=earliest")).Seqs);
    }
}
