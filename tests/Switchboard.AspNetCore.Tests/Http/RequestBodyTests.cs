using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Http;

public sealed class RequestBodyTests
{
    private const int FiveMebibytes = 5 * 1024 * 1024;

    [Fact]
    public async Task PublishOne_FiveMebibyteBodyWithContentLength_Returns413AndServerKeepsServing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.PostAsync(HubApi.EventsPath("huge"), HugeEventJson());

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertStillServesAsync(client, "huge");
    }

    [Fact]
    public async Task PublishOne_FiveMebibyteChunkedBody_Returns413AndServerKeepsServing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var content = new ChunkedContent(System.Text.Encoding.UTF8.GetBytes(HugeEventJson()));
        using var response = await client.PostAsync(HubApi.EventsPath("huge"), content).Within();

        Assert.Null(content.Headers.ContentLength);
        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertStillServesAsync(client, "huge");
    }

    [Fact]
    public async Task PublishBatch_BodyOverMaxBatchBytes_Returns413AndServerKeepsServing()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        var element = $$"""{"topic":"huge","data":"{{new string('x', 1000)}}"}""";
        var body = "[" + string.Join(",", Enumerable.Repeat(element, FiveMebibytes / element.Length)) + "]";

        using var response = await client.PostAsync("v1/events", body);

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertStillServesAsync(client, "huge");
    }

    private static string HugeEventJson() => $$"""{"type":"t","data":"{{new string('x', FiveMebibytes)}}"}""";

    /// <summary>Nothing was appended, and the same client can still publish and poll.</summary>
    private static async Task AssertStillServesAsync(HttpClient client, string topic)
    {
        Assert.Empty((await client.PollAsync($"topic={topic}&after=earliest")).Events);
        var created = await client.PublishAsync(topic, """{"data":"small"}""");
        var polled = await client.PollAsync($"topic={topic}&after=earliest");
        Assert.Equal([created.Seq()], polled.Seqs);
    }

    /// <summary>A body of unknown length, so the client sends it with chunked transfer encoding.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var offset = 0; offset < bytes.Length; offset += 64 * 1024)
            {
                await stream.WriteAsync(bytes.AsMemory(offset, Math.Min(64 * 1024, bytes.Length - offset)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
