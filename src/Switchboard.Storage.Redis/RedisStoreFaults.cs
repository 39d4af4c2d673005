using StackExchange.Redis;
using Switchboard.Log;
using Switchboard.Problems;

namespace Switchboard.Storage.Redis;

/// <summary>
/// Redis faults from any store on it (log, keys, jobs, config, webhooks): a refusal for memory (Redis at its
/// <c>maxmemory</c> with <c>noeviction</c>) is a full store, as for a publish; connection failures and timeouts are
/// store-unavailable.
/// </summary>
internal sealed class RedisStoreFaults : IStoreFaultClassifier
{
    public SwitchboardException? Classify(Exception exception) => exception switch
    {
        _ when OutOfMemory(exception) is not null => Fault(exception),
        RedisException or RedisTimeoutException => Unavailable(exception),
        _ => null,
    };

    /// <summary>
    /// The Redis refusal for memory in <paramref name="exception"/> or what it wraps (Data Protection wraps the key
    /// ring's failed write in a <see cref="System.Security.Cryptography.CryptographicException"/>), or null.
    /// </summary>
    internal static RedisServerException? OutOfMemory(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is RedisServerException refused && refused.Message.Contains("OOM command not allowed", StringComparison.Ordinal))
            {
                return refused;
            }
        }

        return null;
    }

    /// <summary>
    /// What a Redis failure of a write means to the caller: a refusal for memory is a full store (507 store-full), as
    /// <see cref="Classify"/> says; anything else is store-unavailable.
    /// </summary>
    internal static SwitchboardException Fault(Exception exception) => OutOfMemory(exception) is { } refused
        ? StoreProblems.Full(new StoreFullException($"Redis is at its maxmemory limit and refused the write: {refused.Message}"))
        : Unavailable(exception);

    internal static SwitchboardException Unavailable(Exception exception) => StoreProblems.Unavailable(
        $"The hub's Redis store cannot be reached ({exception.GetType().Name}). Retry shortly; a publish with the same Idempotency-Key is safe to repeat.");
}
