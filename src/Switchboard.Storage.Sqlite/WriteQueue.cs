using System.Threading.Channels;

namespace Switchboard.Storage.Sqlite;

/// <summary>
/// The bounded queue in front of the SQLite writer thread: many producers, one consumer that blocks on a thread of its own.
/// </summary>
/// <remarks>
/// Why not a bounded <see cref="Channel{T}"/>: its reader is asynchronous, so waking a writer thread blocked on
/// <c>WaitToReadAsync().AsTask()</c> took two wake-ups per group commit (the channel queues the waiter's continuation to
/// the thread pool, whose thread then signals the writer). Here the producer that finds the consumer parked signals it
/// itself, under the lock the consumer waits on: one wake-up, and none while the consumer is busy committing (it drains
/// what arrived meanwhile on its next pass). A producer never runs consumer code, nor the other way round: a full queue
/// parks producers on a semaphore whose waiters resume on the thread pool, not on the writer thread.
/// </remarks>
internal sealed class WriteQueue<T>
{
    private readonly object _gate = new();
    private readonly Queue<T> _items = new();
    private readonly SemaphoreSlim _space;
    private int _queued; // _items.Count, readable without the lock: what the consumer spins on before it parks
    private bool _consumerParked;
    private bool _completed;
    private long _consumerWakeups;

    private const int SpinsBeforePark = 35;

    public WriteQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _space = new SemaphoreSlim(capacity, int.MaxValue);
    }

    /// <summary>How many times the consumer was woken from a wait: at most one per group commit, none when the spin caught the work.</summary>
    public long ConsumerWakeups => Interlocked.Read(ref _consumerWakeups);

    /// <summary>Items queued and not yet taken by the consumer.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Queues <paramref name="item"/>, waiting for room when the queue is full; throws <see cref="ChannelClosedException"/> once completed.</summary>
    public async ValueTask EnqueueAsync(T item, CancellationToken cancellationToken)
    {
        // Synchronous while there is room (SemaphoreSlim completes at once without allocating).
        await _space.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (_completed)
            {
                // Hand the slot on, so every producer still waiting for room learns of the close the same way.
                _space.Release();
                throw new ChannelClosedException();
            }

            _items.Enqueue(item);
            Volatile.Write(ref _queued, _items.Count);
            if (_consumerParked)
            {
                _consumerParked = false;
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>
    /// Blocks the consumer until something is queued, then moves items into <paramref name="batch"/> until their
    /// <paramref name="weight"/> reaches <paramref name="maxWeight"/>. False once completed and empty.
    /// </summary>
    public bool WaitAndTake(List<T> batch, Func<T, int> weight, int maxWeight)
    {
        // A publisher waiting alone for its ack publishes again right after it: a short spin (as long as the runtime's own
        // spin before a blocking wait) catches that without a sleep and a wake-up; after it, the consumer parks.
        for (var spin = new SpinWait(); Volatile.Read(ref _queued) == 0 && spin.Count < SpinsBeforePark;)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        lock (_gate)
        {
            while (_items.Count == 0)
            {
                if (_completed)
                {
                    return false;
                }

                _consumerParked = true;
                Monitor.Wait(_gate);
                Interlocked.Increment(ref _consumerWakeups);
            }

            var taken = 0;
            while (taken < maxWeight && _items.TryDequeue(out var item))
            {
                batch.Add(item);
                taken += weight(item);
            }

            Volatile.Write(ref _queued, _items.Count);
        }

        _space.Release(batch.Count);
        return true;
    }

    /// <summary>Refuses new items; the consumer still takes what is queued, then <see cref="WaitAndTake"/> returns false.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            if (_consumerParked)
            {
                _consumerParked = false;
                Monitor.Pulse(_gate);
            }
        }
    }
}
