namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// The upgraded connection's stream, between Kestrel and the runtime's WebSocket, so the shared sweep can do the
/// keep-alive that the runtime would do with a timer per socket: it notes when bytes last arrived from the peer
/// (any frame, pongs included, which the runtime consumes without telling its caller), and it can put a ping frame
/// on the wire between the runtime's frames. Writes are serialized (the runtime's own sends and the pongs its
/// receive path answers with never overlap each other, but a ping from the sweep could overlap either), and the
/// frames going out are followed so a ping never lands inside one, however the runtime splits its writes.
/// <para>
/// The send loop can also <see cref="Cork"/> it: the frames of one pass (replies and every subscription's batch)
/// then collect in one pooled buffer of at most <see cref="CorkLimit"/> bytes and leave in one write at
/// <see cref="UncorkAsync"/>, so a reader that is a few events behind costs one flush and one <c>send</c> instead of
/// one per event. The buffer is rented per pass, so an idle connection holds none.
/// </para>
/// </summary>
internal sealed class KeepAliveStream : Stream
{
    /// <summary>A server's ping: FIN + opcode 9, unmasked, with 8 bytes of payload the peer echoes back in its pong.</summary>
    private static readonly byte[] PingFrame = [0x89, 0x08, (byte)'s', (byte)'w', (byte)'b', (byte)'d', (byte)'p', (byte)'i', (byte)'n', (byte)'g'];

    private readonly Stream _inner;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private long _lastReceived;

    /// <summary>The most a pass holds back; a frame that would not fit sends what is held, then goes out itself.</summary>
    internal const int CorkLimit = 16 * 1024;

    // Set and cleared by the send loop only; read under the write gate.
    private volatile bool _corked;
    private byte[]? _held;
    private int _heldLength;

    // Where the outgoing byte stream is within a frame: header bytes seen so far and needed, the payload length
    // being read from the header, and payload bytes still to come. All zero at a frame boundary.
    private int _headerSeen;
    private int _headerNeeded;
    private int _lengthBytes;
    private readonly bool _innerWritesThrough;
    private long _payloadLength;
    private long _payloadRemaining;

    /// <param name="inner">The connection's stream.</param>
    /// <param name="time">The clock of <see cref="LastReceived"/>.</param>
    /// <param name="innerWritesThrough">
    /// True when every write to <paramref name="inner"/> already reaches the wire, as on Kestrel's upgraded stream (each
    /// write is a write and a flush of its pipe). The runtime's WebSocket flushes after every frame it sends; passed on,
    /// that was a second pipe flush per message for nothing, so here it completes at once.
    /// </param>
    public KeepAliveStream(Stream inner, TimeProvider time, bool innerWritesThrough = false)
    {
        _inner = inner;
        _time = time;
        _innerWritesThrough = innerWritesThrough;
        _lastReceived = time.GetTimestamp();
    }

    /// <summary>When bytes last arrived from the peer (a <see cref="TimeProvider.GetTimestamp"/> value); the upgrade before any.</summary>
    public long LastReceived => Volatile.Read(ref _lastReceived);

