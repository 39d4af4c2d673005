using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Orders.Receiver;
using Orders.Service;
using StandardWebhooks;
using Switchboard.Client;

namespace Orders.Tests;

public sealed class OrdersSampleTests
{
    private static readonly object TwoBooks = new { customer = "ada", items = new[] { new { sku = "book-1", quantity = 2, unitPrice = 12.5m } } };

    private readonly string _secret = WebhookSigner.GenerateSecret();

    [Fact]
    public async Task PlaceOrder_PublishesOrderCreatedToTheHub_WithTheOrderIdAsIdempotencyKey()
    {
        var hub = new FakeHub();
        await using var hubApp = await hub.StartAsync();
        await using var service = await RunningApp.StartAsync(OrdersService.Build(RunningApp.Arguments($"--Hub:Url={hubApp.BaseAddress}")));
        using var http = service.CreateClient();

        using var response = await http.PostAsJsonAsync("orders", TwoBooks);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var id = order.GetProperty("id").GetString()!;
        Assert.Equal(25m, order.GetProperty("total").GetDecimal());
        var (topic, body, key) = Assert.Single(hub.Published);
        Assert.Equal(("orders", "order.created", id), (topic, body.GetProperty("type").GetString(), key));
        Assert.Equal(id, body.GetProperty("data").GetProperty("id").GetString());
        var listed = JsonDocument.Parse(await http.GetStringAsync("orders")).RootElement;
        Assert.Equal(id, Assert.Single(listed.EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task PlaceOrder_WhenTheHubIsDown_Answers502_AndKeepsNoOrder()
    {
        var hub = new FakeHub { Status = 503 };
        await using var hubApp = await hub.StartAsync();
        await using var service = await RunningApp.StartAsync(OrdersService.Build(RunningApp.Arguments($"--Hub:Url={hubApp.BaseAddress}")));
        using var http = service.CreateClient();

        using var response = await http.PostAsJsonAsync("orders", TwoBooks);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("[]", await http.GetStringAsync("orders"));
    }

    [Fact]
    public async Task PlaceOrder_Invalid_Is400_AndPublishesNothing()
    {
        var hub = new FakeHub();
        await using var hubApp = await hub.StartAsync();
        await using var service = await RunningApp.StartAsync(OrdersService.Build(RunningApp.Arguments($"--Hub:Url={hubApp.BaseAddress}")));
        using var http = service.CreateClient();

        using var response = await http.PostAsJsonAsync("orders", new { customer = "", items = Array.Empty<object>() });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty("customer", out _));
        Assert.True(errors.TryGetProperty("items", out _));
        Assert.Empty(hub.Published);
    }

    [Fact]
    public async Task Receiver_KeepsVerifiedOrders_RejectsTamperedOnes_AndIgnoresRetries()
    {
        await using var receiver = await RunningApp.StartAsync(OrdersReceiver.Build(RunningApp.Arguments($"--Webhook:Secret={_secret}")));
        using var http = receiver.CreateClient();
        const string Body = """{"type":"order.created","timestamp":"2026-11-28T03:00:00.000Z","data":{"id":"ord_1","customer":"ada","items":[{}],"total":25},"seq":7,"topic":"orders"}""";

        using var first = await http.SendAsync(Signed(Body, "msg_x.7"));
        using var retry = await http.SendAsync(Signed(Body, "msg_x.7"));
        var tampered = Signed(Body, "msg_x.8");
        tampered.Content = new StringContent(Body.Replace("ord_1", "ord_2", StringComparison.Ordinal), Encoding.UTF8, "application/json");
        using var tamperedResponse = await http.SendAsync(tampered);

        Assert.Equal((HttpStatusCode.NoContent, HttpStatusCode.OK, HttpStatusCode.Unauthorized), (first.StatusCode, retry.StatusCode, tamperedResponse.StatusCode));
        var kept = await http.GetFromJsonAsync<List<ReceivedOrder>>("orders");
        var order = Assert.Single(kept!);
        Assert.Equal(("ord_1", "ada", 25m, 1, "msg_x.7", 7L), (order.OrderId, order.Customer, order.Total, order.ItemCount, order.WebhookId, order.Seq));
    }

    [Fact]
    public void Receiver_WithoutASecret_RefusesToStart()
    {
        var failure = Assert.Throws<InvalidOperationException>(() => OrdersReceiver.Build(RunningApp.Arguments()));

        Assert.Contains("Webhook:Secret", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlacedOrder_ArrivesAtTheReceiver_ThroughTheRealHubsWebhook()
    {
        await using var hub = await Switchboard.Testing.HubServer.StartAsync(o =>
        {
            o.Webhooks.AllowHttp = true;
            o.Webhooks.AllowedNetworks.Add("127.0.0.0/8");
        });
        using var hubClient = hub.CreateClient();

        // As the README: register the webhook, take its secret, start the receiver with it, point the webhook there.
        using var created = await hubClient.PostAsync("v1/webhooks", new StringContent("""{"url":"http://127.0.0.1:9/","topics":["orders"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var webhook = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var secret = webhook.GetProperty("secret").GetString()!;
        await using var receiver = await RunningApp.StartAsync(OrdersReceiver.Build(RunningApp.Arguments($"--Webhook:Secret={secret}")));
        var url = new Uri(receiver.BaseAddress, "webhooks/switchboard");
        using var patched = await hubClient.PatchAsync($"v1/webhooks/{webhook.GetProperty("id").GetString()}",
            new StringContent($$"""{"url":"{{url}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        await using var service = await RunningApp.StartAsync(OrdersService.Build(RunningApp.Arguments($"--Hub:Url={hub.BaseAddress}")));
        using var shop = service.CreateClient();
        using var shipping = receiver.CreateClient();

        using var placed = await shop.PostAsJsonAsync("orders", TwoBooks);
        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        var id = JsonDocument.Parse(await placed.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();

        List<ReceivedOrder>? received = null;
        await Switchboard.Testing.Waiting.UntilAsync(
            () => (received = shipping.GetFromJsonAsync<List<ReceivedOrder>>("orders").GetAwaiter().GetResult()) is { Count: > 0 },
            "the order to arrive at the receiver");
        var order = Assert.Single(received!);
        Assert.Equal((id, "ada", 25m, 1), (order.OrderId, order.Customer, order.Total, order.ItemCount));
        Assert.StartsWith("msg_", order.WebhookId, StringComparison.Ordinal);
    }

    private HttpRequestMessage Signed(string body, string id)
    {
        var now = DateTimeOffset.UtcNow;
        var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/switchboard") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookHeaders.Id, id);
        request.Headers.Add(WebhookHeaders.Timestamp, now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation(WebhookHeaders.Signature, new StandardWebhook(_secret).Sign(id, now, body));
        return request;
    }
}
