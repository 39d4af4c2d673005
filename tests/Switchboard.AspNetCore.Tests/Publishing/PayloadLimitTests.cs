using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Publishing;

public sealed class PayloadLimitTests
{
    [Fact]
    public async Task PublishOne_DataOverDefaultMaxEventBytes_Returns413AndAppendsNothing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        Assert.Equal(64 * 1024, server.Hub.Limits.MaxEventBytes);

        // 65,537 bytes of data: one over the limit, while the whole body stays within the envelope allowance.
        using var response = await client.PostAsync(HubApi.EventsPath("big"), $$"""{"data":"{{new string('x', 65_535)}}"}""");

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Empty((await client.PollAsync("topic=big&after=earliest")).Events);
        Assert.Equal(0, server.Hub.Log.HeadSeq);
    }

    [Fact]
    public async Task PublishOne_DataExactlyAtMaxEventBytes_Returns201()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        // A JSON string of 65,534 characters plus its quotes is exactly 64 KiB.
        var created = await client.PublishAsync("big", $$"""{"data":"{{new string('x', 65_534)}}"}""");

        Assert.Equal(65_534, created.GetProperty("data").GetString()!.Length);
    }

    [Fact]
    public async Task PublishOne_DataOverConfiguredMaxEventBytes_Returns413()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxEventBytes = 100);
        using var client = server.CreateClient();

        using var over = await client.PostAsync(HubApi.EventsPath("small"), $$"""{"data":"{{new string('x', 99)}}"}""");
        var atLimit = await client.PublishAsync("small", $$"""{"data":"{{new string('x', 98)}}"}""");

        await over.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Single((await client.PollAsync("topic=small&after=earliest")).Events);
        Assert.Equal(atLimit.Seq(), server.Hub.Log.HeadSeq);
    }

    [Fact]
    public async Task PublishOne_PrettyPrintedDataUnderLimitOnceCompacted_Returns201()
    {
        await using var server = await HubServer.StartAsync(o => o.Limits.MaxEventBytes = 100);
        using var client = server.CreateClient();
        // About 300 bytes as sent, 61 once compacted: the limit applies to what is stored.
        var pretty = "{\"data\": [" + string.Join(",", Enumerable.Range(0, 20).Select(i => $"\n      {i % 10}       ")) + "\n]}";

        var created = await client.PublishAsync("small", pretty);

        Assert.Equal(20, created.GetProperty("data").GetArrayLength());
    }
}
