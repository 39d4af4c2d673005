using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StandardWebhooks;

namespace Switchboard.Client.Tests.Webhooks;

/// <summary>The filter on a real Kestrel, driven by real HTTP requests signed by the StandardWebhooks package.</summary>
public sealed class SwitchboardWebhookFilterTests
{
    private readonly string _secret = WebhookSigner.GenerateSecret();
    private readonly ConcurrentQueue<(WebhookDelivery Delivery, string RawBody)> _handled = new();

    private static string Body(int seq = 42, int id = 1) =>
        $$"""{"type":"order.created","timestamp":"2026-11-28T03:00:00.000Z","data":{"id":{{id}}},"seq":{{seq}},"topic":"orders"}""";

    private Task<ReceiverServer> StartAsync(Action<SwitchboardWebhookOptions>? configure = null, Func<WebhookDelivery, IResult>? answer = null) =>
        ReceiverServer.StartAsync(
            services => services.AddSwitchboardWebhooks(o =>
            {
                o.Secrets.Add(_secret);
                configure?.Invoke(o);
            }),
            app =>
            {
                // Takes the message as a parameter and reads the raw body again: both must work behind the filter.
                app.MapPost("/webhooks/switchboard", async (WebhookMessage message, WebhookDelivery delivery, HttpRequest request) =>
                {
                    using var reader = new StreamReader(request.Body, Encoding.UTF8);
                    var raw = await reader.ReadToEndAsync();
                    Assert.Same(message, delivery.Message);
                    _handled.Enqueue((delivery, raw));
                    return answer?.Invoke(delivery) ?? Results.NoContent();
                }).WithSwitchboardWebhookVerification();

                // A RequestDelegate-shaped handler that reads the delivery from the HttpContext.
                app.MapPost("/plain", (HttpContext context) =>
                {
                    _handled.Enqueue((context.GetSwitchboardWebhook()!, ""));
                    context.Response.StatusCode = 202;
                    return Task.CompletedTask;
                }).WithSwitchboardWebhookVerification();
            });

    private HttpRequestMessage Signed(string body, string id = "msg_ab12cd.42", DateTimeOffset? at = null, string path = "webhooks/switchboard", string? secret = null)
    {
        var timestamp = at ?? DateTimeOffset.UtcNow;
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookHeaders.Id, id);
        request.Headers.Add(WebhookHeaders.Timestamp, timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation(WebhookHeaders.Signature, new StandardWebhook(secret ?? _secret).Sign(id, timestamp, body));
        return request;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    [Fact]
    public async Task SignedDelivery_RunsTheHandlerWithTheMessageAndTheRawBody()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();

        using var response = await http.SendAsync(Signed(Body()));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var (delivery, raw) = Assert.Single(_handled);
        Assert.Equal("msg_ab12cd.42", delivery.Id);
        Assert.Equal(("order.created", "orders", 42L), (delivery.Message.Type, delivery.Message.Topic, delivery.Message.Seq));
        Assert.Equal(1, delivery.Message.Data.GetProperty("id").GetInt32());
        Assert.Equal(Body(), raw);
    }

    [Fact]
    public async Task RequestDelegateHandler_IsProtectedToo()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();

