using System.Net;
using Switchboard.AspNetCore.Tests.Support;
using Switchboard.Testing;
using Switchboard.Testing.Webhooks;

namespace Switchboard.AspNetCore.Tests.Webhooks;

/// <summary>The endpoints API: validation, listing, changes and deletion.</summary>
public sealed class WebhookApiTests
{
    [Theory]
    [InlineData("""{"topics":["orders"]}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h"}""", "missing-topic")]
    [InlineData("""{"url":"ftp://example.com/h","topics":["orders"]}""", "invalid-url")]
    [InlineData("""{"url":"not a url","topics":["orders"]}""", "invalid-url")]
    [InlineData("""{"url":"https://example.com/h","topics":["bad topic"]}""", "invalid-pattern")]
    [InlineData("""{"url":"https://example.com/h","topics":[]}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h","topics":["orders"],"maxInFlight":0}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h","topics":["orders"],"maxInFlight":1000}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h","topics":["orders"],"mode":"fast"}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h","topics":["orders"],"mode":"ordered","maxInFlight":5}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h","topics":["orders"],"rateLimit":{"perSecond":0}}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h","topics":["orders"],"after":"garbage"}""", "invalid-cursor")]
    [InlineData("""{"url":"https://example.com/h","topics":["orders"],"secret":"mine"}""", "invalid-body")]
    [InlineData("""{"url":"https://example.com/h",""", "malformed-json")]
    [InlineData("""[1,2]""", "invalid-body")]
    public async Task Create_RejectsBadInput_WithAProblem(string body, string code)
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/webhooks", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
        Assert.Empty(HubApi.Parse(await (await client.GetAsync("v1/webhooks")).Content.ReadAsStringAsync()).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task Answers_WriteSecretsPatternsAndText_AsTheyAre_NotAsUnicodeEscapes()
    {
        // A newcomer copies the secret out of the create answer into `webhook listen --secret`: a "+" written as
        // \u002B (about every second secret has one) made that secret a different one.
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        using var created = await client.PostAsync("v1/webhooks", $$"""{"url":"{{receiver.Url}}","topics":["orders.>"],"description":"a+b <c> & 'd'"}""");
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        var id = HubApi.Parse(text).Id();
        string[] answers = [text, await client.GetStringAsync($"v1/webhooks/{id}"), await client.GetStringAsync("v1/webhooks")];
        for (var i = 0; i < 8; i++)
        {
            using var rotated = await client.PostAsync($"v1/webhooks/{id}/rotate-secret", "{}");
            answers = [.. answers, await rotated.Content.ReadAsStringAsync()];
        }

        foreach (var answer in answers)
        {
            Assert.Contains("\"orders.>\"", answer, StringComparison.Ordinal);
            Assert.Contains("\"a+b <c> & 'd'\"", answer, StringComparison.Ordinal);
            Assert.DoesNotContain("\\u00", answer, StringComparison.Ordinal);
            if (HubApi.Parse(answer).TryGetProperty("secret", out var secret))
            {
                Assert.Contains($"\"secret\":\"{secret.GetString()}\"", answer, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task UnknownEndpoint_Is404_AndWrongMethodIs405()
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        await (await client.GetAsync("v1/webhooks/wh_nope")).AssertProblemAsync(HttpStatusCode.NotFound, "webhook-not-found");
        await (await client.DeleteAsync("v1/webhooks/wh_nope")).AssertProblemAsync(HttpStatusCode.NotFound, "webhook-not-found");
        await (await client.PatchAsync("v1/webhooks/wh_nope", HubApi.Json("{}"))).AssertProblemAsync(HttpStatusCode.NotFound, "webhook-not-found");
        await (await client.PostAsync("v1/webhooks/wh_nope/test", "{}")).AssertProblemAsync(HttpStatusCode.NotFound, "webhook-not-found");
        await (await client.GetAsync("v1/webhooks/wh_nope/attempts")).AssertProblemAsync(HttpStatusCode.NotFound, "webhook-not-found");
        using var put = await client.PutAsync("v1/webhooks/wh_nope", HubApi.Json("{}"));
        await put.AssertProblemAsync(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal("GET, HEAD, PATCH, DELETE", put.Content.Headers.Allow.Count > 0 ? string.Join(", ", put.Content.Headers.Allow) : put.Headers.GetValues("Allow").Single());
    }

    [Fact]
    public async Task Patch_ChangesWhatIsDelivered_AndDeleteStopsDeliveries()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"description\":\"shop\"");
        Assert.Equal("shop", webhook.GetProperty("description").GetString());

        var list = HubApi.Parse(await (await client.GetAsync("v1/webhooks")).Content.ReadAsStringAsync()).GetProperty("data");
        var listed = Assert.Single(list.EnumerateArray());
        Assert.Equal(webhook.Id(), listed.Id());
        Assert.False(listed.TryGetProperty("secret", out _));

        using (var patch = await client.PatchAsync($"v1/webhooks/{webhook.Id()}", HubApi.Json("""{"topics":["invoices"],"types":["invoice.paid"],"description":null}""")))
        {
            var text = await patch.Content.ReadAsStringAsync();
            Assert.True(patch.StatusCode == HttpStatusCode.OK, text);
            var patched = HubApi.Parse(text);
            Assert.Equal(["invoices"], patched.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
            Assert.Equal(JsonValueKindNull, patched.GetProperty("description").ValueKind);
        }

        await (await client.PatchAsync($"v1/webhooks/{webhook.Id()}", HubApi.Json("""{"url":"http://10.0.0.1/"}"""))).AssertProblemAsync(HttpStatusCode.BadRequest, "forbidden-url");
        await client.PublishAsync("orders", """{"type":"order.created","data":{"n":1}}""");
        await client.PublishAsync("invoices", """{"type":"invoice.sent","data":{"n":2}}""");
        await client.PublishAsync("invoices", """{"type":"invoice.paid","data":{"n":3}}""");
        await Waiting.UntilAsync(() => receiver.Received.Count == 1, "the invoice");
        Assert.Equal(3, receiver.Received[0].Json.GetProperty("data").GetProperty("n").GetInt32());

        using var deleted = await client.DeleteAsync($"v1/webhooks/{webhook.Id()}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await (await client.GetAsync($"v1/webhooks/{webhook.Id()}")).AssertProblemAsync(HttpStatusCode.NotFound, "webhook-not-found");

        // A witness created afterwards proves the next event was published and would have been delivered.
        await using var witness = await WebhookReceiver.StartAsync();
        await client.CreateWebhookAsync(witness, "invoices");
        await client.PublishAsync("invoices", """{"type":"invoice.paid","data":{"n":4}}""");
        await Waiting.UntilAsync(() => witness.Received.Count == 1, "the witness delivery");
        Assert.Single(receiver.Received);
    }

    [Fact]
    public async Task Create_WithAfterEarliest_DeliversRetainedHistory()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options());
        using var client = server.CreateClient();
        await client.PublishManyAsync("orders", 3);

        var webhook = await client.CreateWebhookAsync(receiver, "orders", "\"after\":\"earliest\"");

        await client.WaitForWebhookAsync(webhook.Id(), w => w.Counts("delivered") == 3, "the history");
        Assert.Equal([0, 1, 2], receiver.Received.Select(d => d.Json.GetProperty("data").GetProperty("n").GetInt32()).Order());
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;
}

/// <summary>Input that parses as JSON but cannot be read as text, and hosts DNS cannot take: 400s, never 500s.</summary>
public sealed class WebhookOddInputTests
{
    [Theory]
    [InlineData("""{"url":"http://127.0.0.1/\uD800","topics":["orders"]}""")]
    [InlineData("""{"url":"http://127.0.0.1/x","topics":["\uD800"]}""")]
    [InlineData("""{"\uD800":1}""")]
    public async Task LoneSurrogate_InACreateBody_IsA400(string body)
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/webhooks", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
    }

    [Fact]
    public async Task LoneSurrogate_InAPublish_IsA400()
    {
        await using var server = await HubServer.StartAsync(sqlite: false);
        using var client = server.CreateClient();

        using var response = await client.PostAsync("v1/topics/orders/events", """{"type":"\uD800","data":1}""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-body");
    }

    [Fact]
    public async Task OverlongHost_IsA400()
    {
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var host = string.Join('.', Enumerable.Repeat(new string('a', 60), 5));

        using var response = await client.PostAsync("v1/webhooks", $$"""{"url":"https://{{host}}/","topics":["orders"]}""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "invalid-url");
    }

    [Fact]
    public async Task ReplayOrCreate_WithACursorAheadOfTheLog_IsA410WithTheCursorToUse()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await HubServer.StartAsync(WebhookKit.Options(), sqlite: false);
        using var client = server.CreateClient();
        var webhook = await client.CreateWebhookAsync(receiver, "orders");
        var epoch = webhook.GetProperty("cursor").GetString()!.Split('.')[0];

        using var replay = await client.PostAsync($"v1/webhooks/{webhook.Id()}/replay", $$"""{"after":"{{epoch}}.999999"}""");
        using var create = await client.PostAsync("v1/webhooks", $$"""{"url":"{{receiver.Url}}","topics":["orders"],"after":"{{epoch}}.999999"}""");

        Assert.True((await replay.AssertProblemAsync(HttpStatusCode.Gone, "cursor-ahead")).TryGetProperty("cursor", out _));
        await create.AssertProblemAsync(HttpStatusCode.Gone, "cursor-ahead");
    }
}
