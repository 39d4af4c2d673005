namespace Switchboard.Client;

/// <summary>Why a webhook request was refused; each reason maps to one HTTP status and one problem code.</summary>
public enum WebhookVerificationFailure
{
    /// <summary>A <c>webhook-id</c>, <c>webhook-timestamp</c> or <c>webhook-signature</c> header is missing or empty (400).</summary>
    MissingHeader,

    /// <summary>The <c>webhook-id</c> is longer than <see cref="WebhookVerifier.MaxIdLength"/> characters (400).</summary>
    MalformedId,

    /// <summary>The <c>webhook-timestamp</c> is not a whole number of Unix seconds (400).</summary>
    MalformedTimestamp,

    /// <summary>The timestamp is older than the tolerance allows: a stale or captured request (401).</summary>
    TimestampTooOld,

    /// <summary>The timestamp is further in the future than the tolerance allows (401).</summary>
    TimestampTooNew,

    /// <summary>No signature in the header matches any configured secret: a wrong secret or a tampered request (401).</summary>
    NoMatchingSignature,

    /// <summary>The signature matched but the body is not a Switchboard webhook message (400).</summary>
    MalformedBody,

    /// <summary>The body is larger than the receiver's limit (413).</summary>
    BodyTooLarge,
}

/// <summary>
/// Thrown when a webhook request must not be trusted. <see cref="Failure"/> tells the reason in a form code can
/// switch on; the message tells it in a form a person can act on. Neither ever contains a secret.
/// </summary>
public sealed class WebhookVerificationException : Exception
{
    /// <summary>Creates the exception for <paramref name="failure"/>.</summary>
    public WebhookVerificationException(WebhookVerificationFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    /// <summary>Why the request was refused.</summary>
    public WebhookVerificationFailure Failure { get; }

    /// <summary>
    /// The HTTP status to answer: 400 for requests that are not well-formed webhooks, 401 for ones that fail
    /// authentication (the sender may retry, and a fixed secret or clock lets the retry through), 413 for too large.
    /// </summary>
    public int StatusCode => Failure switch
    {
        WebhookVerificationFailure.TimestampTooOld or WebhookVerificationFailure.TimestampTooNew or WebhookVerificationFailure.NoMatchingSignature => 401,
        WebhookVerificationFailure.BodyTooLarge => 413,
        _ => 400,
    };

    /// <summary>A stable, kebab-case code for the <c>code</c> member of a problem response.</summary>
    public string Code => Failure switch
    {
        WebhookVerificationFailure.MissingHeader => "webhook-missing-header",
        WebhookVerificationFailure.MalformedId => "webhook-malformed-id",
        WebhookVerificationFailure.MalformedTimestamp => "webhook-malformed-timestamp",
        WebhookVerificationFailure.TimestampTooOld => "webhook-timestamp-too-old",
        WebhookVerificationFailure.TimestampTooNew => "webhook-timestamp-too-new",
        WebhookVerificationFailure.NoMatchingSignature => "webhook-signature-mismatch",
        WebhookVerificationFailure.MalformedBody => "webhook-malformed-body",
        WebhookVerificationFailure.BodyTooLarge => "payload-too-large",
        _ => "webhook-invalid",
    };
}
