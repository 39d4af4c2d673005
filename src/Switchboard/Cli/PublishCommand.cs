using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Switchboard.Cli;

/// <summary><c>switchboard publish &lt;topic&gt; &lt;json&gt;</c>: one POST, prints the stored event.</summary>
internal static class PublishCommand
{
    public static async Task<int> RunAsync(Uri server, string topic, string json, string? type, string? idempotencyKey, TextWriter output, TextWriter error, CancellationToken cancellationToken,
        string? credential = null)
    {
        JsonElement data;
        try
        {
            using var document = JsonDocument.Parse(json);
            data = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            await error.WriteLineAsync($"The data is not valid JSON: {ex.Message}");
            return 2;
        }

        var body = new Dictionary<string, object?> { ["data"] = data };
        if (type is not null)
        {
            body["type"] = type;
        }

        using var http = new HttpClient { BaseAddress = server };
        SwitchboardCommandLine.Authorize(http, credential);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/topics/{Uri.EscapeDataString(topic)}/events")
        {
            Content = new StringContent(JsonSerializer.Serialize(body, CliJsonContext.Default.DictionaryStringObject), Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                await error.WriteLineAsync($"{(int)response.StatusCode} {response.ReasonPhrase}: {text}");
                return 1;
            }

            await output.WriteLineAsync(text);
            return 0;
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"Cannot reach {server}: {ex.Message}");
            return 1;
        }
    }
}
