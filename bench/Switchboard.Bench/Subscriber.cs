using System.Diagnostics;

namespace Switchboard.Bench;

/// <summary>
/// One SSE subscription plus its counters. Counters are written only by the subscriber's own read
/// loop; the coordinator reads them with Volatile while draining, and reads <see cref="Latencies"/>
/// only after <see cref="RunAsync"/> completed.
/// </summary>
internal abstract class Subscriber : IDisposable
{
    /// <summary>Timestamp value meaning "not a bench event" (reset/control/foreign frames).</summary>
    public const long NotABenchEvent = -1;

    private readonly MeasurementWindow _window;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SemaphoreSlim? _connectGate;
    private long _started;
    private long _receivedInWindow;
    private long _receivedForWindow;
    private long _receivedTotal;
    private long _controlFrames;
    private long _readyAfterTicks = -1;
    private string? _error;

    protected Subscriber(MeasurementWindow window, int expectedSamples)
    {
        _window = window;
        Latencies = new LatencyRecorder(expectedSamples);
    }

    /// <summary>Completes true once subscribed (headers plus first SSE line, normally "retry:"); false on failure.</summary>
    public Task<bool> Ready => _ready.Task;

    public bool IsReady => _ready.Task.IsCompletedSuccessfully && _ready.Task.Result;

    /// <summary>Events whose receive time fell inside the window (throughput numerator).</summary>
    public long ReceivedInWindow => Volatile.Read(ref _receivedInWindow);

    /// <summary>Events whose publish timestamp fell inside the window, whenever received (loss numerator).</summary>
    public long ReceivedForWindow => Volatile.Read(ref _receivedForWindow);

    public long ReceivedTotal => Volatile.Read(ref _receivedTotal);

    public long ControlFrames => Volatile.Read(ref _controlFrames);

    /// <summary>Ticks from starting the request to being ready; -1 if never ready.</summary>
    public long ReadyAfterTicks => Volatile.Read(ref _readyAfterTicks);

    public string? Error => Volatile.Read(ref _error);

    /// <summary>Publish-to-receive latencies of events published inside the window.</summary>
    public LatencyRecorder Latencies { get; }

    public void Stop() => _stop.Cancel();

    public void Dispose()
    {
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Connects (holding a slot of <paramref name="connectGate"/> until ready) and consumes until stopped. Never throws.</summary>
    public async Task RunAsync(SemaphoreSlim connectGate, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var ct = linked.Token;
        try
        {
            await connectGate.WaitAsync(ct);
            _connectGate = connectGate;
            _started = Stopwatch.GetTimestamp();
            await RunCoreAsync(ct);
            Fail(IsReady ? "stream ended by server" : "stream ended before it was ready");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Normal shutdown (Stop, run deadline or Ctrl+C).
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            Fail($"{ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            ReleaseGate();
            _ready.TrySetResult(false);
        }
    }

    /// <summary>Connect, call <see cref="MarkReady"/> once subscribed, then consume until the stream ends or <paramref name="ct"/> fires.</summary>
    protected abstract Task RunCoreAsync(CancellationToken ct);

    protected void Fail(string message) => Interlocked.CompareExchange(ref _error, message, null);

    protected void MarkReady()
    {
        if (_ready.Task.IsCompleted)
        {
            return;
        }

        Volatile.Write(ref _readyAfterTicks, Stopwatch.GetTimestamp() - _started);
        // Free the connect slot as soon as we are subscribed so the next connection can start.
        ReleaseGate();
        _ready.TrySetResult(true);
    }

    private void ReleaseGate() => Interlocked.Exchange(ref _connectGate, null)?.Release();

    /// <summary>Accounts one parsed frame; <paramref name="sent"/> is the publisher's timestamp or <see cref="NotABenchEvent"/>.</summary>
    protected void OnFrame(long sent)
    {
        var now = Stopwatch.GetTimestamp();
        if (sent == NotABenchEvent)
        {
            Volatile.Write(ref _controlFrames, _controlFrames + 1);
            return;
        }

        Volatile.Write(ref _receivedTotal, _receivedTotal + 1);
        if (_window.Contains(now))
        {
            Volatile.Write(ref _receivedInWindow, _receivedInWindow + 1);
        }

        if (_window.Contains(sent))
        {
            Latencies.Record(now - sent);
            Volatile.Write(ref _receivedForWindow, _receivedForWindow + 1);
        }
    }
}
