using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Http;

/// <summary>
/// HEAD answers what GET answers, without the body, on every document endpoint (RFC 9110 requires it of a server
/// that serves GET); the streams, whose GET never ends, answer 405 with <c>Allow: GET</c>.
/// </summary>
public sealed class HeadRequestTests
{
    [Theory]
    [InlineData("v1/health")]
    [InlineData("v1/events?topic=orders")]
    [InlineData("v1/webhooks")]
    [InlineData("v1/keys")]
    [InlineData("v1/topics/room.1/presence")]
    [InlineData("v1/client.js")]
    [InlineData("dashboard")]
    [InlineData("openapi/v1.json")]
    public async Task Head_AnswersGetsStatusAndHeaders_WithoutABody(string path)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("v1/topics/orders/events", new StringContent("""{"data":1}""", Encoding.UTF8, "application/json"));
        using var get = await client.GetAsync(path);

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(get.StatusCode, head.StatusCode);
        Assert.Equal(get.Content.Headers.ContentType?.MediaType, head.Content.Headers.ContentType?.MediaType);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Head_SendsNoBodyBytes_SoTheConnectionGoesOnWithTheNextRequest()
    {
        await using var server = await HubServer.StartAsync();
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, server.BaseAddress.Port);
        var stream = socket.GetStream();
        var requests = "HEAD /v1/events?topic=orders HTTP/1.1\r\nHost: hub\r\n\r\n" +
                       "HEAD /v1/client.js HTTP/1.1\r\nHost: hub\r\n\r\n" +
                       "GET /v1/health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(requests));

        using var reader = new StreamReader(stream, Encoding.ASCII);
        var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Three status lines, and the only body is the GET's: a HEAD body would sit where the next status line belongs.
        var responses = answer.Split("HTTP/1.1 ", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, responses.Length);
        Assert.All(responses, response => Assert.StartsWith("200 OK\r\n", response, StringComparison.Ordinal));
        Assert.EndsWith("\r\n\r\n", responses[0], StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", responses[1], StringComparison.Ordinal);
        Assert.Contains("\"status\":\"ok\"", responses[2], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1/stream?topic=orders")]
    [InlineData("v1/ws")]
    [InlineData("v1/jobs/job_1/stream")]
    public async Task Head_OnAStream_Is405_WithAllowGet(string path)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, head.StatusCode);
        Assert.Equal(["GET"], head.Content.Headers.Allow);
    }

    [Fact]
    public async Task TheAllowHeader_OfA405_ListsHead_BesideGet()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var delete = await client.DeleteAsync("v1/events");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, delete.StatusCode);
        Assert.Equal("GET, HEAD, POST", string.Join(", ", delete.Content.Headers.Allow));
    }
}
