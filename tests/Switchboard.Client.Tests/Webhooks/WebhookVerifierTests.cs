using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using StandardWebhooks;

namespace Switchboard.Client.Tests.Webhooks;

public sealed class WebhookVerifierTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 3, 0, 0, TimeSpan.Zero);
    private const string Id = "msg_ab12cd.42";
    private const string Body = """{"type":"order.created","timestamp":"2026-11-28T03:00:00.000Z","data":{"id":1},"seq":42,"topic":"orders"}""";

    private readonly string _secret = WebhookSigner.GenerateSecret();
    private readonly FakeTimeProvider _time = new(Now);

    private static string Seconds(DateTimeOffset at) => at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private WebhookVerifier Verifier(params string[] secrets) => new(secrets.Length == 0 ? [_secret] : secrets, timeProvider: _time);

    [Fact]
    public void Verify_SignatureFromStandardWebhooksPackage_IsAccepted()
    {
        var signature = new StandardWebhook(_secret).Sign(Id, Now, Body);

        var result = Verifier().Verify(Id, Seconds(Now), signature, Utf8(Body));

        Assert.Equal(Id, result.Id);
        Assert.Equal(Now, result.Timestamp);
    }

    [Fact]
    public void Verify_SecretWithoutPrefix_IsAcceptedAsTheSameKey()
    {
        var signature = new StandardWebhook(_secret).Sign(Id, Now, Body);
        var bare = _secret["whsec_".Length..];

        var result = Verifier(bare).Verify(Id, Seconds(Now), signature, Utf8(Body));

        Assert.Equal(Id, result.Id);
    }

    [Fact]
    public void Sign_IsAcceptedByStandardWebhooksPackage()
    {
        // The package checks the timestamp against the real clock, so sign for now.
        var now = DateTimeOffset.UtcNow;
        var headers = new HeaderDictionary
        {
            [WebhookHeaders.Id] = Id,
            [WebhookHeaders.Timestamp] = Seconds(now),
            [WebhookHeaders.Signature] = new WebhookSigner(_secret).Sign(Id, now, Utf8(Body)),
        };

        new StandardWebhook(_secret).Verify(Body, headers); // throws if it does not match

        headers[WebhookHeaders.Signature] = new WebhookSigner(WebhookSigner.GenerateSecret()).Sign(Id, now, Utf8(Body));
        Assert.ThrowsAny<Exception>(() => new StandardWebhook(_secret).Verify(Body, headers));
    }

    [Fact]
    public void Sign_MatchesStandardWebhooksPackageByteForByte()
    {
        var ours = new WebhookSigner(_secret).Sign(Id, Now, Utf8(Body));
        var theirs = new StandardWebhook(_secret).Sign(Id, Now, Body);

        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void Verify_TamperedBody_IsRejected()
    {
        var signature = new StandardWebhook(_secret).Sign(Id, Now, Body);
        var tampered = Body.Replace("\"id\":1", "\"id\":2", StringComparison.Ordinal);

        var failure = Assert.Throws<WebhookVerificationException>(() => Verifier().Verify(Id, Seconds(Now), signature, Utf8(tampered)));

        Assert.Equal(WebhookVerificationFailure.NoMatchingSignature, failure.Failure);
        Assert.Equal(401, failure.StatusCode);
    }

    [Fact]
    public void Verify_TamperedIdOrTimestamp_IsRejected()
    {
        var signature = new StandardWebhook(_secret).Sign(Id, Now, Body);

        Assert.Equal(
            WebhookVerificationFailure.NoMatchingSignature,
            Assert.Throws<WebhookVerificationException>(() => Verifier().Verify("msg_ab12cd.43", Seconds(Now), signature, Utf8(Body))).Failure);
        Assert.Equal(
            WebhookVerificationFailure.NoMatchingSignature,
            Assert.Throws<WebhookVerificationException>(() => Verifier().Verify(Id, Seconds(Now.AddSeconds(1)), signature, Utf8(Body))).Failure);
    }

    [Fact]
    public void Verify_WrongSecret_IsRejected()
    {
        var signature = new StandardWebhook(WebhookSigner.GenerateSecret()).Sign(Id, Now, Body);

        var failure = Assert.Throws<WebhookVerificationException>(() => Verifier().Verify(Id, Seconds(Now), signature, Utf8(Body)));

        Assert.Equal(WebhookVerificationFailure.NoMatchingSignature, failure.Failure);
    }

    [Fact]
    public void Verify_StaleTimestamp_IsRejected_AndTheToleranceEdgeIsAccepted()
    {
        var signature = new StandardWebhook(_secret).Sign(Id, Now, Body);
        var verifier = Verifier();

        _time.Advance(WebhookVerifier.DefaultTolerance);
        verifier.Verify(Id, Seconds(Now), signature, Utf8(Body));

        _time.Advance(TimeSpan.FromSeconds(1));
        var failure = Assert.Throws<WebhookVerificationException>(() => verifier.Verify(Id, Seconds(Now), signature, Utf8(Body)));
        Assert.Equal(WebhookVerificationFailure.TimestampTooOld, failure.Failure);
        Assert.Equal(401, failure.StatusCode);
    }

    [Fact]
    public void Verify_FutureTimestamp_IsRejected()
    {
        var future = Now + WebhookVerifier.DefaultTolerance + TimeSpan.FromSeconds(1);
        var signature = new StandardWebhook(_secret).Sign(Id, future, Body);

        var failure = Assert.Throws<WebhookVerificationException>(() => Verifier().Verify(Id, Seconds(future), signature, Utf8(Body)));

        Assert.Equal(WebhookVerificationFailure.TimestampTooNew, failure.Failure);
    }

    [Fact]
    public void Verify_CustomTolerance_IsUsed()
    {
        var signature = new StandardWebhook(_secret).Sign(Id, Now, Body);
        var verifier = new WebhookVerifier([_secret], TimeSpan.FromSeconds(30), _time);
        _time.Advance(TimeSpan.FromSeconds(31));

        Assert.Equal(
            WebhookVerificationFailure.TimestampTooOld,
            Assert.Throws<WebhookVerificationException>(() => verifier.Verify(Id, Seconds(Now), signature, Utf8(Body))).Failure);
    }

    [Fact]
    public void Verify_MultipleSignaturesWhereOnlyTheSecondMatches_IsAccepted()
    {
        var other = new StandardWebhook(WebhookSigner.GenerateSecret()).Sign(Id, Now, Body);
        var right = new StandardWebhook(_secret).Sign(Id, Now, Body);

        var result = Verifier().Verify(Id, Seconds(Now), $"{other} {right}", Utf8(Body));

        Assert.Equal(Id, result.Id);
    }

    [Fact]
    public void Verify_DuringRotation_AcceptsEitherSecret()
    {
        var next = WebhookSigner.GenerateSecret();
        var verifier = Verifier(_secret, next);

        verifier.Verify(Id, Seconds(Now), new StandardWebhook(_secret).Sign(Id, Now, Body), Utf8(Body));
        verifier.Verify(Id, Seconds(Now), new StandardWebhook(next).Sign(Id, Now, Body), Utf8(Body));
        Assert.Throws<WebhookVerificationException>(
            () => verifier.Verify(Id, Seconds(Now), new StandardWebhook(WebhookSigner.GenerateSecret()).Sign(Id, Now, Body), Utf8(Body)));
    }

    [Theory]
    [InlineData("v1a,c2lnbmF0dXJl")]
    [InlineData("v2,AAAA v1,not-base64!")]
    [InlineData("v1,AAAA")]
    public void Verify_UnknownVersionsAndMalformedEntries_AreSkipped(string header)
    {
        var failure = Assert.Throws<WebhookVerificationException>(() => Verifier().Verify(Id, Seconds(Now), header, Utf8(Body)));

        Assert.Equal(WebhookVerificationFailure.NoMatchingSignature, failure.Failure);
    }

    [Theory]
    [InlineData(null, "ts", "sig")]
    [InlineData("", "ts", "sig")]
    [InlineData("id", null, "sig")]
    [InlineData("id", "ts", null)]
    [InlineData("id", "ts", "  ")]
    public void Verify_MissingHeader_IsABadRequest(string? id, string? timestamp, string? signature)
    {
        var failure = Assert.Throws<WebhookVerificationException>(
            () => Verifier().Verify(id, timestamp == "ts" ? Seconds(Now) : timestamp, signature, Utf8(Body)));

        Assert.Equal(WebhookVerificationFailure.MissingHeader, failure.Failure);
        Assert.Equal(400, failure.StatusCode);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-5")]
    [InlineData(" 1795748400")]
    [InlineData("1795748400.5")]
    [InlineData("1.7e9")]
    [InlineData("99999999999999999999")]
    [InlineData("999999999999")]
    public void Verify_MalformedTimestamp_IsABadRequest(string timestamp)
    {
        var failure = Assert.Throws<WebhookVerificationException>(() => Verifier().Verify(Id, timestamp, "v1,AAAA", Utf8(Body)));

        Assert.Equal(WebhookVerificationFailure.MalformedTimestamp, failure.Failure);
        Assert.Equal(400, failure.StatusCode);
    }

    [Fact]
    public void Verify_OverlongId_IsABadRequest()
    {
        var id = new string('x', WebhookVerifier.MaxIdLength + 1);
        var signature = new StandardWebhook(_secret).Sign(id, Now, Body);

        var failure = Assert.Throws<WebhookVerificationException>(() => Verifier().Verify(id, Seconds(Now), signature, Utf8(Body)));

        Assert.Equal(WebhookVerificationFailure.MalformedId, failure.Failure);
    }

    [Fact]
    public void Verify_ManySecrets_StillFindsTheMatchingOne()
    {
        var secrets = Enumerable.Range(0, 9).Select(_ => WebhookSigner.GenerateSecret()).Append(_secret).ToArray();

        Verifier(secrets).Verify(Id, Seconds(Now), new StandardWebhook(_secret).Sign(Id, Now, Body), Utf8(Body));
    }

    [Theory]
    [InlineData("whsec_not base64!")]
    [InlineData("whsec_")]
    [InlineData("")]
    public void Constructor_InvalidSecret_Throws(string secret)
    {
        Assert.Throws<ArgumentException>(() => new WebhookVerifier(secret));
    }

    [Fact]
    public void Constructor_NoSecrets_Throws()
    {
        Assert.Throws<ArgumentException>(() => new WebhookVerifier(Array.Empty<string>()));
    }

    [Fact]
    public void Verify_UsesTheDecodedKey_NotTheSecretText()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var secret = "whsec_" + Convert.ToBase64String(key);
        var timestamp = Seconds(Now);
        var mac = HMACSHA256.HashData(key, Utf8($"{Id}.{timestamp}.{Body}"));

        Verifier(secret).Verify(Id, timestamp, "v1," + Convert.ToBase64String(mac), Utf8(Body));
    }
}