        using var ok = await http.SendAsync(Signed(Body(), path: "plain"));
        var tamperedRequest = Signed(Body(), id: "msg_2", path: "plain");
        tamperedRequest.Content = new StringContent(Body(id: 666), Encoding.UTF8, "application/json");
        using var tampered = await http.SendAsync(tamperedRequest);

        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        await ProblemAsync(tampered, HttpStatusCode.Unauthorized, "webhook-signature-mismatch");
        Assert.Equal("msg_ab12cd.42", Assert.Single(_handled).Delivery.Id);
    }

    [Fact]
    public async Task TamperedBody_Is401_AndTheHandlerDoesNotRun()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();
        var request = Signed(Body());
        request.Content = new StringContent(Body(id: 2), Encoding.UTF8, "application/json");

        using var response = await http.SendAsync(request);

        var problem = await ProblemAsync(response, HttpStatusCode.Unauthorized, "webhook-signature-mismatch");
        Assert.Equal("urn:switchboard:problem:webhook-signature-mismatch", problem.GetProperty("type").GetString());
        Assert.Empty(_handled);
    }

    [Fact]
    public async Task WrongSecret_Is401()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();

        using var response = await http.SendAsync(Signed(Body(), secret: WebhookSigner.GenerateSecret()));

        await ProblemAsync(response, HttpStatusCode.Unauthorized, "webhook-signature-mismatch");
        Assert.Empty(_handled);
    }

    [Fact]
    public async Task StaleTimestamp_Is401()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();

        using var response = await http.SendAsync(Signed(Body(), at: DateTimeOffset.UtcNow.AddMinutes(-10)));

        await ProblemAsync(response, HttpStatusCode.Unauthorized, "webhook-timestamp-too-old");
        Assert.Empty(_handled);
    }

    [Fact]
    public async Task MissingHeaders_Are400()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();

        using var response = await http.PostAsync("webhooks/switchboard", new StringContent(Body(), Encoding.UTF8, "application/json"));

        await ProblemAsync(response, HttpStatusCode.BadRequest, "webhook-missing-header");
        Assert.Empty(_handled);
    }

    [Fact]
    public async Task SignedButNotAWebhookMessage_Is400()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();

        using var response = await http.SendAsync(Signed("""{"hello":"world"}"""));

        await ProblemAsync(response, HttpStatusCode.BadRequest, "webhook-malformed-body");
    }

    [Fact]
    public async Task ReplayedId_IsAcknowledgedWith200_WithoutRunningTheHandlerAgain()
    {
        await using var server = await StartAsync();
        using var http = server.CreateClient();

        using var first = await http.SendAsync(Signed(Body()));
        using var replay = await http.SendAsync(Signed(Body())); // a fresh timestamp and signature: a sender's retry
        using var other = await http.SendAsync(Signed(Body(seq: 43), id: "msg_ab12cd.43"));

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
        Assert.Equal(["msg_ab12cd.42", "msg_ab12cd.43"], _handled.Select(h => h.Delivery.Id));
    }

    [Fact]
    public async Task FailedHandler_LetsTheRetryRunTheHandlerAgain()
    {
        var attempts = 0;
        await using var server = await StartAsync(answer: _ => Interlocked.Increment(ref attempts) == 1 ? Results.StatusCode(503) : Results.Ok());
        using var http = server.CreateClient();

        using var first = await http.SendAsync(Signed(Body()));
        using var retry = await http.SendAsync(Signed(Body()));
        using var duplicate = await http.SendAsync(Signed(Body()));

        Assert.Equal(
            (HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK, HttpStatusCode.OK),
            (first.StatusCode, retry.StatusCode, duplicate.StatusCode));
        Assert.Equal(2, _handled.Count);
    }

    [Fact]
    public async Task BodyOverTheLimit_Is413()
    {
        await using var server = await StartAsync(o => o.MaxBodyBytes = 64);
        using var http = server.CreateClient();
        var body = Body().Replace("\"id\":1", "\"id\":1,\"pad\":\"" + new string('x', 100) + "\"", StringComparison.Ordinal);

        using var known = await http.SendAsync(Signed(body));
        var chunkedRequest = Signed(body);
        chunkedRequest.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        chunkedRequest.Headers.TransferEncodingChunked = true;
        using var chunked = await http.SendAsync(chunkedRequest);

        await ProblemAsync(known, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await ProblemAsync(chunked, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Empty(_handled);
    }

    [Fact]
    public async Task RotatedSecrets_EitherSignatureIsAccepted()
    {
        var next = WebhookSigner.GenerateSecret();
        await using var server = await StartAsync(o => o.Secrets.Add(next));
        using var http = server.CreateClient();

        using var old = await http.SendAsync(Signed(Body(), id: "msg_1"));
        using var rotated = await http.SendAsync(Signed(Body(), id: "msg_2", secret: next));

        Assert.Equal((HttpStatusCode.NoContent, HttpStatusCode.NoContent), (old.StatusCode, rotated.StatusCode));
    }

    [Fact]
    public async Task NoSecretConfigured_FailsAtStart()
    {
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => ReceiverServer.StartAsync(
            services => services.AddSwitchboardWebhooks(),
            app => app.MapPost("/", () => "").WithSwitchboardWebhookVerification()));

        Assert.Contains("Secrets", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MessageParameterWithoutTheFilter_FailsLoudly()
    {
        await using var server = await ReceiverServer.StartAsync(
            services => services.AddSwitchboardWebhooks(o => o.Secrets.Add(_secret)),
            app => app.MapPost("/", (WebhookMessage message) => message.Type));
        using var http = server.CreateClient();

        using var response = await http.SendAsync(Signed(Body(), path: ""));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("WithSwitchboardWebhookVerification", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
