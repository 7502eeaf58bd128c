using System.Buffers;
using System.Text;

namespace RaftKv.Node.Tests.Resp;

/// <summary>Builds <see cref="ReadOnlySequence{T}"/> inputs the way a pipe hands them over: in one or many segments.</summary>
internal static class Sequences
{
    /// <summary>Bytes of a test string, one byte per character, so <c>\0</c>, <c>\r</c> and 0x80+ stay single bytes.</summary>
    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    /// <summary>The inverse of <see cref="Bytes"/>, for readable assertions on binary data.</summary>
    public static string Text(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    public static ReadOnlySequence<byte> Single(string text) => new(Bytes(text));

    /// <summary>A sequence with one segment per part; empty parts make empty segments.</summary>
    public static ReadOnlySequence<byte> Segmented(params byte[][] parts)
    {
        if (parts.Length == 0)
            return ReadOnlySequence<byte>.Empty;

        var first = new Segment(parts[0], null);
        var last = first;
        foreach (var part in parts.AsSpan(1))
            last = new Segment(part, last);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary><paramref name="bytes"/> cut at <paramref name="position"/> into two segments.</summary>
    public static ReadOnlySequence<byte> SplitAt(byte[] bytes, int position)
        => Segmented(bytes[..position], bytes[position..]);

    /// <summary>Every byte in its own segment.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes)
        => Segmented([.. bytes.Select(static b => new[] { b })]);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
