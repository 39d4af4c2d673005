using System.Net;
using System.Text.Json;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Publishing;

public sealed class PublishEndpointsTests
{
    [Fact]
    public async Task PublishOne_ValidEvent_Returns201WithSeqTopicTypeTimeData()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);

        using var response = await client.PostAsync(HubApi.EventsPath("orders.created"), """{"type":"order.created","data":{"id":42}}""");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var created = HubApi.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(["seq", "topic", "type", "time", "data"], created.EnumerateObject().Select(p => p.Name));
        Assert.True(created.Seq() >= 1);
        Assert.Equal("orders.created", created.GetProperty("topic").GetString());
        Assert.Equal("order.created", created.GetProperty("type").GetString());
        Assert.EndsWith("Z", created.GetProperty("time").GetString(), StringComparison.Ordinal);
        var time = created.GetProperty("time").GetDateTimeOffset();
        Assert.InRange(time, before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Equal(42, created.GetProperty("data").GetProperty("id").GetInt32());
    }

    [Fact]
    public async Task PublishOne_ManyEvents_SeqsIncreaseAcrossTopics()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        var a = await client.PublishAsync("seq.a");
        var b = await client.PublishAsync("seq.b");
        var c = await client.PublishAsync("seq.a");

        Assert.True(a.Seq() < b.Seq() && b.Seq() < c.Seq(), $"seqs {a.Seq()}, {b.Seq()}, {c.Seq()}");
    }

    [Theory]
    [InlineData("""{"data":{"x":1}}""")]
    [InlineData("""{"type":null,"data":{"x":1}}""")]
    public async Task PublishOne_WithoutType_DefaultsToMessage(string body)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        var created = await client.PublishAsync("notype", body);
        var polled = await client.PollAsync("topic=notype&after=earliest");

        Assert.Equal("message", created.GetProperty("type").GetString());
        Assert.Equal("message", Assert.Single(polled.Events).GetProperty("type").GetString());
    }

    [Fact]
    public async Task PublishOne_NestedUnicodeData_RoundTripsThroughPoll()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        const string data = """{"greeting":"héllo wörld ✓ 日本語 🎉","quote":"say \"hi\"\n\tbye","nested":{"list":[1,2.5,-3e2,true,false,null,{"deep":["x",[]]}],"empty":{}},"big":12345678901234567890}""";

        var created = await client.PublishAsync("unicode", $$"""{"type":"t","data":{{data}}}""");
        var polled = await client.PollAsync("topic=unicode&after=earliest");

        var expected = HubApi.Parse(data);
        Assert.True(JsonElement.DeepEquals(expected, created.GetProperty("data")), created.GetProperty("data").GetRawText());
        var polledEvent = Assert.Single(polled.Events);
        Assert.True(JsonElement.DeepEquals(expected, polledEvent.GetProperty("data")), polledEvent.GetProperty("data").GetRawText());
        Assert.Equal("héllo wörld ✓ 日本語 🎉", polledEvent.GetProperty("data").GetProperty("greeting").GetString());
    }

    [Theory]
    [InlineData("\"just a string\"", "\"just a string\"")]
    [InlineData("17", "17")]
    [InlineData("null", "null")]
    [InlineData("[1, 2 ,3]", "[1,2,3]")]
    public async Task PublishOne_ScalarOrArrayData_IsStoredAsJson(string data, string stored)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        await client.PublishAsync("scalars", $$"""{"data":{{data}}}""");
        var polled = await client.PollAsync("topic=scalars&after=earliest");

        Assert.Equal(stored, Assert.Single(polled.Events).GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task PublishOne_WithoutData_StoresNull()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        var created = await client.PublishAsync("nodata", """{"type":"ping"}""");

        Assert.Equal(JsonValueKind.Null, created.GetProperty("data").ValueKind);
    }

    [Fact]
    public async Task PublishOne_PrettyPrintedData_IsStoredCompactly()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var body = "{\n  \"type\": \"t\",\n  \"data\": {\n    \"a\" : [ 1,\n      2 ],\r\n\t\"b\" : \"x y\" ,\n    \"c\": { }\n  }\n}\n";

        var created = await client.PublishAsync("pretty", body);
        var polled = await client.PollAsync("topic=pretty&after=earliest");

        const string compact = """{"a":[1,2],"b":"x y","c":{}}""";
        Assert.Equal(compact, created.GetProperty("data").GetRawText());
        Assert.Equal(compact, Assert.Single(polled.Events).GetProperty("data").GetRawText());
        Assert.Contains("\"data\":" + compact, polled.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PublishBatch_ValidEvents_Returns201WithConsecutiveSeqs()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PublishAsync("batch.other");

        using var response = await client.PostAsync("v1/events", """
            [{"topic":"batch.a","type":"one","data":{"n":0}},
             {"topic":"batch.b","data":{"n":1}},
             {"topic":"batch.a","type":"three","data":{"n":2}}]
            """);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var root = HubApi.Parse(await response.Content.ReadAsStringAsync());
        var events = root.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(3, events.Count);
        Assert.Equal([0, 1, 2], events.Select(e => e.N()));
        Assert.Equal(["batch.a", "batch.b", "batch.a"], events.Select(e => e.GetProperty("topic").GetString()));
        Assert.Equal(["one", "message", "three"], events.Select(e => e.GetProperty("type").GetString()));
        var first = events[0].Seq();
        Assert.Equal([first, first + 1, first + 2], events.Select(e => e.Seq()));
        var polled = await client.PollAsync("topic=batch.a&topic=batch.b&after=earliest");
        Assert.Equal(events.Select(e => e.Seq()), polled.Seqs);
    }

    [Fact]
    public async Task PublishBatch_OneInvalidTopic_Returns400AndAppendsNothing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/events", """
            [{"topic":"atomic.ok","data":{"n":0}},
             {"topic":"atomic..bad","data":{"n":1}},
             {"topic":"atomic.ok","data":{"n":2}}]
            """);

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-topic");
        Assert.Contains("Event 1", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var polled = await client.PollAsync("topic=atomic.>&after=earliest");
        Assert.Empty(polled.Events);
        Assert.Equal(0, server.Hub.Log.HeadSeq);
    }

    [Fact]
    public async Task PublishBatch_OneOversizedElement_Returns413AndAppendsNothing()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxEventBytes = 1024);
        using var client = server.CreateClient();
        var big = new string('x', 2000);

        using var response = await client.PostAsync("v1/events", $$$"""[{"topic":"atomic.ok","data":{"n":0}},{"topic":"atomic.ok","data":"{{{big}}}"}]""");

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Empty((await client.PollAsync("topic=atomic.ok&after=earliest")).Events);
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("a b")]
    [InlineData("a.*")]
    [InlineData(">")]
    [InlineData("a.>")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("ä")]
    [InlineData("a/b")]
    public async Task PublishOne_InvalidTopic_Returns400InvalidTopic(string topic)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath(topic), """{"data":1}""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-topic");
        Assert.Equal(0, server.Hub.Log.HeadSeq);
    }

    [Fact]
    public async Task PublishOne_TopicLongerThanMaxTopicLength_Returns400InvalidTopic()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var tooLong = await client.PostAsync(HubApi.EventsPath(new string('t', 256)), """{"data":1}""");
        using var atLimit = await client.PostAsync(HubApi.EventsPath(new string('t', 255)), """{"data":1}""");

        await tooLong.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-topic");
        Assert.Equal(HttpStatusCode.Created, atLimit.StatusCode);
    }

    [Theory]
    [InlineData("""[{"data":1}]""")]
    [InlineData("""[{"topic":"","data":1}]""")]
    [InlineData("""[{"topic":"a b","data":1}]""")]
    public async Task PublishBatch_MissingOrInvalidTopic_Returns400InvalidTopic(string body)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/events", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-topic");
    }

    [Theory]
    [InlineData("switchboard.x")]
    [InlineData("switchboard.reset")]
    public async Task PublishOne_ReservedType_Returns400ReservedType(string type)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath("types"), $$$"""{"type":"{{{type}}}","data":{}}""");
        using var batch = await client.PostAsync("v1/events", $$"""[{"topic":"types","type":"{{type}}"}]""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "reserved-type");
        await batch.AssertProblemAsync(HttpStatusCode.BadRequest, "reserved-type");
        Assert.Equal(0, server.Hub.Log.HeadSeq);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("true")]
    [InlineData("{}")]
    [InlineData("[\"a\"]")]
    [InlineData("\"\"")]
    public async Task PublishOne_NonStringOrEmptyType_Returns400InvalidType(string type)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath("types"), $$$"""{"type":{{{type}}},"data":{}}""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-type");
    }

    [Theory]
    [InlineData("""{"type":"t","data":{},"extra":1}""")]
    [InlineData("""{"Type":"t"}""")]
    [InlineData("""{"topic":"other","data":{}}""")]
    public async Task PublishOne_UnknownProperty_Returns400InvalidBody(string body)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath("props"), body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
    }

    [Theory]
    [InlineData("{")]
    [InlineData("")]
    [InlineData("""{"data":}""")]
    [InlineData("""{"data":1} trailing""")]
    [InlineData("{'data':1}")]
    public async Task PublishOne_MalformedJson_Returns400MalformedJson(string body)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var one = await client.PostAsync(HubApi.EventsPath("json"), body);
        using var batch = await client.PostAsync("v1/events", body);

        await one.AssertProblemAsync(HttpStatusCode.BadRequest, "malformed-json");
        await batch.AssertProblemAsync(HttpStatusCode.BadRequest, "malformed-json");
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"data\":1}]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("null")]
    public async Task PublishOne_NonObjectBody_Returns400InvalidBody(string body)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath("shape"), body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
    }

    [Theory]
    [InlineData("""{"topic":"a","data":1}""")]
    [InlineData("[1]")]
    [InlineData("[\"a\"]")]
    [InlineData("""[{"topic":5,"data":1}]""")]
    public async Task PublishBatch_NonArrayOrNonObjectElements_Returns400InvalidBody(string body)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/events", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
    }

    [Fact]
    public async Task PublishBatch_Empty_Returns400InvalidBody()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/events", "[]");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
    }

    [Fact]
    public async Task PublishBatch_MoreThanMaxBatchEvents_Returns413BatchTooLarge()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxBatchEvents = 3);
        using var client = server.CreateClient();
        static string Batch(int count) => "[" + string.Join(",", Enumerable.Range(0, count).Select(n => $$$"""{"topic":"limit","data":{"n":{{{n}}}}}""")) + "]";

        using var tooMany = await client.PostAsync("v1/events", Batch(4));
        Assert.Empty((await client.PollAsync("topic=limit&after=earliest")).Events);
        var atLimit = await client.PublishBatchAsync(Batch(3));

        await tooMany.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "batch-too-large");
        Assert.Equal(3, atLimit.Count);
    }
}
