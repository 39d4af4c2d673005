using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests;

/// <summary>A third-party SSE client (npm <c>eventsource</c>) against the real server.</summary>
public sealed class NodeEventSourceTests
{
    [Fact]
    public async Task EventSource_DisconnectedByTheServer_ResumesWithLastEventIdAndGetsEveryEventOnce()
    {
        await using var server = await HubServer.StartAsync(o =>
        {
            o.Sse.MaxStreamDuration = TimeSpan.FromMilliseconds(700);
            o.Sse.ReconnectDelay = TimeSpan.FromMilliseconds(100);
        });

        var result = await NodeScript.RunAsync("sse-resume.mjs", server.BaseAddress.ToString().TrimEnd('/'), "node.resume", "200");

        Assert.True(result.ExitCode == 0, $"sse-resume.mjs failed:\n{result.Output}\n{result.Error}");
        using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
        Assert.Equal(200, summary.RootElement.GetProperty("received").GetInt32());
        Assert.True(summary.RootElement.GetProperty("opens").GetInt32() >= 2, "the server never cut the stream, so no resume was tested");
    }
}
