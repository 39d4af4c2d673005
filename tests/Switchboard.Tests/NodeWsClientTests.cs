using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>A third-party WebSocket client (npm <c>ws</c>) speaking switchboard.v1 to the real server.</summary>
public sealed class NodeWsClientTests
{
    [Fact]
    public async Task WsClient_JoinsRoomPublishesAndReceivesItsMessage_ShapesMatchAndEventIsStored()
    {
        await using var server = await HubServer.StartAsync();

        var result = await NodeScript.RunAsync("ws-client.mjs", server.BaseAddress.ToString().TrimEnd('/'), "chat.node", "node-client");

        Assert.True(result.ExitCode == 0, $"ws-client.mjs failed:\n{result.Output}\n{result.Error}");
        using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
        var root = summary.RootElement;
        Assert.Equal("switchboard.v1", root.GetProperty("protocol").GetString());
        Assert.Equal(["node-client"], root.GetProperty("members").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(1000, root.GetProperty("closeCode").GetInt32());
        Assert.True(root.GetProperty("pong").GetBoolean());

        // What the script saw is what the hub stored, and its cursors are this hub's.
        using var client = server.CreateClient();
        using var page = JsonDocument.Parse(await client.GetStringAsync("v1/events?topic=chat.node&after=earliest").Within());
        var stored = Assert.Single(page.RootElement.GetProperty("events").EnumerateArray());
        Assert.Equal(stored.GetProperty("seq").GetInt64(), root.GetProperty("seq").GetInt64());
        Assert.Equal(stored.GetRawText(), root.GetProperty("event").GetRawText());
        Assert.Equal(page.RootElement.GetProperty("cursor").GetString(), root.GetProperty("eventCursor").GetString());
        Assert.Equal(server.Hub.FormatCursor(stored.GetProperty("seq").GetInt64() - 1), root.GetProperty("subscribeCursor").GetString());
    }
}
