using Switchboard.Log;

namespace Switchboard.Problems;

/// <summary>
/// Recognises a store's own exceptions as faults of the store (unreachable, timed out, full), so a store registers how
/// its client library fails and the HTTP and WebSocket layers answer every path the same way, with no store types in them.
/// </summary>
public interface IStoreFaultClassifier
{
    /// <summary>The error to answer for <paramref name="exception"/>, or null when it is not this store's fault.</summary>
    SwitchboardException? Classify(Exception exception);
}

/// <summary>The errors stores answer with.</summary>
public static class StoreProblems
{
    /// <summary>Seconds a client should wait before retrying a write refused by an unreachable store.</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary><see cref="SwitchboardErrorKind.Unavailable"/> <c>store-unavailable</c>, retry after <see cref="RetryAfterSeconds"/>.</summary>
    public static SwitchboardException Unavailable(string detail) =>
        SwitchboardException.Unavailable("store-unavailable", "Store unavailable", detail, TimeSpan.FromSeconds(RetryAfterSeconds));

    /// <summary><see cref="SwitchboardErrorKind.Full"/> <c>store-full</c> for a write the store refused for lack of space.</summary>
    public static SwitchboardException Full(StoreFullException full) => new(SwitchboardErrorKind.Full, "store-full", "Store full",
        full.Message + " Retry later, with the same Idempotency-Key.", retryAfter: StoreFullException.RetryAfter);

    /// <summary>The first classifier's error for <paramref name="exception"/> (or for an inner one), or null.</summary>
    public static SwitchboardException? Classify(IEnumerable<IStoreFaultClassifier> classifiers, Exception exception)
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
