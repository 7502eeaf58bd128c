using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace RaftKv.Client.Protocol;

/// <summary>
/// Parses RESP2 replies from a byte sequence. A reply that has not fully arrived is not an error: the reader reports
/// it incomplete and leaves the buffer as it was, to be called again when more bytes are in.
/// </summary>
internal static class RespReader
{
    /// <summary>Arrays nested deeper than this are refused (a reply that deep is an attack or a bug, not data).</summary>
    public const int MaxDepth = 512;

    private static ReadOnlySpan<byte> CrLf => "\r\n"u8;

    /// <summary>
    /// Reads one reply from the start of <paramref name="buffer"/>. On success <paramref name="buffer"/> is advanced
    /// past it; when the reply is incomplete the method returns false and <paramref name="buffer"/> is unchanged.
    /// </summary>
    /// <exception cref="RespProtocolException">The bytes are not RESP2.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out RespValue value)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryReadValue(ref reader, 0, out value))
            return false;
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool TryReadValue(ref SequenceReader<byte> reader, int depth, out RespValue value)
    {
        value = RespValue.Null;
        if (!reader.TryRead(out var prefix) || !reader.TryReadTo(out ReadOnlySpan<byte> line, CrLf))
            return false;

        switch (prefix)
        {
            case (byte)'+':
                value = RespValue.Status(Encoding.UTF8.GetString(line));
                return true;
            case (byte)'-':
                value = RespValue.Error(Encoding.UTF8.GetString(line));
                return true;
            case (byte)':':
                value = RespValue.FromInteger(ParseInteger(line));
                return true;
            case (byte)'$':
                return TryReadBulk(ref reader, ParseLength(line), out value);
            case (byte)'*':
                return TryReadArray(ref reader, ParseLength(line), depth, out value);
            default:
                throw new RespProtocolException($"Unexpected reply type byte 0x{prefix:x2}.");
        }
    }

    private static bool TryReadBulk(ref SequenceReader<byte> reader, long length, out RespValue value)
    {
        value = RespValue.Null;
        if (length < 0)
            return true;
        if (reader.Remaining < length + 2)
            return false;

        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)length));
        reader.TryCopyTo(bytes);
        reader.Advance(length);
        if (!reader.IsNext(CrLf, advancePast: true))
            throw new RespProtocolException("A bulk string is not followed by CRLF.");
        value = RespValue.FromBulk(bytes);
        return true;
    }

    private static bool TryReadArray(ref SequenceReader<byte> reader, long count, int depth, out RespValue value)
    {
        value = RespValue.Null;
        if (count < 0)
            return true;
        if (depth >= MaxDepth)
            throw new RespProtocolException($"Arrays nested deeper than {MaxDepth}.");

        // Every element takes at least 3 bytes (":0\r\n" is 4), so a count beyond what could fit waits for more bytes
        // instead of allocating an array the size a corrupt header asks for.
        if (count > reader.Remaining / 3)
            return false;

        var elements = new RespValue[count];
        for (var i = 0; i < elements.Length; i++)
        {
            if (!TryReadValue(ref reader, depth + 1, out elements[i]))
                return false;
        }

        value = RespValue.FromArray(elements);
        return true;
    }

    private static long ParseInteger(ReadOnlySpan<byte> line)
        => Utf8Parser.TryParse(line, out long value, out var consumed) && consumed == line.Length
            ? value
            : throw new RespProtocolException($"Invalid integer '{Encoding.ASCII.GetString(line)}'.");

    private static long ParseLength(ReadOnlySpan<byte> line)
    {
        var length = ParseInteger(line);
        return length is >= -1 and <= int.MaxValue
            ? length
            : throw new RespProtocolException($"Invalid length {length}.");
    }
}
