namespace Switchboard.Problems;

/// <summary>
/// What kind of refusal a <see cref="SwitchboardException"/> is. Engines and stores say what went wrong in these terms;
/// each transport decides what that means on its wire (an HTTP status, a WebSocket <c>error</c> op), in one place.
/// </summary>
public enum SwitchboardErrorKind
{
    /// <summary>The request is malformed or breaks a rule: a bad topic, a missing field, an out-of-range value.</summary>
    Invalid,

    /// <summary>The caller gave no credential, or one the hub does not accept.</summary>
    Unauthorized,

    /// <summary>The caller is known but may not do this.</summary>
    Forbidden,

    /// <summary>The thing asked for does not exist: a job, a key, a webhook endpoint.</summary>
    NotFound,

    /// <summary>The request contradicts the current state: a finished job, a lost lease, a limit of things held.</summary>
    Conflict,

    /// <summary>
    /// A position is no longer retained (an expired or foreign cursor). The <c>cursor</c> extension holds a fresh
    /// position to restart from.
    /// </summary>
    Gone,

    /// <summary>The request or one of its parts is over a size limit.</summary>
    TooLarge,

    /// <summary>A condition the request made (HTTP's <c>If-Match</c>, <c>If-None-Match</c>) does not hold, so nothing was done.</summary>
    PreconditionFailed,

    /// <summary>The request repeats an earlier one's Idempotency-Key with different content.</summary>
    Mismatch,

    /// <summary>The caller is over a rate or count limit of its own; <see cref="SwitchboardException.RetryAfter"/> says when to retry.</summary>
    RateLimited,

    /// <summary>
    /// The hub cannot do this right now (a store is unreachable, a server-wide limit is reached); the same request may
    /// succeed later, after <see cref="SwitchboardException.RetryAfter"/> when it is given.
    /// </summary>
    Unavailable,

    /// <summary>The store has no room for the write; reads still work and the write can be retried once space returns.</summary>
    Full,
}
