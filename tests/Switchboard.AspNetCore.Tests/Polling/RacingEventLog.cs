using System.Text;
using Switchboard.Events;
using Switchboard.Log;
using Switchboard.Testing.Log;
using Switchboard.Topics;

namespace Switchboard.AspNetCore.Tests.Polling;

/// <summary>
/// Simulates a publish landing between a reader's check and its wait: the first read for
/// <paramref name="watchedTopic"/> that finds nothing appends a matching event through the inner log
/// <em>before</em> returning its (empty) result. A reader that starts listening only after the check misses
/// that append and sleeps through its whole wait; one that registered first wakes at once.
/// </summary>
internal sealed class RacingEventLog(IEventLog inner, string watchedTopic) : DelegatingEventLog(inner)
{
    private int _fired;

    /// <summary>True once the racing append has been made.</summary>
    public bool Fired => Volatile.Read(ref _fired) == 1;

    public override async ValueTask<LogReadResult> ReadAsync(TopicFilter filter, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        var result = await Inner.ReadAsync(filter, afterSeq, limit, cancellationToken);
        if (result.Events.Count == 0 && result.Gap is null && filter.Matches(watchedTopic) && Interlocked.CompareExchange(ref _fired, 1, 0) == 0)
        {
            await Inner.AppendAsync([new EventDraft(watchedTopic, "raced", Encoding.UTF8.GetBytes("""{"raced":true}"""))], cancellationToken: cancellationToken);
        }

        return result;
    }
}
