using System.Net;
using Microsoft.Extensions.DependencyInjection;
using StandardWebhooks.Diagnostics;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;
using Switchboard.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>SSRF refusals (at creation and at connect time) and secret rotation.</summary>
public sealed class WebhookSecurityTests
{
    private static Action<SwitchboardOptions> HttpWithoutAllowList => o => o.Webhooks.AllowHttp = true;

    [Theory]
    [InlineData("http://10.1.2.3/hook", "private")]
    [InlineData("http://192.168.0.10/hook", "private")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "metadata")]
    [InlineData("http://[::1]:8080/hook", "loopback")]
    [InlineData("http://[fd00::1]/hook", "unique local")]
    [InlineData("http://100.64.0.1/hook", "carrier-grade NAT")]
    [InlineData("http://127.0.0.1:9/hook", "loopback")]
    public async Task Create_RefusesNonPublicAddresses_WithAClearReason(string url, string reason)
    {
        await using var server = await HubServer.StartAsync(HttpWithoutAllowList);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/webhooks", $$"""{"url":"{{url}}","topics":["orders"]}""");

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "forbidden-url");
        Assert.Contains(reason, problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Create_Refusal_SaysWhatTheAddressIs_AndWhatToConfigure_InOneSentence()
    {
        await using var server = await HubServer.StartAsync(HttpWithoutAllowList);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/webhooks", """{"url":"http://127.0.0.1:9/hook","topics":["orders"]}""");

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "forbidden-url");
        Assert.Equal(
            "'127.0.0.1' resolves to 127.0.0.1, a loopback address: webhooks may only reach public addresses unless Switchboard:Webhooks:AllowedNetworks lists it.",
            problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Create_RefusesAHostnameThatResolvesToLoopback_UnlessAllowListed()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var url = $"http://localhost:{receiver.BaseAddress.Port}/hook";
        await using (var server = await HubServer.StartAsync(HttpWithoutAllowList))
        {
            using var client = server.CreateClient();
            using var response = await client.PostAsync("v1/webhooks", $$"""{"url":"{{url}}","topics":["orders"]}""");
            var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "forbidden-url");
            Assert.Contains("loopback", problem.GetProperty("detail").GetString());
        }

        await using (var server = await HubServer.StartAsync(o =>
        {
            o.Webhooks.AllowHttp = true;
            o.Webhooks.AllowedNetworks.AddRange(["127.0.0.0/8", "::1/128"]);
        }))
        {
            using var client = server.CreateClient();
            await client.CreateWebhookAsync($$"""{"url":"{{url}}","topics":["orders"]}""");
            await client.PublishAsync("orders");
            await Waiting.UntilAsync(() => receiver.Received.Count == 1, "the delivery through the allow-list");
        }
    }

    [Fact]
    public async Task Delivery_RefusesAHostThatRebindsToLoopbackAfterCreation()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var resolver = new RebindingResolver();
        await using var server = await HubServer.StartAsync(
            WebhookKit.Options(w => w.AllowedNetworks.Clear()),
            services: s => s.AddSingleton<WebhookHostResolver>(resolver));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync($$"""{"url":"http://rebind.example:{{receiver.BaseAddress.Port}}/hook","topics":["orders"]}""");

        await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => client.AttemptsAsync(webhook.Id()).Result.Count > 0, "the first attempt");

        var attempt = (await client.AttemptsAsync(webhook.Id()))[^1];
        Assert.Equal("failed", attempt.GetProperty("status").GetString());
        Assert.Contains("refused", attempt.GetProperty("error").GetString());
        Assert.Contains("loopback", attempt.GetProperty("error").GetString());
        Assert.Empty(receiver.Received);
        Assert.True(resolver.Calls >= 2, "the host must be resolved again at connect time");
    }

    [Fact]
    public async Task Http_IsRefusedWhenNotAllowed()
    {
        await using var server = await HubServer.StartAsync(o => o.Webhooks.AllowHttp = false);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/webhooks", """{"url":"http://example.com/hook","topics":["orders"]}""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "insecure-url");
    }

    [Theory]
    [InlineData("Development", HttpStatusCode.Created)]
    [InlineData("Production", HttpStatusCode.BadRequest)]
    public async Task Http_ByDefault_IsAllowedInDevelopmentOnly(string environment, HttpStatusCode expected)
    {
        await using var server = await HubServer.StartAsync(o => o.Webhooks.AllowedNetworks.Add("127.0.0.0/8"), sqlite: false, environmentName: environment);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/webhooks", """{"url":"http://127.0.0.1:9/hook","topics":["orders"]}""");

        Assert.Equal(expected, response.StatusCode);
        using var secure = await client.PostAsync("v1/webhooks", """{"url":"https://127.0.0.1:9/hook","topics":["orders"]}""");
        Assert.Equal(HttpStatusCode.Created, secure.StatusCode);
    }

    [Fact]
    public async Task HttpsReceiver_GetsSignedDeliveries_AndAnUntrustedCertificateIsAFailedAttempt()
    {
        using var certificate = SelfSignedLoopbackCertificate();
        await using var receiver = await WebhookReceiver.StartAsync(certificate);
        Assert.Equal("https", receiver.BaseAddress.Scheme);
        await using var server = await HubServer.StartAsync(
            WebhookKit.Options(w => w.AllowHttp = false),
            services: s => s.AddSingleton(sp => new Switchboard.Webhooks.WebhookSender(
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<WebhookOptions>>(),
                sp.GetRequiredService<WebhookHostResolver>(),
                TimeProvider.System,
                (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString())));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");

        await client.PublishAsync("orders");
        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 1, "the delivery over TLS");
        Assert.Single(receiver.Received).AssertVerifies(webhook.Secret());

        // The certificate check is real: a receiver with a certificate the hub does not trust gets nothing.
        using var otherCertificate = SelfSignedLoopbackCertificate();
        await using var impostor = await WebhookReceiver.StartAsync(otherCertificate);
        var untrusted = await client.CreateWebhookAsync(impostor, "orders");
        var attempt = await client.PostWebhookAsync($"v1/webhooks/{untrusted.Id()}/test");
        Assert.Empty(impostor.Received);
        Assert.Equal("failed", attempt.GetProperty("status").GetString());
        Assert.Contains("TLS", attempt.GetProperty("error").GetString());
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 SelfSignedLoopbackCertificate()
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            "CN=127.0.0.1", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Kestrel on Linux wants the private key in a form it can hand to the TLS stack: round-trip through PKCS#12.
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
            created.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
    }

    [Fact]
    public async Task RotatedSecret_BothSignDuringTheGracePeriod_ThenOnlyTheNewOne()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var grace = TimeSpan.FromSeconds(1);
        await using var server = await HubServer.StartAsync(WebhookKit.Options(w => w.SecretRotationGrace = grace));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        var oldSecret = webhook.Secret();

        var rotated = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/rotate-secret");
        var newSecret = rotated.Secret();
        Assert.NotEqual(oldSecret, newSecret);
        Assert.False((await client.GetWebhookAsync(webhook.Id())).TryGetProperty("secret", out _), "the secret is shown only at creation and rotation");

        await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => receiver.Received.Count == 1, "a delivery in the grace period");
        var during = receiver.Received[0];
        Assert.Equal(2, during.Signature.Split(' ').Length);
        during.AssertVerifies(oldSecret);
        during.AssertVerifies(newSecret);

        var expires = rotated.GetProperty("previousSecretExpiresAt").GetDateTimeOffset();
        await Waiting.UntilAsync(() => DateTimeOffset.UtcNow > expires, "the grace period to end");
        await client.PublishAsync("orders");
        await Waiting.UntilAsync(() => receiver.Received.Count == 2, "a delivery after the grace period");
        var after = receiver.Received[1];
        Assert.Single(after.Signature.Split(' '));
        after.AssertVerifies(newSecret);
        Assert.Throws<WebhookVerificationException>(() => after.AssertVerifies(oldSecret));
    }

    [Fact]
    public async Task Secrets_AreNeverLogged_NorShownOutsideCreationAndRotation()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => new ReceiverAnswer(410);
        var logs = new LogCapture();
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), services: s => s.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync($$"""{"url":"http://user:hunter2@127.0.0.1:{{receiver.BaseAddress.Port}}/hook","topics":["orders"]}""");
        var rotated = await client.PostWebhookAsync($"v1/webhooks/{webhook.Id()}/rotate-secret");

        await client.PublishAsync("orders");
        await client.WaitForWebhookAsync(webhook.Id(), w => w.GetProperty("status").GetString() == "disabled", "the 410 to disable it");

        Assert.Contains(logs.Entries, e => e.Message.Contains(webhook.Id(), StringComparison.Ordinal)); // the hub did log about it
        foreach (var secret in new[] { webhook.Secret(), rotated.Secret(), "hunter2" })
        {
            Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(secret, StringComparison.Ordinal));
        }

        var listed = await (await client.GetAsync("v1/webhooks")).Content.ReadAsStringAsync();
        Assert.DoesNotContain("whsec_", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", listed, StringComparison.Ordinal);
        Assert.Contains("http://user:***@127.0.0.1:", listed, StringComparison.Ordinal);
        var attempts = await client.AttemptsAsync(webhook.Id());
        Assert.DoesNotContain("whsec_", string.Join("", attempts), StringComparison.Ordinal);
        Assert.Equal("Basic", receiver.Received[0].Headers["authorization"].Split(' ')[0]);
    }

    /// <summary>A DNS server that answers with a public address first and with loopback afterwards.</summary>
    private sealed class RebindingResolver : WebhookHostResolver
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public override Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
            Task.FromResult<IPAddress[]>(Interlocked.Increment(ref _calls) == 1 ? [IPAddress.Parse("93.184.215.14")] : [IPAddress.Loopback]);
    }
}
