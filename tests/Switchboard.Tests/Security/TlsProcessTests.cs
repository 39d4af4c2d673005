using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.Tests.Security;

/// <summary>
/// The whole stack over TLS: <c>switchboard serve</c> with Kestrel's own HTTPS endpoint configured from environment
/// variables and a PEM pair made here, then publish, long poll, SSE and WebSocket (<c>wss://</c>) with clients that
/// trust exactly that certificate.
/// </summary>
public sealed class TlsProcessTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly X509Certificate2 _certificate;
    private readonly string _certificatePath;

    public TlsProcessTests()
    {
        (_certificate, _certificatePath, KeyPath) = SelfSigned.WritePemPair(_directory.Path);
    }

    private string KeyPath { get; }

    public void Dispose()
    {
        _certificate.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Https_PublishLongPollSseAndWss_WorkEndToEnd_WithATestCertificate()
    {
        await using var server = await StartAsync(new Dictionary<string, string>());
        Assert.Equal("https", server.BaseAddress.Scheme);
        using var http = new HttpClient(PinnedHandler()) { BaseAddress = server.BaseAddress };

        // Publish over HTTPS.
        var published = await http.PostAsJsonAsync("v1/topics/tls.publish/events", new { data = new { over = "https" } });
        Assert.Equal(HttpStatusCode.Created, published.StatusCode);

        // Long poll over HTTPS: held from the head, answered by the next publish.
        var head = await HeadAsync(http);
        var poll = http.GetStringAsync($"v1/events?topic=tls.poll&after={head}&wait=30");
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("v1/topics/tls.poll/events", new { data = new { n = 1 } })).StatusCode);
        using (var polled = JsonDocument.Parse(await poll.Within(TimeSpan.FromSeconds(40))))
        {
            var only = Assert.Single(polled.RootElement.GetProperty("events").EnumerateArray());
            Assert.Equal(1, only.GetProperty("data").GetProperty("n").GetInt32());
        }

        // SSE over HTTPS.
        await using (var stream = await SseReader.OpenAsync(http, $"v1/stream?topic=tls.sse&after={await HeadAsync(http)}"))
        {
            Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("v1/topics/tls.sse/events", new { data = new { n = 2 } })).StatusCode);
            using var json = JsonDocument.Parse(await KeysAndTokenCliTests.NextEventAsync(stream));
            Assert.Equal("tls.sse", json.RootElement.GetProperty("topic").GetString());
        }

        // WebSocket over wss://, pinned to the test certificate: subscribe, publish, receive.
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("switchboard.v1");
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => IsTestCertificate(certificate);
        var wss = new UriBuilder(server.BaseAddress) { Scheme = "wss", Path = "/v1/ws" }.Uri;
        await socket.ConnectAsync(wss, CancellationToken.None).Within();
        await SendAsync(socket, new { op = "subscribe", id = "s1", topics = new[] { "chat.tls" } });
        Assert.Equal("ack", (await ReceiveAsync(socket, "ack")).GetProperty("op").GetString());
        await SendAsync(socket, new { op = "publish", id = "p1", topic = "chat.tls", data = new { over = "wss" } });
        var message = await ReceiveAsync(socket, "event");
        Assert.Equal("wss", message.GetProperty("event").GetProperty("data").GetProperty("over").GetString());
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).Within();

        // A client that does not trust the certificate is refused by its own TLS check: the server really speaks TLS.
        using var untrusting = new HttpClient { BaseAddress = server.BaseAddress };
        await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync("v1/health"));
    }

    [Fact]
    public async Task Https_NodeEventSource_TrustingTheCertificateThroughNodeExtraCaCerts_ResumesEveryEvent()
    {
        // Short streams, so the npm eventsource client reconnects over TLS too (sse-resume.mjs checks it did).
        await using var server = await StartAsync(new Dictionary<string, string>
        {
            ["Switchboard__Sse__MaxStreamDuration"] = "00:00:00.7",
            ["Switchboard__Sse__ReconnectDelay"] = "00:00:00.1",
        });

        var result = await NodeScript.RunAsync("sse-resume.mjs", new Dictionary<string, string> { ["NODE_EXTRA_CA_CERTS"] = _certificatePath },
            server.BaseAddress.ToString().TrimEnd('/'), "node.tls", "100");

        Assert.True(result.ExitCode == 0, $"sse-resume.mjs over https failed:\n{result.Output}\n{result.Error}\n--- server ---\n{server.Output}");
        using var summary = JsonDocument.Parse(result.Output.Trim().Split('\n')[^1]);
        Assert.Equal(100, summary.RootElement.GetProperty("received").GetInt32());
    }

    private Task<ServerProcess> StartAsync(Dictionary<string, string> environment)
    {
        // Kestrel's own configuration, as the README shows it; it replaces --urls, and reports the port it picked.
        // The paths are relative, as an operator types them: they mean the working directory (where the files are).
        environment["Kestrel__Endpoints__Https__Url"] = "https://127.0.0.1:0";
        environment["Kestrel__Endpoints__Https__Certificate__Path"] = Path.GetFileName(_certificatePath);
        environment["Kestrel__Endpoints__Https__Certificate__KeyPath"] = Path.GetFileName(KeyPath);
        return ServerProcess.StartAsync(_directory.Path, environment, "--store", "memory");
    }

    private bool IsTestCertificate(X509Certificate? certificate) =>
        certificate is not null && certificate.GetCertHashString(HashAlgorithmName.SHA256) == _certificate.GetCertHashString(HashAlgorithmName.SHA256);

    private HttpClientHandler PinnedHandler() => new() { ServerCertificateCustomValidationCallback = (_, certificate, _, _) => IsTestCertificate(certificate) };

    private static async Task<string> HeadAsync(HttpClient http)
    {
        using var health = JsonDocument.Parse(await http.GetStringAsync("v1/health"));
        return health.RootElement.GetProperty("cursor").GetString()!;
    }

    private static Task SendAsync(ClientWebSocket socket, object message) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, true, CancellationToken.None).Within();

    /// <summary>The next message with this <c>op</c>; an <c>error</c> fails the test with its text.</summary>
    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket, string op)
    {
        var buffer = new byte[64 * 1024];
        for (var i = 0; i < 50; i++)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, CancellationToken.None).Within();
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            var json = JsonDocument.Parse(message.ToArray()).RootElement.Clone();
            var kind = json.GetProperty("op").GetString();
            if (kind == "error")
            {
                throw new InvalidOperationException("The hub answered an error: " + Encoding.UTF8.GetString(message.ToArray()));
            }

            if (kind == op)
            {
                return json;
            }
        }

        throw new InvalidOperationException($"No {op} among 50 messages.");
    }
}

/// <summary>A self-signed certificate for 127.0.0.1 and localhost, made in the test and written as a PEM pair.</summary>
internal static class SelfSigned
{
    public static (X509Certificate2 Certificate, string CertificatePath, string KeyPath) WritePemPair(string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        var certificatePath = Path.Combine(directory, "cert.pem");
        var keyPath = Path.Combine(directory, "key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        return (certificate, certificatePath, keyPath);
    }
}
