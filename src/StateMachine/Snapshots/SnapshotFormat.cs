using System.Buffers.Binary;
using System.IO.Hashing;

namespace RaftKv.StateMachine.Snapshots;

/// <summary>Where a snapshot file says it was taken: the log position and the cluster time of its state.</summary>
/// <param name="Index">The last log entry the state includes.</param>
/// <param name="Term">That entry's term.</param>
/// <param name="ClusterTime">Cluster time of the state (Unix ms): expiries are absolute in it.</param>
public readonly record struct SnapshotPosition(long Index, long Term, long ClusterTime);

/// <summary>
/// The snapshot file format, version 5: a header, a stream of checksummed blocks, and a trailer. Streamed both ways,
/// so a state of any size (values of 512 MB, states far above 2 GiB) is written and read in bounded memory.
/// </summary>
/// <remarks>
/// <para>
/// <c>header</c> = <c>"RAFTKVSN"</c>, u32 version (5), u32 reserved (0), i64 index, i64 term, i64 cluster time,
/// u64 XXH3 of the 40 bytes before it. Then blocks <c>[u32 length 1..1 MiB][payload][u64 XXH3(payload, seed = block
/// number)]</c>, then <c>[u32 0]</c> and the trailer <c>[u64 blocks][u64 payload bytes][u64 XXH3 of those 16 bytes]</c>.
/// All integers little-endian. The seed ties each block to its place, so a block lost, repeated or moved fails its
/// check, and a file cut anywhere lacks its trailer.
/// </para>
/// <para>
/// The payload, read as one byte stream: the <c>meta</c> record <c>[u32 length][MessagePack: [scripts, sessions,
/// settings, ACL]]</c> (the bounded part of the state, in the encoding of format 4), then one record per stored key
/// <c>[u8 database 0..15][u32 key length][key][i64 expireAt][u32 value length][value]</c>, then <c>[u8 0xFF]</c>.
/// Keys appear in no particular order, each once.
/// </para>
/// <para>
/// Formats 1–4 (one MessagePack array, written whole) still restore: their first byte is a MessagePack array header,
/// never the <c>R</c> of the magic.
/// </para>
/// </remarks>
public static class SnapshotFormat
{
    /// <summary>The version this code writes.</summary>
    public const int Version = 5;

    /// <summary>The largest block payload (what a reader buffers at once).</summary>
    public const int MaxBlockBytes = 1 << 20;

    /// <summary>Bytes of the header.</summary>
    public const int HeaderBytes = 48;

    /// <summary>The record tag that ends the key records.</summary>
    internal const byte EndOfRecords = 0xFF;

    private static ReadOnlySpan<byte> Magic => "RAFTKVSN"u8;

    /// <summary>True when <paramref name="start"/> (at least the first 8 bytes of a file) begins a format-5 snapshot.</summary>
    public static bool IsStreamed(ReadOnlySpan<byte> start) => start.StartsWith(Magic);

    /// <summary>Reads and checks the header of a format-5 snapshot.</summary>
    /// <exception cref="InvalidDataException">Not a format-5 snapshot, or a damaged header.</exception>
    public static SnapshotPosition ReadHeader(Stream source)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (source.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes)
            throw new InvalidDataException("The snapshot is shorter than its header.");
        if (!IsStreamed(header))
            throw new InvalidDataException("Not a RaftKv snapshot of format 5.");
        if (XxHash3.HashToUInt64(header[..40]) != BinaryPrimitives.ReadUInt64LittleEndian(header[40..]))
            throw new InvalidDataException("The snapshot's header fails its checksum.");
        var version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version != Version)
            throw new InvalidDataException($"Unknown snapshot format {version}.");
        return new SnapshotPosition(
            BinaryPrimitives.ReadInt64LittleEndian(header[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(header[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(header[32..]));
    }

    /// <summary>Reads a whole format-5 snapshot, checking every block and the trailer, and returns its header.</summary>
    /// <exception cref="InvalidDataException">The file is damaged; the message says where.</exception>
    public static SnapshotPosition Verify(Stream source)
    {
        var position = ReadHeader(source);
        using var reader = new SnapshotBlockReader(source);
        reader.SkipToEnd();
        return position;
    }

    internal static void WriteHeader(Stream destination, SnapshotPosition position)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], position.Index);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], position.Term);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], position.ClusterTime);
        BinaryPrimitives.WriteUInt64LittleEndian(header[40..], XxHash3.HashToUInt64(header[..40]));
        destination.Write(header);
    }
}

/// <summary>Cuts a byte stream into checksummed blocks (<see cref="SnapshotFormat"/>) on a destination stream.</summary>
internal sealed class SnapshotBlockWriter(Stream destination) : IDisposable
{
    private readonly byte[] block = System.Buffers.ArrayPool<byte>.Shared.Rent(SnapshotFormat.MaxBlockBytes);
    private int filled;
    private ulong blocks;
    private ulong payloadBytes;

