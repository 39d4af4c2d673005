using Switchboard.Topics;

namespace Switchboard.Subscriptions;

/// <summary>
/// One reader's wake-up: the <see cref="SubscriptionIndex"/> sets it when a commit holds an event its filter matches,
/// and the <see cref="TailClock"/> sets it when a deadline it asked for comes.
/// </summary>
public sealed class LogWaiter : WakeSignal
{
    internal LogWaiter(TopicFilter filter, Action<object?>? onSet = null, object? onSetState = null)
        : base(onSet, onSetState) => Filter = filter;

    /// <summary>The topics this waiter is woken for.</summary>
    public TopicFilter Filter { get; }

    /// <summary>Set while registered in an index; guarded by that index's lock.</summary>
    internal bool Registered { get; set; }

    /// <summary>The earliest deadline queued for it on a clock (0: none); guarded by that clock's lock.</summary>
    internal long ScheduledAt { get; set; }
}
