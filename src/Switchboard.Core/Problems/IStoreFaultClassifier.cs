namespace Switchboard.Problems;

/// <summary>
/// Recognises a store's own exceptions as faults of the store (unreachable, timed out, full), so a store registers how
/// its client library fails and the HTTP and WebSocket layers answer every path the same way, with no store types in them.
/// </summary>
public interface IStoreFaultClassifier
{
    /// <summary>The problem to answer for <paramref name="exception"/>, or null when it is not this store's fault.</summary>
    SwitchboardProblemException? Classify(Exception exception);
}

/// <summary>The problems stores answer with.</summary>
public static class StoreProblems
{
    /// <summary>Seconds a client should wait before retrying a refused write.</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>503 <c>store-unavailable</c> with <c>Retry-After</c>.</summary>
    public static SwitchboardProblemException Unavailable(string detail) => new(503, "store-unavailable", "Store unavailable", detail,
        new Dictionary<string, object?> { ["retryAfter"] = RetryAfterSeconds });

    /// <summary>The first classifier's problem for <paramref name="exception"/> (or for an inner one), or null.</summary>
    public static SwitchboardProblemException? Classify(IEnumerable<IStoreFaultClassifier> classifiers, Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            foreach (var classifier in classifiers)
            {
                if (classifier.Classify(current) is { } problem)
                {
                    return problem;
                }
            }
        }

        return null;
    }
}
