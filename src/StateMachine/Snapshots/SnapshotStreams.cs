using System.Buffers;

namespace RaftKv.StateMachine.Snapshots;

/// <summary>A write-only stream into an <see cref="IBufferWriter{T}"/> (a snapshot written to memory).</summary>
internal sealed class BufferWriterStream(IBufferWriter<byte> destination) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => destination.Write(buffer);

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>A read-only stream over a <see cref="ReadOnlySequence{T}"/> (a snapshot held in memory).</summary>
internal sealed class ReadOnlySequenceStream(ReadOnlySequence<byte> source) : Stream
{
    private ReadOnlySequence<byte> remaining = source;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var take = (int)Math.Min(buffer.Length, remaining.Length);
        remaining.Slice(0, take).CopyTo(buffer);
        remaining = remaining.Slice(take);
        return take;
    }

    public override void Flush()
    {
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>The lock of a store nobody else uses: nothing to take.</summary>
internal sealed class NoLock : IDisposable
{
    public static readonly NoLock Instance = new();

    public void Dispose()
    {
    }
}
