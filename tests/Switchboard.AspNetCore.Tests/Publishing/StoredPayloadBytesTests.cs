using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.Tests.WebSockets;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Publishing;

/// <summary>
/// The bytes a publish stores and serves, pinned: every expectation below was captured from the hub before the publish path
/// stopped building a JsonDocument (it re-serialized <c>data</c> compactly with relaxed escaping), so a change to how the
/// payload is read must keep them byte for byte, over HTTP single, HTTP batch and WebSocket publish alike.
/// </summary>
public sealed class StoredPayloadBytesTests
{
    public static TheoryData<string, string, string> Payloads => new()
    {
        {
            "pretty object with escapes",
            "{\n  \"caf\\u00e9\" : \"\\u00e9t\\u00E9 \\ud83c\\udf89 \\u0041\\/\\\\ \\\" \\b\\f\\n\\r\\t \\u0001 \\u001f \\u007f\",\n\t\"raw\": \"héllo ✓ 日本語 🎉 <>&' \u2028\u2029\"\r\n}",
            "{\"caf\u00e9\":\"\u00e9t\u00e9 \\uD83C\\uDF89 A/\\\\ \\\" \\b\\f\\n\\r\\t \\u0001 \\u001F \\u007F\",\"raw\":\"h\u00e9llo \u2713 \u65e5\u672c\u8a9e \\uD83C\\uDF89 <>&' \\u2028\\u2029\"}"
        },
        {
            "numbers kept as written",
            "[ 1.0, 1e3, 1E+3, -0, 0.10, -1.5e-7, 12345678901234567890, 1.000000000000000000001e400 ]",
            "[1.0,1e3,1E+3,-0,0.10,-1.5e-7,12345678901234567890,1.000000000000000000001e400]"
        },
        {
            "nested arrays",
            "[ [ ], [ [ [ ] ] ], [1, [2, [3, [ {\"a\" : [ null, true, false ] } ] ] ] ], { } ]",
            "[[],[[[]]],[1,[2,[3,[{\"a\":[null,true,false]}]]]],{}]"
        },
        {
            "escaped names and html",
            "{ \"\\u003cscript\\u003e\": \"\\u003c/script\\u003e\", \"a\\u0000b\": 1, \"\\u2028\": \"\\u2028\", \"dup\": 1, \"dup\": 2 }",
            "{\"<script>\":\"</script>\",\"a\\u0000b\":1,\"\\u2028\":\"\\u2028\",\"dup\":1,\"dup\":2}"
        },
        {
            "scalar string with escapes",
            "\"line\\nbreak \\u00ff \\uFFFF \\uDBFF\\uDFFF\"",
            "\"line\\nbreak \u00ff \\uFFFF \\uDBFF\\uDFFF\""
        },
    };

    [Theory]
    [MemberData(nameof(Payloads))]
    public async Task Publish_SameData_StoredAndServedBytesAreTheCapturedOnes(string name, string data, string expected)
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "switchboard.db");
        await using var server = await HubServer.StartAsync(sqlitePath: path);
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);

        var single = await client.PublishAsync("chat.bytes", $$"""{"type":"t","data":{{data}}}""");
        await client.PublishBatchAsync($$"""[{"topic":"chat.bytes","type":"t","data":{{data}}}]""");
        var ack = await socket.RequestAsync($$"""{"op":"publish","id":"p","topic":"chat.bytes","type":"t","data":{{data}}}""");
        Assert.True(ack.Op() == "ack", $"{name}: {ack.GetRawText()}");

        var polled = await client.PollAsync("topic=chat.bytes&after=earliest");
        var served = polled.Events.Select(e => e.GetProperty("data").GetRawText()).ToList();
        var stored = await StoredDataAsync(path);

        Assert.Equal(expected, single.GetProperty("data").GetRawText());
        Assert.Equal([expected, expected, expected], served);
        Assert.Equal([expected, expected, expected], stored);
    }

    /// <summary>
    /// A lone surrogate escape is legal JSON but not text; re-serializing <c>data</c> unescapes it, so the hub has always
    /// refused it there (400 invalid-body over HTTP, invalid_message over WebSocket) rather than store something else.
    /// </summary>
    [Fact]
    public async Task Publish_LoneSurrogateInData_IsRefusedAndStoresNothing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await using var socket = await HubSocket.ConnectAsync(server);
        const string data = """{"ok":["\uD800x"]}""";

        using var single = await client.PostAsync(HubApi.EventsPath("chat.lone"), $$"""{"data":{{data}}}""");
        using var batch = await client.PostAsync("v1/events", $$"""[{"topic":"chat.lone","data":{{data}}}]""");
        var ws = await socket.RequestAsync($$"""{"op":"publish","id":"p","topic":"chat.lone","data":{{data}}}""");

        await single.AssertProblemAsync(System.Net.HttpStatusCode.BadRequest, "invalid-body");
        await batch.AssertProblemAsync(System.Net.HttpStatusCode.BadRequest, "invalid-body");
        Assert.Equal(("error", "invalid_message", "p"), (ws.Op(), ws.Str("code"), ws.Str("id")));
        Assert.Equal(0, server.Hub.Log.HeadSeq);
    }

    /// <summary>The data column as the file holds it, read on a connection of its own.</summary>
    private static async Task<List<string>> StoredDataAsync(string path)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT data FROM events ORDER BY seq";
        await using var reader = await command.ExecuteReaderAsync();
        var all = new List<string>();
        while (await reader.ReadAsync())
        {
            var bytes = (byte[])reader.GetValue(0);
            Assert.True(System.Text.Unicode.Utf8.IsValid(bytes));
            all.Add(Encoding.UTF8.GetString(bytes));
        }

        return all;
    }
}
