namespace Switchboard.Problems;

/// <summary>
/// A request the hub refuses, said in the hub's own terms: a <see cref="Kind"/>, a stable <see cref="Code"/>, a title
/// and extensions. It knows no transport; the HTTP layer maps the kind to a status and a problem+json document, and the
/// WebSocket transport to an <c>error</c> op, both with the same code.
/// </summary>
public sealed class SwitchboardException : Exception
{
    /// <summary>Creates an error.</summary>
    public SwitchboardException(SwitchboardErrorKind kind, string code, string title, string detail,
        IReadOnlyDictionary<string, object?>? extensions = null, TimeSpan? retryAfter = null)
        : base(detail)
    {
        Kind = kind;
        Code = code;
        Title = title;
        Extensions = extensions ?? new Dictionary<string, object?>();
        RetryAfter = retryAfter;
    }

    /// <summary>What kind of refusal this is.</summary>
    public SwitchboardErrorKind Kind { get; }

    /// <summary>The stable, machine-readable code, such as <c>job-not-found</c>. Clients and tests depend on it.</summary>
    public string Code { get; }

    /// <summary>A short summary that does not change between occurrences.</summary>
    public string Title { get; }

    /// <summary>Extra members, such as the fresh <c>cursor</c> of <see cref="SwitchboardErrorKind.Gone"/>.</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; }

    /// <summary>How long the caller should wait before retrying, when the refusal is temporary; null when not said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The same error with another detail, e.g. to say which event of a batch it is about.</summary>
    public SwitchboardException WithDetail(string detail) => new(Kind, Code, Title, detail, Extensions, RetryAfter);

    /// <summary>A malformed request or a broken rule.</summary>
    public static SwitchboardException Invalid(string code, string title, string detail) => new(SwitchboardErrorKind.Invalid, code, title, detail);

    /// <summary>Something asked for that does not exist.</summary>
    public static SwitchboardException NotFound(string code, string title, string detail) => new(SwitchboardErrorKind.NotFound, code, title, detail);

    /// <summary>A request that contradicts the current state.</summary>
    public static SwitchboardException Conflict(string code, string title, string detail, IReadOnlyDictionary<string, object?>? extensions = null) =>
        new(SwitchboardErrorKind.Conflict, code, title, detail, extensions);

    /// <summary>A position no longer retained; <paramref name="cursor"/> is where to restart.</summary>
    public static SwitchboardException Gone(string code, string title, string detail, string cursor) =>
        new(SwitchboardErrorKind.Gone, code, title, detail, new Dictionary<string, object?> { ["cursor"] = cursor });

    /// <summary>A request, or a part of it, over a size limit.</summary>
    public static SwitchboardException TooLarge(string code, string title, string detail) => new(SwitchboardErrorKind.TooLarge, code, title, detail);

    /// <summary>A condition of the request that does not hold on the current state; nothing was done.</summary>
    public static SwitchboardException PreconditionFailed(string code, string title, string detail, IReadOnlyDictionary<string, object?>? extensions = null) =>
        new(SwitchboardErrorKind.PreconditionFailed, code, title, detail, extensions);

    /// <summary>An Idempotency-Key reused with different content.</summary>
    public static SwitchboardException Mismatch(string code, string title, string detail) => new(SwitchboardErrorKind.Mismatch, code, title, detail);

    /// <summary>A caller over a limit of its own; retry after <paramref name="retryAfter"/>.</summary>
    public static SwitchboardException RateLimited(string code, string title, string detail, TimeSpan retryAfter) =>
        new(SwitchboardErrorKind.RateLimited, code, title, detail, retryAfter: retryAfter);

    /// <summary>Temporarily unable; retry after <paramref name="retryAfter"/> when given.</summary>
    public static SwitchboardException Unavailable(string code, string title, string detail, TimeSpan? retryAfter = null) =>
        new(SwitchboardErrorKind.Unavailable, code, title, detail, retryAfter: retryAfter);
}
