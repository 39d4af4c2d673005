using System.Text;
using Switchboard.Webhooks.Signing;

namespace Switchboard.Webhooks.Tests;

/// <summary>The one signer the hub and the client share, against the Standard Webhooks specification's own test vector.</summary>
public sealed class StandardWebhookSignatureTests
{
    private const string SpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string SpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long SpecTimestamp = 1614265330;
    private const string SpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    private static readonly byte[] SpecPayload = Encoding.UTF8.GetBytes("""{"test": 2432232314}""");

    [Fact]
    public void TheSpecVector_SignsToTheSpecSignature()
    {
        var key = StandardWebhookSecret.DecodeKey(SpecSecret, "secret");

        Assert.Equal(SpecSignature, StandardWebhookSignature.Header([key], SpecId, "1614265330", SpecPayload));
        Assert.Equal(SpecSignature, WebhookSecret.SignatureHeader([SpecSecret], SpecId, SpecTimestamp, SpecPayload));
    }

    [Fact]
    public void AChangedByte_ChangesTheSignature()
    {
        var tampered = Encoding.UTF8.GetBytes("""{"test": 2432232315}""");

        Assert.NotEqual(SpecSignature, WebhookSecret.SignatureHeader([SpecSecret], SpecId, SpecTimestamp, tampered));
        Assert.NotEqual(SpecSignature, WebhookSecret.SignatureHeader([SpecSecret], SpecId, SpecTimestamp + 1, SpecPayload));
    }

    [Fact]
    public void DuringARotation_TheHeaderCarriesOneSignaturePerSecret_CurrentFirst()
    {
        var next = WebhookSecret.Generate();

        var header = WebhookSecret.SignatureHeader([next, SpecSecret], SpecId, SpecTimestamp, SpecPayload);

        var parts = header.Split(' ');
        Assert.Equal(2, parts.Length);
        Assert.Equal(WebhookSecret.SignatureHeader([next], SpecId, SpecTimestamp, SpecPayload), parts[0]);
        Assert.Equal(SpecSignature, parts[1]);
    }

    [Fact]
    public void ABareBase64Secret_IsTheSameKeyAsItsWhsecForm()
    {
        Assert.Equal(StandardWebhookSecret.DecodeKey(SpecSecret, "secret"), StandardWebhookSecret.DecodeKey(SpecSecret["whsec_".Length..], "secret"));
    }

    [Fact]
    public void GeneratedSecrets_AreWhsecAnd32RandomBytes()
    {
        var first = WebhookSecret.Generate();
        var second = WebhookSecret.Generate();

        Assert.StartsWith("whsec_", first, StringComparison.Ordinal);
        Assert.Equal(32, StandardWebhookSecret.DecodeKey(first, "secret").Length);
        Assert.NotEqual(first, second);
    }

    [Theory]
    [InlineData("whsec_not base64!")]
    [InlineData("whsec_")]
    public void AnInvalidSecret_IsRefusedWithArgumentException(string secret)
    {
        Assert.Throws<ArgumentException>(() => StandardWebhookSecret.DecodeKey(secret, "secret"));
    }
}
