using System.Text;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Tests.Polling;

/// <summary>
/// Simulates a publish landing between a reader's check and its wait: the first read for
/// <paramref name="watchedTopic"/> that finds nothing appends a matching event through the inner log
/// <em>before</em> returning its (empty) result. A reader that starts listening only after the check misses
/// that append and sleeps through its whole wait; one that registered first wakes at once.
/// </summary>
internal sealed class RacingEventLog(IEventLog inner, string watchedTopic) : IEventLog
{
    private int _fired;

    /// <summary>True once the racing append has been made.</summary>
    public bool Fired => Volatile.Read(ref _fired) == 1;

    public string Epoch => inner.Epoch;

    public long HeadSeq => inner.HeadSeq;

    public Task AppendSignal => inner.AppendSignal;

    public Task<AppendResult> AppendAsync(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency = null, CancellationToken cancellationToken = default) =>
        inner.AppendAsync(events, idempotency, cancellationToken);

    public async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        var result = await inner.ReadAsync(filter, afterSeq, limit, cancellationToken);
        if (result.Events.Count == 0 && result.Gap is null && filter.Matches(watchedTopic) && Interlocked.CompareExchange(ref _fired, 1, 0) == 0)
        {
            await inner.AppendAsync([new EventDraft(watchedTopic, "raced", Encoding.UTF8.GetBytes("""{"raced":true}"""))], cancellationToken: cancellationToken);
        }

        return result;
    }

    public long EarliestAfterSeq(TopicFilter filter) => inner.EarliestAfterSeq(filter);

    public ValueTask<long> AfterSeqForLastAsync(TopicFilter filter, int count, CancellationToken cancellationToken = default) =>
        inner.AfterSeqForLastAsync(filter, count, cancellationToken);

    public Task<TrimResult> TrimAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        inner.TrimAsync(policy, now, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