    /// <summary>Payload bytes written so far.</summary>
    public long PayloadBytes => (long)payloadBytes + filled;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var take = Math.Min(bytes.Length, SnapshotFormat.MaxBlockBytes - filled);
            bytes[..take].CopyTo(block.AsSpan(filled));
            filled += take;
            bytes = bytes[take..];
            if (filled == SnapshotFormat.MaxBlockBytes)
                FlushBlock();
        }
    }

    public void WriteByte(byte value) => Write([value]);

    public void WriteInt32(int value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        Write(bytes);
    }

    public void WriteInt64(long value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        Write(bytes);
    }

    /// <summary>Writes the last block, the end mark and the trailer.</summary>
    public void Complete()
    {
        if (filled > 0)
            FlushBlock();
        Span<byte> trailer = stackalloc byte[sizeof(int) + (3 * sizeof(ulong))];
        BinaryPrimitives.WriteInt32LittleEndian(trailer, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer[4..], blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer[12..], payloadBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(trailer[20..], XxHash3.HashToUInt64(trailer[4..20]));
        destination.Write(trailer);
    }

    private void FlushBlock()
    {
        Span<byte> frame = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteInt32LittleEndian(frame, filled);
        destination.Write(frame[..sizeof(int)]);
        destination.Write(block, 0, filled);
        BinaryPrimitives.WriteUInt64LittleEndian(frame, XxHash3.HashToUInt64(block.AsSpan(0, filled), (long)blocks));
        destination.Write(frame);
        blocks++;
        payloadBytes += (ulong)filled;
        filled = 0;
    }

    public void Dispose() => System.Buffers.ArrayPool<byte>.Shared.Return(block);
}

/// <summary>
/// Reads the payload of a format-5 snapshot as one byte stream, handing out a block's bytes only after the block passed
/// its checksum. Every failure is an <see cref="InvalidDataException"/> that names the block.
/// </summary>
internal sealed class SnapshotBlockReader(Stream source) : IDisposable
{
    private readonly byte[] block = System.Buffers.ArrayPool<byte>.Shared.Rent(SnapshotFormat.MaxBlockBytes);
    private int length;
    private int position;
    private ulong blocks;
    private ulong payloadBytes;
    private bool ended;

    /// <summary>Payload bytes handed out so far.</summary>
    public long Consumed => (long)payloadBytes - (length - position);

    public void ReadExactly(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            if (position == length && !NextBlock())
                throw new InvalidDataException($"The snapshot's records end early, in block {blocks}.");
            var take = Math.Min(destination.Length, length - position);
            block.AsSpan(position, take).CopyTo(destination);
            position += take;
            destination = destination[take..];
        }
    }

    public byte ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        ReadExactly(one);
        return one[0];
    }

    public int ReadInt32()
    {
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        ReadExactly(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }

    public long ReadInt64()
    {
        Span<byte> bytes = stackalloc byte[sizeof(long)];
        ReadExactly(bytes);
        return BinaryPrimitives.ReadInt64LittleEndian(bytes);
    }

    /// <summary>Reads a length-prefixed byte string of at most <paramref name="maxLength"/> bytes into a new array.</summary>
    public byte[] ReadBytes(int maxLength, string what)
    {
        var count = ReadInt32();
        if ((uint)count > (uint)maxLength)
            throw new InvalidDataException($"A {what} of {count} bytes in block {blocks} is out of range.");
        var bytes = GC.AllocateUninitializedArray<byte>(count);
        ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Checks that the payload is over and reads the trailer.</summary>
    public void ReadEnd()
    {
        if (position != length || NextBlock())
            throw new InvalidDataException($"Bytes after the snapshot's last record, in block {blocks}.");
        if (source.ReadByte() != -1)
            throw new InvalidDataException("Bytes after the snapshot's trailer.");
    }

    /// <summary>Reads and checks every remaining block and the trailer.</summary>
    public void SkipToEnd()
    {
        while (NextBlock())
        {
        }

        if (source.ReadByte() != -1)
            throw new InvalidDataException("Bytes after the snapshot's trailer.");
    }

    private bool NextBlock()
    {
        if (ended)
            return false;
        Span<byte> frame = stackalloc byte[sizeof(ulong)];
        Fill(frame[..sizeof(int)], "a block's length");
        var count = BinaryPrimitives.ReadInt32LittleEndian(frame);
        if (count == 0)
        {
            ReadTrailer();
            ended = true;
            position = length = 0;
            return false;
        }

        if ((uint)count > SnapshotFormat.MaxBlockBytes)
            throw new InvalidDataException($"Block {blocks} of the snapshot declares {count} bytes: the file is damaged.");
        Fill(block.AsSpan(0, count), $"block {blocks}");
        Fill(frame, $"block {blocks}'s checksum");
        if (XxHash3.HashToUInt64(block.AsSpan(0, count), (long)blocks) != BinaryPrimitives.ReadUInt64LittleEndian(frame))
            throw new InvalidDataException($"Block {blocks} of the snapshot (payload bytes {payloadBytes}..{payloadBytes + (ulong)count}) fails its checksum.");
        blocks++;
        payloadBytes += (ulong)count;
        length = count;
        position = 0;
        return true;
    }

    private void ReadTrailer()
    {
        Span<byte> trailer = stackalloc byte[3 * sizeof(ulong)];
        Fill(trailer, "the trailer");
        if (XxHash3.HashToUInt64(trailer[..16]) != BinaryPrimitives.ReadUInt64LittleEndian(trailer[16..])
            || BinaryPrimitives.ReadUInt64LittleEndian(trailer) != blocks
            || BinaryPrimitives.ReadUInt64LittleEndian(trailer[8..]) != payloadBytes)
            throw new InvalidDataException($"The snapshot's trailer does not match its {blocks} blocks: the file is damaged.");
    }

    private void Fill(Span<byte> destination, string what)
    {
        if (source.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false) < destination.Length)
            throw new InvalidDataException($"The snapshot is cut short in {what} (after {blocks} whole blocks).");
    }

    public void Dispose() => System.Buffers.ArrayPool<byte>.Shared.Return(block);
}
