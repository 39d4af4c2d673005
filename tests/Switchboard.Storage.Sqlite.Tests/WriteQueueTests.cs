using System.Threading.Channels;
using Switchboard.Storage.Sqlite;
using Switchboard.Testing;

namespace Switchboard.Storage.Sqlite.Tests;

public sealed class WriteQueueTests
{
    private static readonly Func<int, int> One = static _ => 1;

    [Fact]
    public void EnqueueAsync_WithRoom_CompletesSynchronously()
    {
        var queue = new WriteQueue<int>(2);

        var first = queue.EnqueueAsync(1, CancellationToken.None);
        var second = queue.EnqueueAsync(2, CancellationToken.None);

        Assert.True(first.IsCompletedSuccessfully && second.IsCompletedSuccessfully);
        var batch = new List<int>();
        Assert.True(queue.WaitAndTake(batch, One, 10));
        Assert.Equal([1, 2], batch);
    }

    [Fact]
    public async Task EnqueueAsync_Full_WaitsForTheConsumerAndResumesOffItsThread()
    {
        var queue = new WriteQueue<int>(2);
        await queue.EnqueueAsync(1, CancellationToken.None);
        await queue.EnqueueAsync(2, CancellationToken.None);
        var resumedOn = -1;
        var third = Task.Run(async () =>
        {
            await queue.EnqueueAsync(3, CancellationToken.None);
            resumedOn = Environment.CurrentManagedThreadId;
        });

        // The third stays queued for room until the consumer takes; taking frees room for it.
        var batch = new List<int>();
        var consumerThread = -1;
        var consumer = new Thread(() =>
        {
            consumerThread = Environment.CurrentManagedThreadId;
            while (batch.Count < 3 && queue.WaitAndTake(batch, One, 10))
            {
            }
        });
        consumer.Start();
        await third.Within();
        consumer.Join();

        Assert.Equal([1, 2, 3], batch);
        // Freeing room never runs a producer's continuation on the writer thread.
        Assert.NotEqual(consumerThread, resumedOn);
    }

    [Fact]
    public void WaitAndTake_StopsAtMaxWeight_AndKeepsTheRestForTheNextTake()
    {
        var queue = new WriteQueue<int>(10);
        foreach (var item in new[] { 3, 3, 3, 1 })
        {
            Assert.True(queue.EnqueueAsync(item, CancellationToken.None).IsCompletedSuccessfully);
        }

        var first = new List<int>();
        var second = new List<int>();
        Assert.True(queue.WaitAndTake(first, static weight => weight, 5));
        Assert.True(queue.WaitAndTake(second, static weight => weight, 5));

        Assert.Equal([3, 3], first);
        Assert.Equal([3, 1], second);
    }

    [Fact]
    public async Task WaitAndTake_ParkedConsumer_IsWokenAtMostOncePerItemByTheProducer()
    {
        var queue = new WriteQueue<int>(10);
        var taken = new List<int>();
        using var tookOne = new SemaphoreSlim(0);
        var consumer = new Thread(() =>
        {
            var batch = new List<int>();
            while (queue.WaitAndTake(batch, One, 10))
            {
                taken.AddRange(batch);
                batch.Clear();
                tookOne.Release();
            }
        });
        consumer.Start();

        for (var i = 0; i < 50; i++)
        {
            // One at a time, so the consumer has gone idle (spinning, then parked) before each arrives.
            await queue.EnqueueAsync(i, CancellationToken.None);
            Assert.True(await tookOne.WaitAsync(Waiting.DefaultTimeout), $"the consumer takes item {i}");
        }

        queue.Complete();
        consumer.Join();

        Assert.Equal(Enumerable.Range(0, 50), taken);
        // The producer wakes a parked consumer itself: never more than one wake-up per item.
        Assert.InRange(queue.ConsumerWakeups, 0, 50);
    }

    [Fact]
    public async Task Complete_DrainsWhatIsQueued_ThenRefusesProducers()
    {
        var queue = new WriteQueue<int>(1);
        await queue.EnqueueAsync(1, CancellationToken.None);
        var waitingForRoom = queue.EnqueueAsync(2, CancellationToken.None).AsTask();
        Assert.False(waitingForRoom.IsCompleted);

        queue.Complete();
        var batch = new List<int>();
        Assert.True(queue.WaitAndTake(batch, One, 10));

        Assert.Equal([1], batch);
        await Assert.ThrowsAsync<ChannelClosedException>(() => waitingForRoom.Within());
        await Assert.ThrowsAsync<ChannelClosedException>(() => queue.EnqueueAsync(3, CancellationToken.None).AsTask());
        Assert.False(queue.WaitAndTake(batch, One, 10));
    }

    [Fact]
    public async Task EnqueueAsync_CanceledWhileFull_ThrowsAndQueuesNothing()
    {
        var queue = new WriteQueue<int>(1);
        await queue.EnqueueAsync(1, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = queue.EnqueueAsync(2, cancel.Token).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.Within());
        var batch = new List<int>();
        Assert.True(queue.WaitAndTake(batch, One, 10));
        Assert.Equal([1], batch);
        Assert.True(queue.EnqueueAsync(3, CancellationToken.None).IsCompletedSuccessfully);
    }
}
