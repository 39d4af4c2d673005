namespace Switchboard.Log;

/// <summary>
/// A store refused a write because its disk (or its configured size limit) is full. Reads still work, and the
/// write can be retried once space returns. The hub answers it as <c>store-full</c> (<see cref="Problems.StoreProblems.Full"/>) with a retry-after.
/// </summary>
public sealed class StoreFullException : Exception
{
    /// <summary>Creates the error.</summary>
    public StoreFullException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>How long a client should wait before retrying. 30 seconds.</summary>
    public static TimeSpan RetryAfter { get; } = TimeSpan.FromSeconds(30);
}
