using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.AspNetCore.WebSockets;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.WebSockets;

/// <summary>What is refused before the upgrade: non-WebSocket requests, foreign origins, other subprotocols, full servers.</summary>
public sealed class WebSocketHandshakeTests
{
    [Fact]
    public async Task Get_WithoutUpgrade_Returns426Problem()
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.GetAsync("v1/ws").Within();

        await response.AssertProblemAsync((HttpStatusCode)426, "websocket-required");
        Assert.Equal("websocket", Assert.Single(response.Headers.Upgrade).Name); // RFC 9110: a 426 names the protocol to upgrade to
    }

    [Theory]
    [InlineData("8")]
    [InlineData("")]
    [InlineData("14")]
    public async Task Connect_OtherWebSocketVersion_Returns426_NamingVersion13(string version)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(UpgradeRequest(version: version)).Within();

        await response.AssertProblemAsync((HttpStatusCode)426, "unsupported-websocket-version");
        Assert.Equal("13", Assert.Single(response.Headers.GetValues("Sec-WebSocket-Version"))); // RFC 6455, section 4.4
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not base64!")]
    [InlineData("c2hvcnQ=")]
    public async Task Connect_MalformedKey_Returns400(string? key)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(UpgradeRequest(key: key ?? "")).Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-websocket-handshake");
        await using var socket = await HubSocket.ConnectAsync(server); // and a good handshake still works
        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Connect_UnknownSubprotocol_Returns400()
    {
        await using var server = await HubServer.StartAsync();

        var status = await HubSocket.RefusedStatusAsync(server, subProtocols: ["graphql-ws"]);
        using var client = server.CreateClient();
        using var response = await client.SendAsync(UpgradeRequest(protocol: "graphql-ws")).Within();

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "unsupported-subprotocol");
        // The detail says what to ask for instead.
        Assert.Contains("Ask for switchboard.v1", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_SwitchboardAmongOtherSubprotocols_NegotiatesSwitchboardV1()
    {
        await using var server = await HubServer.StartAsync();

        await using var socket = await HubSocket.ConnectAsync(server, subProtocols: ["graphql-ws", "switchboard.v1"]);

        Assert.Equal("switchboard.v1", socket.Socket.SubProtocol);
        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Connect_WithoutSubprotocol_IsAcceptedWithNone()
    {
        await using var server = await HubServer.StartAsync();

        await using var socket = await HubSocket.ConnectAsync(server, subProtocols: []);

        Assert.Null(socket.Socket.SubProtocol);
        await socket.AssertPingPongAsync();
    }

    [Theory]
    [InlineData("https://evil.example.com")]
    [InlineData("https://app.example.com.evil.example.com")]
    [InlineData("http://app.example.com")]
    [InlineData("http://localhost.evil.example.com")]
    [InlineData("null")]
    [InlineData("file://")]
    public async Task Connect_ForeignOrigin_Returns403BeforeUpgrade(string origin)
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.AllowedOrigins = ["https://app.example.com"]);

        var status = await HubSocket.RefusedStatusAsync(server, o => o.SetRequestHeader("Origin", origin));
        using var client = server.CreateClient();
        using var response = await client.SendAsync(UpgradeRequest(origin: origin)).Within();

        Assert.Equal(HttpStatusCode.Forbidden, status);
        await response.AssertProblemAsync(HttpStatusCode.Forbidden, "origin-not-allowed");
    }

    [Theory]
    [InlineData("http://localhost:3000")]
    [InlineData("http://127.0.0.1:8080")]
    [InlineData("http://[::1]:5173")]
    [InlineData("https://app.example.com")]
    [InlineData("https://APP.example.com")]
    public async Task Connect_LocalhostOrAllowListedOrigin_IsAccepted(string origin)
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.AllowedOrigins = ["https://app.example.com/"]);

        await using var socket = await HubSocket.ConnectAsync(server, configure: o => o.SetRequestHeader("Origin", origin));

        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Connect_AllowedOriginsWildcard_AcceptsAnyOrigin()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.AllowedOrigins = ["*"]);

        await using var socket = await HubSocket.ConnectAsync(server, configure: o => o.SetRequestHeader("Origin", "https://anything.example.org"));

        await socket.AssertPingPongAsync();
    }

    [Fact]
    public async Task Connect_OriginOfTheServersOwnHost_IsAcceptedAndAnotherHostIsNot()
    {
        await using var server = await HubServer.StartAsync();

        // The page was served by this hub under its public name: Host and Origin agree.
        using var same = await RawWebSocket.HandshakeAsync(server, headers: new Dictionary<string, string>
        {
            ["Host"] = "hub.example.com",
            ["Origin"] = "https://hub.example.com",
        });
        using var other = await RawWebSocket.HandshakeAsync(server, headers: new Dictionary<string, string>
        {
            ["Host"] = "hub.example.com",
            ["Origin"] = "https://other.example.com",
        });

        Assert.True(same.Status == 101, same.ResponseHead);
        Assert.True(other.Status == 403, other.ResponseHead);
    }

    [Theory]
    [InlineData("a%0Ab")]
    [InlineData("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    public async Task Connect_InvalidMemberName_Returns400(string escapedName)
    {
        await using var server = await HubServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(UpgradeRequest(query: "?name=" + escapedName)).Within();

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-name");
    }

    [Fact]
    public async Task Connect_OverMaxConnections_Returns503ProblemBeforeUpgradeUntilOneCloses()
    {
        await using var server = await HubServer.StartAsync(o => o.WebSockets.MaxConnections = 2);
        using var client = server.CreateClient();
        await using var first = await HubSocket.ConnectAsync(server);
        await using var second = await HubSocket.ConnectAsync(server);

        var status = await HubSocket.RefusedStatusAsync(server);
        using var response = await client.SendAsync(UpgradeRequest()).Within();
        await first.CloseAsync();
        await Waiting.UntilAsync(() => server.App.Services.GetRequiredService<WebSocketConnectionCounter>().Open == 1, "the first connection to be released");
        await using var third = await HubSocket.ConnectAsync(server);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        await response.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, "too-many-connections");
        Assert.Equal("5", Assert.Single(response.Headers.GetValues("Retry-After")));
        await second.AssertPingPongAsync();
        await third.AssertPingPongAsync();
    }

    /// <summary>A WebSocket upgrade request sent with HttpClient, to read the problem body of a refusal.</summary>
    private static HttpRequestMessage UpgradeRequest(string? origin = null, string protocol = HubSocket.SubProtocol, string query = "",
        string version = "13", string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "v1/ws" + query);
        request.Headers.TryAddWithoutValidation("Connection", "Upgrade");
        request.Headers.TryAddWithoutValidation("Upgrade", "websocket");
        if (version.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", version);
        }

        key ??= Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        if (key.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", key);
        }

        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Protocol", protocol);
        if (origin is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }

        return request;
    }
}
