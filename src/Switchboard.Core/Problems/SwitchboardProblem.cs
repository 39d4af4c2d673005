namespace Switchboard.Problems;

/// <summary>
/// A request the hub refuses, with everything an RFC 9457 problem needs. The HTTP layer turns it into
/// <c>application/problem+json</c>; <see cref="Code"/> is the stable, machine-readable part.
/// </summary>
public sealed class SwitchboardProblemException : Exception
{
    /// <summary>Creates a problem.</summary>
    public SwitchboardProblemException(int status, string code, string title, string detail, IReadOnlyDictionary<string, object?>? extensions = null)
        : base(detail)
    {
        Status = status;
        Code = code;
        Title = title;
        Extensions = extensions ?? new Dictionary<string, object?>();
    }

    /// <summary>The HTTP status.</summary>
    public int Status { get; }

    /// <summary>The stable code, also the last part of the problem <c>type</c>.</summary>
    public string Code { get; }

    /// <summary>A short summary that does not change between occurrences.</summary>
    public string Title { get; }

    /// <summary>Extra members, such as the fresh <c>cursor</c> of a 410.</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; }

    /// <summary>The problem <c>type</c> URI for a code.</summary>
    public static string TypeFor(string code) => $"urn:switchboard:problem:{code}";

    internal static SwitchboardProblemException BadRequest(string code, string title, string detail) => new(400, code, title, detail);
}
