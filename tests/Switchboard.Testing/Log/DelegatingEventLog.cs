using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Retention;
using Switchboard.Topics;

namespace Switchboard.Testing.Log;

/// <summary>
/// Passes every call to an inner log; test decorators override only what they watch or change, so a new
/// <see cref="IEventLog"/> member is added here once.
/// </summary>
public abstract class DelegatingEventLog(IEventLog inner) : IEventLog
{
    protected IEventLog Inner { get; } = inner;

    public virtual string Epoch => Inner.Epoch;

    public long HeadSeq => Inner.HeadSeq;

    public Subscriptions.SubscriptionIndex Subscriptions => Inner.Subscriptions;

    public long RefreshHeadSeq() => Inner.RefreshHeadSeq();

    public virtual Task<AppendResult> AppendAsync(IReadOnlyList<EventDraft> events, IdempotencyRequest? idempotency = null, CancellationToken cancellationToken = default) =>
        Inner.AppendAsync(events, idempotency, cancellationToken);

    public virtual ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(filter, afterSeq, limit, cancellationToken);

    public ValueTask<EventRecord?> ReadEventAsync(long seq, CancellationToken cancellationToken = default) => Inner.ReadEventAsync(seq, cancellationToken);

    public long EarliestAfterSeq(TopicFilter filter) => Inner.EarliestAfterSeq(filter);

    public ValueTask<long> AfterSeqForLastAsync(TopicFilter filter, int count, CancellationToken cancellationToken = default) =>
        Inner.AfterSeqForLastAsync(filter, count, cancellationToken);

    public Task<TrimResult> TrimAsync(RetentionPolicy policy, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        Inner.TrimAsync(policy, now, cancellationToken);

    public ValueTask DisposeAsync() => Inner.DisposeAsync();
}
