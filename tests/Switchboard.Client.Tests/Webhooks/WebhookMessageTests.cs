using System.Text;
using System.Text.Json;

namespace Switchboard.Client.Tests.Webhooks;

public sealed class WebhookMessageTests
{
    [Fact]
    public void Parse_HubBody_ReadsEveryField()
    {
        var message = WebhookMessage.Parse(Encoding.UTF8.GetBytes(
            """{"type":"order.created","timestamp":"2026-11-28T03:00:00.000Z","data":{"id":1,"items":["a"]},"seq":42,"topic":"orders","extra":true}"""));

        Assert.Equal("order.created", message.Type);
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 3, 0, 0, TimeSpan.Zero), message.Timestamp);
        Assert.Equal(1, message.Data.GetProperty("id").GetInt32());
        Assert.Equal(42, message.Seq);
        Assert.Equal("orders", message.Topic);
    }

    [Fact]
    public void Parse_NoData_GivesJsonNull()
    {
        var message = WebhookMessage.Parse("""{"type":"t","timestamp":"2026-11-28T03:00:00Z","seq":1,"topic":"a"}"""u8);

        Assert.Equal(JsonValueKind.Null, message.Data.ValueKind);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("""{"type":"t","timestamp":"2026-11-28T03:00:00Z","seq":1}""")]
    [InlineData("""{"type":null,"timestamp":"2026-11-28T03:00:00Z","seq":1,"topic":"a"}""")]
    [InlineData("""{"type":"t","timestamp":"yesterday","seq":1,"topic":"a"}""")]
    [InlineData("""{"type":"t","timestamp":"2026-11-28T03:00:00Z","seq":"1","topic":"a"}""")]
    public void Parse_NotAWebhookMessage_IsMalformedBody(string body)
    {
        var failure = Assert.Throws<WebhookVerificationException>(() => WebhookMessage.Parse(Encoding.UTF8.GetBytes(body)));

        Assert.Equal(WebhookVerificationFailure.MalformedBody, failure.Failure);
        Assert.Equal(400, failure.StatusCode);
    }
}
