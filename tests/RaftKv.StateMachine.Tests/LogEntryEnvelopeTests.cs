using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// The checksum around each log entry's payload (<see cref="LogEntryEnvelope"/>): a damaged copy is told from an entry
/// every replica holds alike but cannot decode, and payloads written before envelopes still read.
/// </summary>
public sealed class LogEntryEnvelopeTests
{
    private const long T = 1_700_000_000_000;

    [Fact]
    public void A_written_entry_is_the_marker_the_version_the_checksum_of_the_rest_and_the_bare_batch()
    {
        var batch = Batch();
        var bare = Write(batch, checksum: false);
        var enveloped = Write(batch);

        Assert.Equal([LogEntryEnvelope.Marker, LogEntryEnvelope.Version], enveloped[..2]);
        Assert.Equal(XxHash3.HashToUInt64(bare), BinaryPrimitives.ReadUInt64LittleEndian(enveloped.AsSpan(2, 8)));
        Assert.Equal(bare, enveloped[LogEntryEnvelope.HeaderLength..]);
    }

    [Fact]
    public void An_entry_written_after_others_in_the_same_buffer_covers_only_its_own_bytes()
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write("prefix"u8);
        KeyValueStore.WriteBatch(buffer, Batch());

        Assert.Equal(Write(Batch()), buffer.WrittenSpan[6..].ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Both_forms_read_as_the_same_batch(bool checksum)
    {
        var status = KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(Write(Batch(), checksum)), out var batch, out var problem);

        Assert.Equal(LogPayloadStatus.Batch, status);
        Assert.Null(problem);
        Assert.Equal(Write(Batch(), checksum: false), Write(batch!, checksum: false));
    }

    [Fact]
    public void Every_single_bit_flip_of_a_small_entry_is_a_checksum_mismatch()
    {
        var entry = Write(Batch());
        var missed = new List<string>();
        for (var bit = 0; bit < entry.Length * 8; bit++)
        {
            var damaged = (byte[])entry.Clone();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));
            var status = KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(damaged), out var batch, out var problem);
            if (status != LogPayloadStatus.ChecksumMismatch || batch is not null || string.IsNullOrEmpty(problem))
                missed.Add($"byte {bit / 8} bit {bit % 8}: {status}");
        }

        Assert.True(entry.Length > 20, "the entry is too small to say much");
        Assert.Empty(missed);
    }

    [Fact]
    public void A_marker_damaged_into_an_array_header_is_still_a_checksum_mismatch()
    {
        var damaged = Write(Batch());
        damaged[0] = 0x91;

        Assert.Equal(LogPayloadStatus.ChecksumMismatch, KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(damaged), out _, out var problem));
        Assert.Contains("marker", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cut_envelope_is_a_checksum_mismatch()
    {
        var entry = Write(Batch());
        for (var length = 1; length < entry.Length; length++)
            Assert.Equal(LogPayloadStatus.ChecksumMismatch, KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(entry[..length]), out _, out _));
    }

    [Fact]
    public void An_envelope_of_another_version_is_not_skipped()
    {
        var entry = Write(Batch());
        entry[1] = 2;

        Assert.Equal(LogPayloadStatus.ChecksumMismatch, KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(entry), out _, out var problem));
        Assert.Contains("version 2", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_verified_envelope_around_bytes_that_are_no_batch_is_undecodable_alike_everywhere()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var start = LogEntryEnvelope.Begin(buffer);
        buffer.Write<byte>([0x93, 0x05]);
        LogEntryEnvelope.Seal(buffer, start);

        Assert.Equal(LogPayloadStatus.Undecodable, KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(buffer.WrittenMemory), out var batch, out var problem));
        Assert.Null(batch);
        Assert.False(string.IsNullOrEmpty(problem));
    }

    [Fact]
    public void A_payload_in_several_segments_is_checked_as_one()
    {
        var entry = Write(Batch());
        var split = Segments(entry, 3);

        Assert.Equal(LogPayloadStatus.Batch, KeyValueStore.ReadLogPayload(split, out _, out _));
        entry[^1] ^= 1;
        Assert.Equal(LogPayloadStatus.ChecksumMismatch, KeyValueStore.ReadLogPayload(Segments(entry, 3), out _, out _));
    }

    [Fact]
    public void ReadBatch_refuses_a_damaged_copy()
    {
        var entry = Write(Batch());
        entry[^1] ^= 0x10;

        Assert.Throws<InvalidDataException>(() => KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(entry)));
    }

    private static CommandBatch Batch() => new()
    {
        Timestamp = T,
        Commands = [Redis.Parse("SET", "key", "value").Write!, Redis.Parse("DEL", "other").Write!],
    };

    private static byte[] Write(CommandBatch batch, bool checksum = true)
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch, checksum);
        return buffer.WrittenSpan.ToArray();
    }

    private static ReadOnlySequence<byte> Segments(byte[] bytes, int size)
    {
        Segment? first = null, last = null;
        for (var offset = 0; offset < bytes.Length; offset += size)
        {
            var next = new Segment(bytes.AsMemory(offset, Math.Min(size, bytes.Length - offset)), last);
            first ??= next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is null)
                return;
            RunningIndex = previous.RunningIndex + previous.Memory.Length;
            previous.Next = this;
        }
    }
}
