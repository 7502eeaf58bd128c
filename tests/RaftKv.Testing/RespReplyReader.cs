using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;

namespace RaftKv.Testing;

/// <summary>
/// Reads RESP2 and RESP3 replies as <see cref="RespReply"/>: the one reply reader of the tests. A reply that has not
/// fully arrived is not an error; the reader waits for more bytes. Bytes that are not RESP fail with
/// <see cref="InvalidDataException"/>, a connection closed before a whole reply with
/// <see cref="EndOfStreamException"/>.
/// </summary>
/// <param name="input">The bytes from the server; the reader consumes exactly the replies it returns.</param>
public sealed class RespReplyReader(PipeReader input)
{
    /// <summary>Aggregates nested deeper than this are refused: a reply that deep is a bug, not data.</summary>
    public const int MaxDepth = 512;

    private static ReadOnlySpan<byte> CrLf => "\r\n"u8;

    /// <summary>Waits for the next whole reply and consumes it.</summary>
    /// <exception cref="InvalidDataException">The bytes are not RESP.</exception>
    /// <exception cref="EndOfStreamException">The connection closed before a whole reply arrived.</exception>
    public async ValueTask<RespReply> ReadAsync(CancellationToken token = default)
    {
        while (true)
        {
            var result = await input.ReadAsync(token).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool complete;
            RespReply? reply;
            try
            {
                complete = TryRead(ref buffer, out reply);
            }
            catch (InvalidDataException)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                throw;
            }

            if (complete)
            {
                input.AdvanceTo(buffer.Start);
                return reply!;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException(buffer.IsEmpty
                    ? "Connection closed by the server."
                    : $"Connection closed by the server in the middle of a reply ({buffer.Length} bytes of it arrived).");
            }
        }
    }

    /// <summary>
    /// Reads one reply from the start of <paramref name="buffer"/>. On success <paramref name="buffer"/> is advanced
    /// past it; while the reply is incomplete the method returns false and leaves <paramref name="buffer"/> as it was.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not RESP.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out RespReply? reply)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryReadReply(ref reader, 0, out reply))
            return false;
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool TryReadReply(ref SequenceReader<byte> reader, int depth, [NotNullWhen(true)] out RespReply? reply)
    {
        reply = null;
        var start = reader.Consumed;
        if (!reader.TryRead(out var prefix))
            return false;
        var type = (RespReplyType)prefix;
        if (!Enum.IsDefined(type) && prefix != '|')
            throw Malformed($"unknown reply type byte 0x{prefix:x2} ('{Printable(prefix)}')", start);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> lineBytes, CrLf))
            return false;

        var line = Encoding.Latin1.GetString(lineBytes);
        switch (type)
        {
            case RespReplyType.SimpleString or RespReplyType.Error:
                reply = new RespReply(type, line);
                return true;
            case RespReplyType.Integer:
                ParseInteger(line, start);
                reply = new RespReply(type, line);
                return true;
            case RespReplyType.Null when line.Length == 0:
            case RespReplyType.Boolean when line is "t" or "f":
            case RespReplyType.Double when IsDouble(line):
            case RespReplyType.BigNumber when IsBigNumber(line):
                reply = new RespReply(type, line);
                return true;
            case RespReplyType.Null or RespReplyType.Boolean or RespReplyType.Double or RespReplyType.BigNumber:
                throw Malformed($"'{line}' is not a valid {type}", start);
            case RespReplyType.BulkString or RespReplyType.BulkError or RespReplyType.VerbatimString:
                return TryReadBlob(ref reader, type, ParseLength(line, start), start, out reply);
            case RespReplyType.Array or RespReplyType.Set or RespReplyType.Push:
                return TryReadAggregate(ref reader, type, ParseLength(line, start), depth, start, out reply);
            case RespReplyType.Map:
                return TryReadAggregate(ref reader, type, 2 * ParseLength(line, start), depth, start, out reply);
            case (RespReplyType)'|':
                return TryReadAttributed(ref reader, 2 * ParseLength(line, start), depth, start, out reply);
            default:
                throw new UnreachableException();
        }
    }

    private static bool TryReadBlob(ref SequenceReader<byte> reader, RespReplyType type, long length, long start, out RespReply? reply)
    {
        reply = null;
        if (length < 0)
        {
            reply = new RespReply(type);
            return true;
        }

        if (reader.Remaining < length + 2)
            return false;
        var bytes = new byte[length];
        reader.TryCopyTo(bytes);
        reader.Advance(length);
        if (!reader.IsNext(CrLf, advancePast: true))
            throw Malformed($"a {type} of {length} bytes is not followed by CRLF", start);
        reply = new RespReply(type, bytes: bytes);
        return true;
    }

    private static bool TryReadAggregate(ref SequenceReader<byte> reader, RespReplyType type, long count, int depth, long start, out RespReply? reply)
    {
        reply = null;
        if (count < 0)
        {
            reply = new RespReply(type);
            return true;
        }

        if (!TryReadItems(ref reader, count, depth, start, out var items))
            return false;
        reply = new RespReply(type, items: items);
        return true;
    }

    // An attribute map belongs to the reply that follows it.
    private static bool TryReadAttributed(ref SequenceReader<byte> reader, long count, int depth, long start, out RespReply? reply)
    {
        reply = null;
        if (count < 0)
            throw Malformed("an attribute map has no null form", start);
        if (!TryReadItems(ref reader, count, depth, start, out var attributes) || !TryReadReply(ref reader, depth, out var annotated))
            return false;
        if (annotated.Attributes is not null)
            throw Malformed("an attribute map follows another", start);
        reply = new RespReply(annotated.Type, annotated.Line, annotated.Bytes, annotated.Items, attributes);
        return true;
    }

    private static bool TryReadItems(ref SequenceReader<byte> reader, long count, int depth, long start, [NotNullWhen(true)] out RespReply[]? items)
    {
        items = null;
        if (depth >= MaxDepth)
            throw Malformed($"aggregates nested deeper than {MaxDepth}", start);

        // Every element takes at least 3 bytes ("_\r\n"), so a count beyond what could fit waits for more bytes
        // instead of allocating what a corrupt header asks for.
        if (count > reader.Remaining / 3)
            return false;

        var read = new RespReply[count];
        for (var i = 0; i < read.Length; i++)
        {
            if (!TryReadReply(ref reader, depth + 1, out var item))
                return false;
            read[i] = item;
        }

        items = read;
        return true;
    }

    private static long ParseInteger(string line, long start)
        => long.TryParse(line, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Malformed($"'{line}' is not an integer", start);

    private static long ParseLength(string line, long start)
    {
        var length = ParseInteger(line, start);
        return length is >= -1 and <= int.MaxValue ? length : throw Malformed($"invalid length {length}", start);
    }

    private static bool IsDouble(string line)
        => line is "inf" or "-inf" or "nan" or "-nan"
           || (line.Length > 0 && !line.Contains(' ', StringComparison.Ordinal)
               && double.TryParse(line, NumberStyles.Float, CultureInfo.InvariantCulture, out _));

    private static bool IsBigNumber(string line)
    {
        var digits = line.StartsWith('-') || line.StartsWith('+') ? line.AsSpan(1) : line;
        return !digits.IsEmpty && !digits.ContainsAnyExceptInRange('0', '9');
    }

    private static string Printable(byte b) => b is >= 0x20 and < 0x7f ? ((char)b).ToString() : "\\x" + b.ToString("x2", CultureInfo.InvariantCulture);

    private static InvalidDataException Malformed(string what, long offset)
        => new($"Not a RESP reply: {what} (in the reply at byte {offset} of the unread input).");
}
