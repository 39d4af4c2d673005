using StackExchange.Redis;
using Switchboard.Problems;

namespace Switchboard.Storage.Redis;

/// <summary>Redis connection failures and timeouts, from any store on it (log, keys, jobs, config, webhooks), are store-unavailable.</summary>
internal sealed class RedisStoreFaults : IStoreFaultClassifier
{
    public SwitchboardException? Classify(Exception exception) => exception is RedisException or RedisTimeoutException
        ? Unavailable(exception)
        : null;

    internal static SwitchboardException Unavailable(Exception exception) => StoreProblems.Unavailable(
        $"The hub's Redis store cannot be reached ({exception.GetType().Name}). Retry shortly; a publish with the same Idempotency-Key is safe to repeat.");
}
