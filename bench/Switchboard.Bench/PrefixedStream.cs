namespace Switchboard.Bench;

/// <summary>
/// Read-only stream that first replays bytes already consumed from <c>inner</c> and then reads
/// <c>inner</c> itself. Lets the subscriber peek at the SSE preamble (to know it is subscribed)
/// and still hand an unmodified byte sequence to SseParser.
/// </summary>
internal sealed class PrefixedStream(byte[] prefix, int offset, int count, Stream inner) : Stream
{
    private int _offset = offset;
    private int _remaining = count;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_remaining > 0)
        {
            return CopyPrefix(buffer);
        }

        return inner.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_remaining > 0)
        {
            return ValueTask.FromResult(CopyPrefix(buffer.Span));
        }

        return inner.ReadAsync(buffer, cancellationToken);
    }

    private int CopyPrefix(Span<byte> destination)
    {
        var n = Math.Min(_remaining, destination.Length);
        prefix.AsSpan(_offset, n).CopyTo(destination);
        _offset += n;
        _remaining -= n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
