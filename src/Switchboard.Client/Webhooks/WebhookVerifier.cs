using System.Globalization;
using System.Security.Cryptography;
using Switchboard.Webhooks.Signing;

namespace Switchboard.Client;

/// <summary>
/// Checks that a webhook request was signed by someone holding one of the secrets, recently. Give it every secret
/// that is valid during a rotation (old and new); a request passes if any signature in its header matches any of
/// them. Thread-safe; create one and reuse it.
/// </summary>
public sealed class WebhookVerifier
{
    /// <summary>How far a timestamp may be from now, either way, by default: five minutes.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    /// <summary>The longest <c>webhook-id</c> accepted; ids are kept by the replay guard, so they are bounded.</summary>
    public const int MaxIdLength = 256;

    /// <summary>Signatures beyond this many in one header are ignored; a rotation needs two or three.</summary>
    public const int MaxSignatures = 16;

    // DateTimeOffset.MaxValue in Unix seconds; larger values cannot be a real timestamp.
    private const long MaxUnixSeconds = 253_402_300_799;

    private readonly byte[][] _keys;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a verifier for one secret and the default tolerance.</summary>
    /// <param name="secret">A <c>whsec_</c> secret, or its base64 part alone.</param>
    public WebhookVerifier(string secret)
        : this([secret])
    {
    }

    /// <summary>Creates a verifier that accepts a signature made with any of <paramref name="secrets"/>.</summary>
    /// <param name="secrets">One or more <c>whsec_</c> secrets (or their base64 part alone).</param>
    /// <param name="tolerance">How far the timestamp may be from now; <see cref="DefaultTolerance"/> if null.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> if null.</param>
    public WebhookVerifier(IEnumerable<string> secrets, TimeSpan? tolerance = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        _keys = [.. secrets.Select(secret => StandardWebhookSecret.DecodeKey(secret, nameof(secrets)))];
        if (_keys.Length == 0)
        {
            throw new ArgumentException("At least one webhook secret is needed.", nameof(secrets));
        }

        Tolerance = tolerance ?? DefaultTolerance;
        ArgumentOutOfRangeException.ThrowIfLessThan(Tolerance, TimeSpan.Zero, nameof(tolerance));
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How far a timestamp may be from now, either way.</summary>
    public TimeSpan Tolerance { get; }

    /// <summary>
    /// Verifies one request from its three headers and its raw body bytes, exactly as received (re-serialized JSON
    /// would not match). Returns what was verified, or throws <see cref="WebhookVerificationException"/>.
    /// </summary>
    public WebhookVerificationResult Verify(string? id, string? timestamp, string? signatureHeader, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw Missing(WebhookHeaders.Id);
        }

        if (string.IsNullOrEmpty(timestamp))
        {
            throw Missing(WebhookHeaders.Timestamp);
        }

        if (string.IsNullOrWhiteSpace(signatureHeader))
        {
            throw Missing(WebhookHeaders.Signature);
        }

        if (id.Length > MaxIdLength)
        {
            throw new WebhookVerificationException(WebhookVerificationFailure.MalformedId, $"The {WebhookHeaders.Id} header is longer than {MaxIdLength} characters.");
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > MaxUnixSeconds)
        {
            throw new WebhookVerificationException(WebhookVerificationFailure.MalformedTimestamp, $"The {WebhookHeaders.Timestamp} header must be whole Unix seconds.");
        }

        var signedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        var now = _timeProvider.GetUtcNow();
        if (signedAt < now - Tolerance)
        {
            throw new WebhookVerificationException(
                WebhookVerificationFailure.TimestampTooOld,
                $"The {WebhookHeaders.Timestamp} is {(now - signedAt).TotalSeconds:0} s old; at most {Tolerance.TotalSeconds:0} s is accepted.");
        }

        if (signedAt > now + Tolerance)
        {
            throw new WebhookVerificationException(
                WebhookVerificationFailure.TimestampTooNew,
                $"The {WebhookHeaders.Timestamp} is {(signedAt - now).TotalSeconds:0} s in the future; at most {Tolerance.TotalSeconds:0} s is accepted (check the clocks).");
        }

        if (!AnySignatureMatches(id, timestamp, signatureHeader, body))
        {
            throw new WebhookVerificationException(
                WebhookVerificationFailure.NoMatchingSignature,
                "No signature matches: the secret differs, or the body or headers were changed.");
        }

        return new WebhookVerificationResult(id, signedAt);
    }

    private bool AnySignatureMatches(string id, string timestamp, string signatureHeader, ReadOnlySpan<byte> body)
    {
        // Computed once, on the first well-formed v1 entry; a few keys fit on the stack.
        const int StackKeys = 4;
        var macs = _keys.Length <= StackKeys ? stackalloc byte[StackKeys * StandardWebhookSignature.Size] : new byte[_keys.Length * StandardWebhookSignature.Size];
        var computed = false;
        Span<byte> candidate = stackalloc byte[StandardWebhookSignature.Size];
        var examined = 0;
        var remaining = signatureHeader.AsSpan();
        while (examined < MaxSignatures && !remaining.IsEmpty)
        {
            remaining = remaining.TrimStart(' ');
            var end = remaining.IndexOf(' ');
            var entry = end < 0 ? remaining : remaining[..end];
            remaining = end < 0 ? [] : remaining[end..];
            if (entry.IsEmpty)
            {
                continue;
            }

            examined++;

            // Other versions (for example v1a, asymmetric) are skipped, as the spec asks.
            if (!entry.StartsWith(StandardWebhookSignature.VersionPrefix, StringComparison.Ordinal)
                || !Convert.TryFromBase64Chars(entry[StandardWebhookSignature.VersionPrefix.Length..], candidate, out var length)
                || length != StandardWebhookSignature.Size)
            {
                continue;
            }

            if (!computed)
            {
                StandardWebhookSignature.Compute(_keys, id, timestamp, body, macs);
                computed = true;
            }

            for (var i = 0; i < _keys.Length; i++)
            {
                if (CryptographicOperations.FixedTimeEquals(candidate, macs.Slice(i * StandardWebhookSignature.Size, StandardWebhookSignature.Size)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static WebhookVerificationException Missing(string header) =>
        new(WebhookVerificationFailure.MissingHeader, $"The {header} header is missing or empty.");
}
