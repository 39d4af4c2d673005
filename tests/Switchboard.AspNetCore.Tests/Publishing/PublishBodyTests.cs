using System.Text;
using Switchboard.AspNetCore.Publishing;
using Switchboard.Events;
using Switchboard.Problems;

namespace Switchboard.AspNetCore.Tests.Publishing;

/// <summary>
/// The one-pass body reader gives the answers of "parse the whole body, then read it": which error wins when several
/// apply, and the draft it builds.
/// </summary>
public sealed class PublishBodyTests
{
    private readonly LimitsOptions _options = new();

    private EventDraftValidator Drafts => new(() => _options);

    private static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);

    private SwitchboardException One(string json) => Assert.Throws<SwitchboardException>(() => PublishBody.ReadOne(Utf8(json), "orders", Drafts));

    private SwitchboardException Batch(string json) => Assert.Throws<SwitchboardException>(() => PublishBody.ReadBatch(Utf8(json), Drafts, _options.MaxBatchEvents));

    [Fact]
    public void ReadOne_ValidEvent_BuildsTheDraftWithMinifiedData()
    {
        var draft = PublishBody.ReadOne(Utf8("{ \"type\" : \"t\", \"data\" : { \"a\" : [ 1 , 2.0 ] } }"), "orders", Drafts);

        Assert.Equal(("orders", "t", "{\"a\":[1,2.0]}"), (draft.Topic, draft.Type, Encoding.UTF8.GetString(draft.Data.Span)));
    }

    [Theory]
    [InlineData("{}", "message", "null")]
    [InlineData("{\"data\":null}", "message", "null")]
    [InlineData("{\"type\":\"a\",\"type\":null}", "a", "null")]
    [InlineData("{\"data\":1,\"data\":[2]}", "message", "[2]")]
    [InlineData("{\"\\u0074ype\":\"escaped-name\"}", "escaped-name", "null")]
    public void ReadOne_Members_AreReadAsBefore(string json, string type, string data)
    {
        var draft = PublishBody.ReadOne(Utf8(json), "orders", Drafts);

        Assert.Equal((type, data), (draft.Type, Encoding.UTF8.GetString(draft.Data.Span)));
    }

    [Theory]
    [InlineData("", "malformed-json")]
    [InlineData("{\"data\":1} x", "malformed-json")]
    [InlineData("{\"data\":1}{}", "malformed-json")]
    // Refusals found before the syntax error still lose to it: the body was never JSON.
    [InlineData("[1, 2", "malformed-json")]
    [InlineData("{\"nope\":1, oops}", "malformed-json")]
    [InlineData("{\"type\":5, \"data\": [}", "malformed-json")]
    [InlineData("{\"data\":\"\\uD800\", ", "malformed-json")]
    [InlineData("[1]", "invalid-body")]
    [InlineData("\"event\"", "invalid-body")]
    [InlineData("{\"nope\":1}", "invalid-body")]
    [InlineData("{\"topic\":\"other\"}", "invalid-body")]
    [InlineData("{\"type\":5}", "invalid-type")]
    [InlineData("{\"type\":{}}", "invalid-type")]
    [InlineData("{\"type\":\"\"}", "invalid-type")]
    [InlineData("{\"type\":\"switchboard.x\"}", "reserved-type")]
    [InlineData("{\"type\":\"\\uD800\"}", "invalid-body")]
    [InlineData("{\"\\uD800\":1}", "invalid-body")]
    [InlineData("{\"data\":[\"\\uD800\"]}", "invalid-body")]
    // An unreadable data string is reported after the type, as when data was re-serialized last.
    [InlineData("{\"data\":[\"\\uD800\"],\"type\":\"switchboard.x\"}", "reserved-type")]
    // A later member's error comes first, and a later good data replaces an unreadable one.
    [InlineData("{\"data\":[\"\\uD800\"],\"nope\":1}", "invalid-body")]
    public void ReadOne_Refused_WithTheCodeOfParsingFirst(string json, string code) => Assert.Equal(code, One(json).Code);

    [Fact]
    public void ReadOne_UnreadableDataThenGoodData_IsAccepted()
    {
        var draft = PublishBody.ReadOne(Utf8("{\"data\":{\"x\":[\"\\uD800\"]},\"data\":\"fine\"}"), "orders", Drafts);

        Assert.Equal("\"fine\"", Encoding.UTF8.GetString(draft.Data.Span));
    }

    [Fact]
    public void ReadOne_NotUtf8_IsMalformedJson()
    {
        var problem = Assert.Throws<SwitchboardException>(() => PublishBody.ReadOne([(byte)'{', (byte)'"', 0xC3, (byte)'"', (byte)':', (byte)'1', (byte)'}'], "orders", Drafts));

        Assert.Equal("malformed-json", problem.Code);
    }

    [Fact]
    public void ReadOne_DataOverMaxEventBytes_IsPayloadTooLargeOnTheMinifiedSize()
    {
        _options.MaxEventBytes = 16;

        PublishBody.ReadOne(Utf8("{\"data\": [ 1, 2, 3, 4, 5, 6, 7 ] }"), "orders", Drafts);
        var problem = One("{\"data\":[1,2,3,4,5,6,7,8]}");

        Assert.Equal(("payload-too-large", "The event data is 17 bytes; the limit is 16."), (problem.Code, problem.Message));
    }

    [Fact]
    public void ReadBatch_Valid_BuildsEveryDraftInOrder()
    {
        var drafts = PublishBody.ReadBatch(Utf8("[{\"topic\":\"a\",\"data\":1}, {\"topic\":\"b\",\"type\":\"t\",\"data\":{ }}]"), Drafts, 10);

        Assert.Equal([("a", "message", "1"), ("b", "t", "{}")], drafts.Select(d => (d.Topic, d.Type, Encoding.UTF8.GetString(d.Data.Span))));
    }

    [Theory]
    [InlineData("{}", "invalid-body", "Invalid batch")]
    [InlineData("[]", "invalid-body", "Empty batch")]
    [InlineData("[{\"topic\":\"a\"}, 5]", "invalid-body", "Invalid event")]
    [InlineData("[{\"topic\":\"a\"}, {\"data\":1}]", "invalid-topic", "Invalid topic name")]
    [InlineData("[{\"topic\":5}]", "invalid-body", "Unknown property")]
    [InlineData("[{\"topic\":\"a\",\"type\":[]}]", "invalid-type", "Invalid event type")]
    [InlineData("[{\"topic\":\"\\uDC00\"}]", "invalid-body", "Invalid string")]
    [InlineData("[{\"topic\":\"a\"}, {\"topic\":\"a\",\"data\":[1,{\"b\":\"\\uD800\"}]}]", "invalid-body", "Invalid string")]
    [InlineData("[{\"topic\":\"a\",\"type\":5}, oops]", "malformed-json", "Malformed JSON")]
    public void ReadBatch_Refused_WithTheCodeOfParsingFirst(string json, string code, string title)
    {
        var problem = Batch(json);

        Assert.Equal((code, title), (problem.Code, problem.Title));
    }

    [Fact]
    public void ReadBatch_EventError_NamesTheFirstBadEventOnly()
    {
        var problem = Batch("[{\"topic\":\"a\"}, {\"topic\":\"a\",\"type\":\"switchboard.x\"}, {\"topic\":\"bad topic\"}]");

        Assert.Equal("reserved-type", problem.Code);
        Assert.StartsWith("Event 1: ", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadBatch_OverMaxBatchEvents_OutranksAnEarlierEventError()
    {
        _options.MaxBatchEvents = 3;

        var problem = Batch("[{\"topic\":\"bad topic\"}, {\"topic\":\"a\"}, {\"topic\":\"a\"}, {\"topic\":\"a\"}]");

        Assert.Equal(("batch-too-large", "The batch has 4 events; the limit is 3."), (problem.Code, problem.Message));
    }

    [Fact]
    public void ReadBatch_OverMaxBatchEvents_StillNeedsTheRestToParse()
    {
        _options.MaxBatchEvents = 1;

        Assert.Equal("malformed-json", Batch("[{\"topic\":\"a\"}, {\"topic\":\"a\"}, {\"topic\" \"a\"}]").Code);
    }
}
