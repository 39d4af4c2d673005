using System.Net;
using System.Text;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.AspNetCore.Tests.Support;

/// <summary>One page of <c>GET /v1/events</c>.</summary>
internal sealed record PollPage(IReadOnlyList<JsonElement> Events, string Cursor, string Body)
{
    public IEnumerable<long> Seqs => Events.Select(e => e.GetProperty("seq").GetInt64());
}

/// <summary>Thin helpers over the hub's HTTP API; every call goes over a real socket.</summary>
internal static class HubApi
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<HttpResponseMessage> PostAsync(this HttpClient client, string path, string body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await client.SendAsync(request).Within();
    }

    public static string EventsPath(string topic, string prefix = "v1") => $"{prefix}/topics/{Uri.EscapeDataString(topic)}/events";

    /// <summary>Publishes one event and asserts 201; returns the event the hub echoed.</summary>
    public static async Task<JsonElement> PublishAsync(this HttpClient client, string topic, string body = """{"data":{}}""")
    {
        using var response = await client.PostAsync(EventsPath(topic), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {text}");
        return Parse(text);
    }

    /// <summary>Publishes a batch (a JSON array) and asserts 201; returns the events.</summary>
    public static async Task<IReadOnlyList<JsonElement>> PublishBatchAsync(this HttpClient client, string body)
    {
        using var response = await client.PostAsync("v1/events", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {text}");
        return [.. Parse(text).GetProperty("events").EnumerateArray()];
    }

    /// <summary>Publishes <paramref name="count"/> events to <paramref name="topic"/> with <c>data = {"n": i}</c>.</summary>
    public static async Task<IReadOnlyList<JsonElement>> PublishManyAsync(this HttpClient client, string topic, int count, int firstN = 0, int perBatch = 1000)
    {
        var all = new List<JsonElement>();
        for (var start = 0; start < count; start += perBatch)
        {
            var size = Math.Min(perBatch, count - start);
            var body = "[" + string.Join(",", Enumerable.Range(firstN + start, size).Select(n => $$$"""{"topic":"{{{topic}}}","data":{"n":{{{n}}}}}""")) + "]";
            all.AddRange(await client.PublishBatchAsync(body));
        }

        return all;
    }

    /// <summary>A poll that must answer 200.</summary>
    public static async Task<PollPage> PollAsync(this HttpClient client, string query, TimeSpan? timeout = null)
    {
        using var response = await client.GetAsync("v1/events?" + query).Within(timeout);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200 for ?{query}, got {(int)response.StatusCode}: {text}");
        return ToPage(text);
    }

    public static PollPage ToPage(string text)
    {
        var root = Parse(text);
        return new PollPage([.. root.GetProperty("events").EnumerateArray()], root.GetProperty("cursor").GetString()!, text);
    }

    /// <summary>The cursor of the current head for <paramref name="topic"/>: where "latest" stands now.</summary>
    public static async Task<string> CursorNowAsync(this HttpClient client, string topic) => (await client.PollAsync("topic=" + Uri.EscapeDataString(topic))).Cursor;

    /// <summary>Asserts an RFC 9457 problem with the hub's stable <c>code</c>; returns the problem document.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = Parse(text);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal($"urn:switchboard:problem:{code}", problem.GetProperty("type").GetString());
        return problem;
    }

    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public static int N(this JsonElement @event) => @event.GetProperty("data").GetProperty("n").GetInt32();

    public static long Seq(this JsonElement @event) => @event.GetProperty("seq").GetInt64();
}
