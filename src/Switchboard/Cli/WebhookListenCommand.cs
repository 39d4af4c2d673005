using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.WebUtilities;
using Switchboard.Client;

namespace Switchboard.Cli;

/// <summary>What <c>switchboard webhook listen</c> was asked for.</summary>
internal sealed record WebhookListenSettings(string Host, int Port, string Secret, int Status);

/// <summary>
/// <c>switchboard webhook listen</c>: a local webhook receiver for trying out a subscription. Every POST, on any
/// path, is verified with the receiver kit and printed as one line that ends with the status answered
/// (<c>-&gt; answered 503</c>); verified ones get the chosen status, so a status of 503 shows the hub's retries.
/// No replay guard: every retry is printed.
/// </summary>
internal static class WebhookListenCommand
{
    /// <summary>The largest body read; the hub's events are far smaller.</summary>
    public const int MaxBodyBytes = SwitchboardWebhookOptions.DefaultMaxBodyBytes;

    public static async Task<int> RunAsync(WebhookListenSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        WebhookVerifier verifier;
        try
        {
            verifier = new WebhookVerifier(settings.Secret);
        }
        catch (ArgumentException)
        {
            await error.WriteLineAsync("webhook listen: --secret is not a valid secret: 'whsec_' followed by base64 (or the base64 alone).");
            return 2;
        }

        await using var app = Build(settings, verifier, new LineWriter(output));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        await output.WriteLineAsync($"Listening for webhooks on {address}/ (answering {settings.Status})");
        await output.FlushAsync(cancellationToken);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    private static WebApplication Build(WebhookListenSettings settings, WebhookVerifier verifier, LineWriter output)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders(); // the printed lines are the output
        var host = settings.Host.Contains(':', StringComparison.Ordinal) && !settings.Host.StartsWith('[') ? $"[{settings.Host}]" : settings.Host;
        builder.WebHost.UseUrls(string.Create(CultureInfo.InvariantCulture, $"http://{host}:{settings.Port}"));
        var app = builder.Build();
        app.MapPost("/{**path}", (HttpContext context) => ReceiveAsync(context, verifier, settings.Status, output));
        return app;
    }

    private static async Task ReceiveAsync(HttpContext context, WebhookVerifier verifier, int status, LineWriter output)
    {
        var request = context.Request;
        try
        {
            var body = await ReadBodyAsync(request, context.RequestAborted);
            var verified = verifier.Verify(request.Headers[WebhookHeaders.Id], request.Headers[WebhookHeaders.Timestamp], request.Headers[WebhookHeaders.Signature], body);
            var message = WebhookMessage.Parse(body);
            var data = JsonSerializer.Serialize(message.Data, CliJsonContext.Default.JsonElement); // compact: one line
            context.Response.StatusCode = status;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"verified {verified.Id} {message.Topic} {message.Type} seq={message.Seq} {data} {Answered(status)}"));
        }
        catch (WebhookVerificationException failure)
        {
            output.WriteLine($"rejected: {failure.Message} {Answered(failure.StatusCode)}");
            context.Response.StatusCode = failure.StatusCode;
            context.Response.ContentType = "application/problem+json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
            writer.WriteStartObject();
            writer.WriteString("type", "urn:switchboard:problem:" + failure.Code);
            writer.WriteString("title", ReasonPhrases.GetReasonPhrase(failure.StatusCode));
            writer.WriteNumber("status", failure.StatusCode);
            writer.WriteString("detail", failure.Message);
            writer.WriteString("code", failure.Code);
            writer.WriteEndObject();
        }
    }

    /// <summary>The end of each printed line: what the hub got back, so <c>--status 503</c> shows its failures.</summary>
    private static string Answered(int status) => string.Create(CultureInfo.InvariantCulture, $"-> answered {status}");

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            throw TooLarge();
        }

        using var collected = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (collected.Length + read > MaxBodyBytes)
            {
                throw TooLarge();
            }

            collected.Write(chunk, 0, read);
        }

        return collected.ToArray();
    }

    private static WebhookVerificationException TooLarge() =>
        new(WebhookVerificationFailure.BodyTooLarge, $"The body is larger than the limit of {MaxBodyBytes} bytes.");

    /// <summary>Writes whole lines, one request at a time, flushed so a pipe sees each at once.</summary>
    private sealed class LineWriter(TextWriter output)
    {
        private readonly Lock _gate = new();

        public void WriteLine(string line)
        {
            lock (_gate)
            {
                output.WriteLine(line);
                output.Flush();
            }
        }
    }
}
