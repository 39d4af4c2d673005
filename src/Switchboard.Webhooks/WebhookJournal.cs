using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Switchboard.Webhooks;

/// <summary>
/// The one writer of webhook state. Deliveries record their outcome here without waiting; a loop drains
/// what has queued up and applies it in one store transaction (group commit), keeping only the newest
/// progress per endpoint in a batch. Order is kept, so a cursor is never stored ahead of the retry it passes.
/// Administrative changes wait for their commit through <see cref="CommitAsync"/>.
/// </summary>
internal sealed partial class WebhookJournal : IAsyncDisposable
{
    private const int MaxBatch = 2048;

    private readonly IWebhookStore _store;
    private readonly ILogger _logger;
    private readonly Channel<Entry> _entries = Channel.CreateBounded<Entry>(new BoundedChannelOptions(16_384)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly Task _loop;
    private volatile bool _stopping;

    public WebhookJournal(IWebhookStore store, ILogger logger)
    {
        _store = store;
        _logger = logger;
        _loop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Queues a change; waits only when the queue is full (the store is behind), which slows deliveries down.</summary>
    public ValueTask RecordAsync(WebhookChange change, CancellationToken cancellationToken = default) =>
        _entries.Writer.WriteAsync(new Entry(change, null), cancellationToken);

    /// <summary>Queues the changes and waits until they and everything before them are stored.</summary>
    public async Task CommitAsync(IReadOnlyList<WebhookChange> changes, CancellationToken cancellationToken = default)
    {
        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < changes.Count; i++)
        {
            await _entries.Writer.WriteAsync(new Entry(changes[i], i == changes.Count - 1 ? committed : null, Administrative: true), cancellationToken).ConfigureAwait(false);
        }

        if (changes.Count == 0)
        {
            await _entries.Writer.WriteAsync(new Entry(null, committed), cancellationToken).ConfigureAwait(false);
        }

        await committed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<WebhookChange>(MaxBatch);
        var administrative = new List<bool>(MaxBatch);
        var waiters = new List<(TaskCompletionSource Waiter, bool Flush)>();
        var progressIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var reader = _entries.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out var entry))
            {
                if (!entry.Administrative && entry.Change is WebhookProgressSaved progress && progressIndex.TryGetValue(progress.EndpointId, out var at))
                {
                    batch[at] = progress; // newer progress replaces older in the same transaction
                }
                else if (entry.Change is not null)
                {
                    if (!entry.Administrative && entry.Change is WebhookProgressSaved saved)
                    {
                        progressIndex[saved.EndpointId] = batch.Count;
                    }

                    batch.Add(entry.Change);
                    administrative.Add(entry.Administrative);
                }

                if (entry.Committed is not null)
                {
                    waiters.Add((entry.Committed, entry.Change is null));
                }
            }

            // Never drop a batch: a later batch could store a cursor past a retry this one holds. While the store
            // fails, the bounded queue fills and deliveries wait: backpressure instead of lost events.
            Exception? failure = null;
            var delay = TimeSpan.FromMilliseconds(50);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await _store.ApplyAsync(batch).ConfigureAwait(false);
                    failure = null;
                    break;
                }
                catch (Switchboard.Log.StoreFullException full) when (administrative.Contains(true) || waiters.Count > 0)
                {
                    // A full disk: refuse the API's changes now (their callers get 507 store-full) rather than holding
                    // them until space returns, answer flushes with what is stored (reads keep working), and keep
                    // retrying the deliveries' own state, which is never dropped. The store logs the episode once.
                    for (var i = batch.Count - 1; i >= 0; i--)
                    {
                        if (administrative[i])
                        {
                            batch.RemoveAt(i);
                            administrative.RemoveAt(i);
                        }
                    }

                    foreach (var (waiter, flush) in waiters)
                    {
                        if (flush)
                        {
                            waiter.TrySetResult();
                        }
                        else
                        {
                            waiter.TrySetException(full);
                        }
                    }

                    waiters.Clear();
                    progressIndex.Clear();
                    failure = full;
                    if (batch.Count == 0)
                    {
                        failure = null;
                        break;
                    }

                    await Task.Delay(delay).ConfigureAwait(false);
                }
                catch (Exception unavailable) when (unavailable is not Switchboard.Log.StoreFullException && administrative.Contains(true))
                {
                    // An unreachable or failing store: refuse the API's changes now (their callers get 503
                    // store-unavailable, as every other write does while the store is down) rather than holding the
                    // request until the store is back. Flushes and the deliveries' own state keep waiting and retrying
                    // as below: a flush answers only once everything before it is stored.
                    LogApplyFailed(_logger, batch.Count, attempt, unavailable);
                    for (var i = batch.Count - 1; i >= 0; i--)
                    {
                        if (administrative[i])
                        {
                            batch.RemoveAt(i);
                            administrative.RemoveAt(i);
                        }
                    }

                    foreach (var (waiter, _) in waiters.Where(w => !w.Flush))
                    {
                        waiter.TrySetException(unavailable);
                    }

                    waiters.RemoveAll(w => !w.Flush);
                    progressIndex.Clear();
                    if (batch.Count == 0)
                    {
                        failure = null; // what came before was stored by earlier batches: the flushes are answered truly
                        break;
                    }

                    failure = unavailable;
                    await Task.Delay(delay).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
                catch (Exception ex)
                {
                    failure = ex;
                    if (ex is not Switchboard.Log.StoreFullException)
                    {
                        LogApplyFailed(_logger, batch.Count, attempt, ex);
                    }

                    if (_stopping && attempt >= 5)
                    {
                        break; // shutting down and the store stays broken: give up, the next start redelivers
                    }

                    await Task.Delay(delay).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }

            foreach (var (waiter, _) in waiters)
            {
                if (failure is null)
                {
                    waiter.TrySetResult();
                }
                else
                {
                    waiter.TrySetException(failure);
                }
            }

            batch.Clear();
            administrative.Clear();
            waiters.Clear();
            progressIndex.Clear();
        }
    }

    /// <summary>Stops taking changes and stores everything queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _entries.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private readonly record struct Entry(WebhookChange? Change, TaskCompletionSource? Committed, bool Administrative = false);

    [LoggerMessage(EventId = 400, Level = LogLevel.Error, Message = "Storing {Count} webhook state changes failed (attempt {Attempt}); retrying, deliveries wait meanwhile")]
    private static partial void LogApplyFailed(ILogger logger, int count, int attempt, Exception exception);
}
