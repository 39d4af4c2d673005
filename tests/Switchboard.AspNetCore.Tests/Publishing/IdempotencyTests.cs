using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Publishing;

public sealed class IdempotencyTests
{
    [Fact]
    public async Task PublishOne_SameKeyAndBody_ReplaysOriginalEventOnce()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        const string body = """{"type":"pay","data":{"amount":10}}""";

        using var first = await client.PostAsync(HubApi.EventsPath("payments"), body, idempotencyKey: "key-1");
        using var retry = await client.PostAsync(HubApi.EventsPath("payments"), body, idempotencyKey: "key-1");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", Assert.Single(retry.Headers.GetValues("Idempotent-Replayed")));
        var original = HubApi.Parse(await first.Content.ReadAsStringAsync());
        var replayed = HubApi.Parse(await retry.Content.ReadAsStringAsync());
        Assert.Equal(original.Seq(), replayed.Seq());
        Assert.Equal(original.GetRawText(), replayed.GetRawText());
        var log = await client.PollAsync("topic=payments&after=earliest");
        Assert.Equal([original.Seq()], log.Seqs);
    }

    [Fact]
    public async Task Retry_ReSerializedWithOtherWhitespaceOrMemberOrder_IsStillARetry()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var first = await client.PostAsync(HubApi.EventsPath("payments"), """{"type":"pay","data":{"amount":10,"to":"x"}}""", idempotencyKey: "key-ws");
        using var spaced = await client.PostAsync(HubApi.EventsPath("payments"), "{ \"data\" : { \"amount\" : 10 ,\n \"to\" : \"x\" } ,\n \"type\" : \"pay\" }", idempotencyKey: "key-ws");
        using var batch = await client.PostAsync("v1/events", """[{"topic":"a","data":[1, 2]},{"data":{"k":true},"topic":"b"}]""", idempotencyKey: "key-batch");
        using var batchAgain = await client.PostAsync("v1/events", """[ {"data":[1,2], "topic":"a"}, {"topic":"b", "data":{ "k" : true }} ]""", idempotencyKey: "key-batch");

        Assert.Equal(HttpStatusCode.Created, spaced.StatusCode);
        Assert.Equal("true", Assert.Single(spaced.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(HubApi.Parse(await first.Content.ReadAsStringAsync()).Seq(), HubApi.Parse(await spaced.Content.ReadAsStringAsync()).Seq());
        Assert.Equal(HttpStatusCode.Created, batchAgain.StatusCode);
        Assert.Equal("true", Assert.Single(batchAgain.Headers.GetValues("Idempotent-Replayed")));
        Assert.Single((await client.PollAsync("topic=payments&after=earliest")).Events);
        Assert.Equal(2, (await client.PollAsync("topic=a&topic=b&after=earliest")).Events.Count);
    }

    [Fact]
    public async Task PublishOne_SameKeyDifferentBody_Returns422AndAppendsNothing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var first = await client.PostAsync(HubApi.EventsPath("payments"), """{"data":{"amount":10}}""", idempotencyKey: "key-2");
        using var different = await client.PostAsync(HubApi.EventsPath("payments"), """{"data":{"amount":99}}""", idempotencyKey: "key-2");
        using var otherTopic = await client.PostAsync(HubApi.EventsPath("refunds"), """{"data":{"amount":10}}""", idempotencyKey: "key-2");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        await different.AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        await otherTopic.AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Single((await client.PollAsync("topic=payments&topic=refunds&after=earliest")).Events);
    }

    [Fact]
    public async Task PublishOne_DifferentKeysSameBody_AppendsTwice()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var a = await client.PostAsync(HubApi.EventsPath("payments"), """{"data":1}""", idempotencyKey: "key-a");
        using var b = await client.PostAsync(HubApi.EventsPath("payments"), """{"data":1}""", idempotencyKey: "key-b");

        Assert.False(b.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(2, (await client.PollAsync("topic=payments&after=earliest")).Events.Count);
    }

    [Fact]
    public async Task PublishBatch_SameKeyAndBody_ReplaysWholeBatch()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        const string body = """[{"topic":"ledger.a","data":{"n":0}},{"topic":"ledger.b","data":{"n":1}},{"topic":"ledger.a","data":{"n":2}}]""";

        using var first = await client.PostAsync("v1/events", body, idempotencyKey: "batch-1");
        using var retry = await client.PostAsync("v1/events", body, idempotencyKey: "batch-1");
        using var conflict = await client.PostAsync("v1/events", """[{"topic":"ledger.a","data":{"n":0}}]""", idempotencyKey: "batch-1");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", Assert.Single(retry.Headers.GetValues("Idempotent-Replayed")));
        var original = HubApi.Parse(await first.Content.ReadAsStringAsync()).GetProperty("events").EnumerateArray().ToList();
        var replayed = HubApi.Parse(await retry.Content.ReadAsStringAsync()).GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(original.Select(e => e.GetRawText()), replayed.Select(e => e.GetRawText()));
        Assert.Equal(3, replayed.Count);
        await conflict.AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Equal(original.Select(e => e.Seq()), (await client.PollAsync("topic=ledger.*&after=earliest")).Seqs);
    }

    [Fact]
    public async Task PublishOne_KeyLongerThanLimit_Returns400()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath("payments"), """{"data":1}""", idempotencyKey: new string('k', 256));

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-idempotency-key");
        Assert.Equal(0, server.Hub.Log.HeadSeq);
    }
}