    /// <summary>
    /// Puts a ping on the wire unless a write is in flight or a frame is half written; then the caller tries again
    /// later. A ping whose write does not complete at once holds the wire until it does, as any send would.
    /// </summary>
    public bool TryPing()
    {
        if (!_writeGate.Wait(0))
        {
            return false;
        }

        ValueTask write;
        try
        {
            if (!AtFrameBoundary || _heldLength > 0)
            {
                _writeGate.Release();
                return false;
            }

            write = _inner.WriteAsync(PingFrame, CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            _writeGate.Release();
            return false;
        }

        if (write.IsCompleted)
        {
            _writeGate.Release();
            return write.IsCompletedSuccessfully;
        }

        _ = ReleaseWhenWrittenAsync(write);
        return true;
    }

    private async Task ReleaseWhenWrittenAsync(ValueTask write)
    {
        try
        {
            await write;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The connection broke; the receive loop finds out and ends it.
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private bool AtFrameBoundary => _headerSeen == 0 && _payloadRemaining == 0;

    /// <summary>Follows outgoing bytes through RFC 6455 frame headers (2 bytes, 2 or 8 more of length, 4 of mask if set) and payloads.</summary>
    private void Track(ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            if (_payloadRemaining > 0)
            {
                var skip = (int)Math.Min(_payloadRemaining, data.Length);
                _payloadRemaining -= skip;
                data = data[skip..];
                continue;
            }

            var b = data[0];
            data = data[1..];
            _headerSeen++;
            if (_headerSeen == 2)
            {
                var length = b & 0x7F;
                _lengthBytes = length switch { 126 => 2, 127 => 8, _ => 0 };
                _headerNeeded = 2 + _lengthBytes + ((b & 0x80) != 0 ? 4 : 0);
                _payloadLength = _lengthBytes == 0 ? length : 0;
            }
            else if (_headerSeen > 2 && _headerSeen <= 2 + _lengthBytes)
            {
                _payloadLength = (_payloadLength << 8) | b;
            }

            if (_headerSeen >= 2 && _headerSeen == _headerNeeded)
            {
                _headerSeen = 0;
                _payloadRemaining = _payloadLength;
                _payloadLength = 0;
            }
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = _inner.ReadAsync(buffer, cancellationToken);
        if (buffer.IsEmpty)
        {
            // A zero-byte read only waits for data (an idle connection's receive), and the read that follows takes the
            // bytes and counts them; passing it through keeps an idle connection free of a pending state machine.
            return read;
        }

        if (read.IsCompletedSuccessfully)
        {
            var count = read.Result;
            if (count > 0)
            {
                Volatile.Write(ref _lastReceived, _time.GetTimestamp());
            }

            return new ValueTask<int>(count);
        }

        return NoteWhenReadAsync(read);
    }

    private async ValueTask<int> NoteWhenReadAsync(ValueTask<int> read)
    {
        var count = await read;
        if (count > 0)
        {
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        }

        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = _inner.Read(buffer, offset, count);
        if (read > 0)
        {
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        }

        return read;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var entered = _writeGate.WaitAsync(cancellationToken);
        if (!entered.IsCompletedSuccessfully)
        {
            return WriteAfterPingAsync(entered, buffer, cancellationToken);
        }

        return WriteEnteredAsync(buffer, cancellationToken);
    }

    private async ValueTask WriteAfterPingAsync(Task entered, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await entered;
        await WriteEnteredAsync(buffer, cancellationToken);
    }

    private ValueTask WriteEnteredAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        ValueTask write;
        try
        {
            Track(buffer.Span);
            if (_corked)
            {
                if (_heldLength + buffer.Length <= CorkLimit)
                {
                    _held ??= System.Buffers.ArrayPool<byte>.Shared.Rent(CorkLimit);
                    buffer.Span.CopyTo(_held.AsSpan(_heldLength));
                    _heldLength += buffer.Length;
                    _writeGate.Release();
                    return default;
                }

                return WriteHeldThenAsync(buffer, cancellationToken);
            }

            write = _inner.WriteAsync(buffer, cancellationToken);
        }
        catch
        {
            _writeGate.Release();
            throw;
        }

        if (write.IsCompletedSuccessfully)
        {
            _writeGate.Release();
            return default;
        }

        return ReleaseAfterAsync(write);
    }

    /// <summary>A frame too big for what is left of the cork: what is held goes first, in order, then the frame.</summary>
    private async ValueTask WriteHeldThenAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await WriteHeldAsync(cancellationToken);
            await _inner.WriteAsync(buffer, cancellationToken);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Writes what the cork holds and gives the buffer back. Called with the write gate held.</summary>
    private async ValueTask WriteHeldAsync(CancellationToken cancellationToken)
    {
        if (_held is not { } held)
        {
            return;
        }

        var length = _heldLength;
        _held = null;
        _heldLength = 0;
        try
        {
            if (length > 0)
            {
                await _inner.WriteAsync(held.AsMemory(0, length), cancellationToken);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(held);
        }
    }

    /// <summary>Holds the frames written from now on until <see cref="UncorkAsync"/>. For the send loop only.</summary>
    public void Cork() => _corked = true;

    /// <summary>
    /// Sends what the cork holds in one write and ends the cork. Returns the write to await; a slow peer keeps it
    /// pending as it would any send.
    /// </summary>
    public ValueTask UncorkAsync()
    {
        _corked = false;
        var entered = _writeGate.WaitAsync(CancellationToken.None);
        if (entered.IsCompletedSuccessfully && _held is null)
        {
            _writeGate.Release();
            return default;
        }

        return UncorkEnteredAsync(entered);
    }

    private async ValueTask UncorkEnteredAsync(Task entered)
    {
        await entered;
        try
        {
            await WriteHeldAsync(CancellationToken.None);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async ValueTask ReleaseAfterAsync(ValueTask write)
    {
        try
        {
            await write;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _writeGate.Wait();
        try
        {
            Track(buffer.AsSpan(offset, count));
            if (_held is not null)
            {
                WriteHeldAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }

            _inner.Write(buffer, offset, count);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _innerWritesThrough ? Task.CompletedTask : _inner.FlushAsync(cancellationToken);

    public override void Flush()
    {
        if (!_innerWritesThrough)
        {
            _inner.Flush();
        }
    }

    public override bool CanRead => _inner.CanRead;

    public override bool CanWrite => _inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => _inner.DisposeAsync();
}
