namespace Switchboard.Client;

/// <summary>The hub refused a request for good (not a transient failure): the problem's <see cref="Code"/> says why.</summary>
public class SwitchboardException : Exception
{
    public SwitchboardException()
    {
    }

    public SwitchboardException(string message) : base(message)
    {
    }

    public SwitchboardException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public SwitchboardException(int statusCode, string? code, string message) : base(message)
    {
        StatusCode = statusCode;
        Code = code;
    }

    /// <summary>The HTTP status (0 for a WebSocket <c>error</c> op).</summary>
    public int StatusCode { get; }

    /// <summary>The problem's machine-readable code, such as <c>invalid-pattern</c> or <c>forbidden</c>.</summary>
    public string? Code { get; }
}

/// <summary>
/// The credential was refused (401 that a fresh token did not cure, or 403): a subscription ends with it and a publish
/// fails with it, instead of retrying forever.
/// </summary>
public sealed class SwitchboardAccessDeniedException : SwitchboardException
{
    public SwitchboardAccessDeniedException()
    {
    }

    public SwitchboardAccessDeniedException(string message) : base(message)
    {
    }

    public SwitchboardAccessDeniedException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public SwitchboardAccessDeniedException(int statusCode, string? code, string message) : base(statusCode, code, message)
    {
    }
}
