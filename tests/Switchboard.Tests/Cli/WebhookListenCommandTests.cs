using System.Diagnostics;
using Switchboard.Testing;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using StandardWebhooks;
using Switchboard.Client;

namespace Switchboard.Tests.Cli;

/// <summary>
/// <c>switchboard webhook listen</c> as a user runs it, fed deliveries signed by the independent StandardWebhooks
/// package rather than by the kit it uses.
/// </summary>
public sealed class WebhookListenCommandTests
{
    private const string Body = """{"type":"order.created","timestamp":"2026-11-28T03:00:00.000Z","data":{ "id": 1, "total": 9.5 },"seq":42,"topic":"orders"}""";

    private readonly string _secret = WebhookSigner.GenerateSecret();

    private HttpRequestMessage Signed(string path, string id, string body, string? sentBody = null)
    {
        var now = DateTimeOffset.UtcNow;
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(sentBody ?? body, Encoding.UTF8, "application/json") };
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", new StandardWebhook(_secret).Sign(id, now, body));
        return request;
    }

    [Fact]
    public async Task Listen_PrintsVerifiedDeliveries_AndRejectsTamperedOnes()
    {
        await using var listener = await WebhookListenProcess.StartAsync("--port", "0", "--secret", _secret);
        using var http = new HttpClient { BaseAddress = listener.BaseAddress };

        using var verified = await http.SendAsync(Signed("webhooks/any/path", "msg_ab12cd.42", Body));
        var verifiedLine = await listener.LineAsync(line => line.StartsWith("verified ", StringComparison.Ordinal), "the verified line");
        using var tampered = await http.SendAsync(Signed("", "msg_ab12cd.43", Body, sentBody: Body.Replace("9.5", "0.5", StringComparison.Ordinal)));
        var rejectedLine = await listener.LineAsync(line => line.StartsWith("rejected: ", StringComparison.Ordinal), "the rejected line");
        using var unsigned = await http.PostAsync("", new StringContent(Body));

        Assert.Matches(@"^Listening for webhooks on http://127\.0\.0\.1:\d+/ \(answering 200\)$", listener.Lines[0]);
        Assert.Equal(HttpStatusCode.OK, verified.StatusCode);
        Assert.Equal("""verified msg_ab12cd.42 orders order.created seq=42 {"id":1,"total":9.5} -> answered 200""", verifiedLine);
        Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        Assert.Equal("application/problem+json", tampered.Content.Headers.ContentType?.MediaType);
        Assert.Equal("webhook-signature-mismatch", JsonDocument.Parse(await tampered.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Contains("No signature matches", rejectedLine, StringComparison.Ordinal);
        Assert.EndsWith(" -> answered 401", rejectedLine, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, unsigned.StatusCode);
        var missingLine = await listener.LineAsync(line => line.Contains("webhook-id header is missing", StringComparison.Ordinal), "the missing-header line");
        Assert.EndsWith(" -> answered 400", missingLine, StringComparison.Ordinal);
        Assert.Single(listener.Lines, line => line.StartsWith("verified ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listen_WithStatus503_AnswersVerifiedDeliveriesWith503_AndPrintsEveryRetry()
    {
        await using var listener = await WebhookListenProcess.StartAsync("--port", "0", "--secret", _secret, "--status", "503");
        using var http = new HttpClient { BaseAddress = listener.BaseAddress };

        using var first = await http.SendAsync(Signed("", "msg_ab12cd.42", Body));
        using var retry = await http.SendAsync(Signed("", "msg_ab12cd.42", Body));

        Assert.Equal((HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable), (first.StatusCode, retry.StatusCode));
        Assert.EndsWith("(answering 503)", listener.Lines[0], StringComparison.Ordinal);
        await Waiting.UntilAsync(() => listener.Lines.Count(line => line.StartsWith("verified msg_ab12cd.42 ", StringComparison.Ordinal)) == 2, "two verified lines");
        // Each line says what the hub got back, so a user sees the failures that make it retry.
        Assert.All(listener.Lines.Where(line => line.StartsWith("verified ", StringComparison.Ordinal)), line =>
            Assert.Equal("""verified msg_ab12cd.42 orders order.created seq=42 {"id":1,"total":9.5} -> answered 503""", line));
    }

    [Fact]
    public async Task Listen_InvalidSecret_ExitsWithAnError()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "switchboard.dll"), "webhook", "listen", "--port", "0", "--secret", "whsec_not base64!" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("not a valid secret", await stderr, StringComparison.Ordinal);
    }
}
