using System.Buffers;
using System.Diagnostics;

namespace RaftKv.Node.Resp;

/// <summary>Inline commands: one line, as telnet and redis-cli send them.</summary>
internal sealed partial class RespRequestParser
{
    private const string TooBigInlineRequest = "Protocol error: too big inline request";
    private const string UnbalancedQuotes = "Protocol error: unbalanced quotes in request";

    private RespParseStatus ReadInline(ref SequenceReader<byte> reader, RespRequest request, out string? error)
    {
        error = null;

        // A line still arriving is searched for its '\n' only past the bytes searched before.
        ref var progress = ref request.Progress;
        Debug.Assert(!progress.IsActive || progress.IsInline, "a frame keeps its kind across reads");
        var scanned = progress.IsActive ? progress.Scanned : 0;
        progress = default;

        var probe = reader;
        if (scanned > 0)
            probe.Advance(scanned);
        if (!probe.TryAdvanceTo((byte)'\n', advancePastDelimiter: false))
        {
            request.BytesExamined += probe.Remaining;
            if (reader.Remaining <= _maxInlineLength)
            {
                progress = new RespParseProgress
                {
                    IsActive = true,
                    IsInline = true,
                    FrameStart = reader.Position,
                    Resume = reader.Position,
                    Scanned = reader.Remaining,
                    Buffered = reader.Remaining,
                    Count = -1,
                };
                return RespParseStatus.Incomplete;
            }

            error = TooBigInlineRequest;
            return RespParseStatus.ProtocolError;
        }

        request.BytesExamined += probe.Consumed - reader.Consumed - scanned + 1;
        var line = reader.Sequence.Slice(reader.Position, probe.Position);
        probe.Advance(1);
        reader = probe;

        // Redis only notices a long line when it has buffered that much without a newline, which depends on how the
        // bytes were chunked; judging the line itself gives the same answer however they arrive.
        if (line.Length > _maxInlineLength)
        {
            error = TooBigInlineRequest;
            return RespParseStatus.ProtocolError;
        }

        var arena = request.Begin(0, (int)line.Length);
        line.CopyTo(arena);
        if (arena is [.., (byte)'\r'])
            arena = arena[..^1];

        if (!TrySplitArguments(arena, request))
        {
            error = UnbalancedQuotes;
            return RespParseStatus.ProtocolError;
        }

        return RespParseStatus.Complete;
    }

    /// <summary>
    /// Splits a line into arguments exactly as Redis's <c>sdssplitargs</c> does, so a command typed at a prompt means
    /// what it means to Redis: blanks separate arguments; <c>"..."</c> understands <c>\n \r \t \b \a \\ \" \xHH</c>;
    /// <c>'...'</c> understands only <c>\'</c>; a closing quote must be followed by a blank or the end; a NUL byte
    /// ends the line, as it ends the C string. Decodes in place (an argument is never longer than its source text)
    /// and adds each argument to <paramref name="request"/>. Returns false on unbalanced quotes.
    /// </summary>
    private static bool TrySplitArguments(Span<byte> line, RespRequest request)
    {
        var read = 0;
        var write = 0;
        while (true)
        {
            while (IsSpace(At(line, read)))
                read++;
            if (At(line, read) == 0)
                return true;

            var start = write;
            var inDoubleQuotes = false;
            var inSingleQuotes = false;
            var done = false;
            while (!done)
            {
                var c = At(line, read);
                if (inDoubleQuotes)
                {
                    if (c == '\\' && At(line, read + 1) == 'x' && IsHexDigit(At(line, read + 2)) && IsHexDigit(At(line, read + 3)))
                    {
                        line[write++] = (byte)((HexValue(At(line, read + 2)) << 4) | HexValue(At(line, read + 3)));
                        read += 3;
                    }
                    else if (c == '\\' && At(line, read + 1) != 0)
                    {
                        read++;
                        line[write++] = Unescape(line[read]);
                    }
                    else if (c == '"')
                    {
                        if (!IsEndOfArgument(At(line, read + 1)))
                            return false;
                        done = true;
                    }
                    else if (c == 0)
                    {
                        return false;
                    }
                    else
                    {
                        line[write++] = c;
                    }
                }
                else if (inSingleQuotes)
                {
                    if (c == '\\' && At(line, read + 1) == '\'')
                    {
                        read++;
                        line[write++] = (byte)'\'';
                    }
                    else if (c == '\'')
                    {
                        if (!IsEndOfArgument(At(line, read + 1)))
                            return false;
                        done = true;
                    }
                    else if (c == 0)
                    {
                        return false;
                    }
                    else
                    {
                        line[write++] = c;
                    }
                }
                else
                {
                    switch (c)
                    {
                        case (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or 0:
                            done = true;
                            break;
                        case (byte)'"':
                            inDoubleQuotes = true;
                            break;
                        case (byte)'\'':
                            inSingleQuotes = true;
                            break;
                        default:
                            line[write++] = c;
                            break;
                    }
                }

                if (At(line, read) != 0)
                    read++;
            }

            request.AddArgument(start, write - start);
        }
    }

    // The C original reads past the end into the string's terminating NUL; this gives the same view of the line.
    private static byte At(ReadOnlySpan<byte> line, int index) => index < line.Length ? line[index] : (byte)0;

    // C's isspace in the "C" locale.
    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    private static bool IsEndOfArgument(byte next) => next == 0 || IsSpace(next);

    private static bool IsHexDigit(byte c) => char.IsAsciiHexDigit((char)c);

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static byte Unescape(byte c) => c switch
    {
        (byte)'n' => (byte)'\n',
        (byte)'r' => (byte)'\r',
        (byte)'t' => (byte)'\t',
        (byte)'b' => (byte)'\b',
        (byte)'a' => (byte)'\a',
        _ => c,
    };
}
