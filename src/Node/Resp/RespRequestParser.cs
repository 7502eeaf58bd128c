using System.Buffers;
using System.Diagnostics;

namespace RaftKv.Node.Resp;

/// <summary>
/// Frames RESP requests the way Redis's <c>processMultibulkBuffer</c> and <c>processInlineBuffer</c> do: a request
/// starting with <c>*</c> is a multibulk array of bulk strings, anything else is an inline command line.
/// </summary>
/// <remarks>
/// Stateless apart from its limits, so one instance serves every connection. A partial request is never consumed:
/// parse again with the same bytes plus whatever arrived since. Re-parsing costs O(arguments), not O(bytes): bulk
/// lengths are compared with what is buffered before anything is walked or copied, and nothing is allocated on the
/// strength of a declared length alone.
/// </remarks>
internal sealed partial class RespRequestParser
{
    private const string InvalidMultibulkLength = "Protocol error: invalid multibulk length";
    private const string InvalidBulkLength = "Protocol error: invalid bulk length";
    private const string TooBigMultibulkCount = "Protocol error: too big mbulk count string";
    private const string TooBigBulkCount = "Protocol error: too big bulk count string";

    // Redis's string2ll refuses strings of LONG_STR_SIZE (21) characters or more.
    private const int MaxIntegerLength = 20;

    private readonly long _maxBulkLength;
    private readonly int _maxArguments;
    private readonly int _maxInlineLength;
    private readonly long _maxQueryBuffer;

    /// <summary>Creates a parser enforcing <paramref name="limits"/>, read once here.</summary>
    /// <exception cref="ArgumentException">A limit is out of range.</exception>
    public RespRequestParser(RespLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        _maxBulkLength = limits.MaxBulkLength;
        _maxArguments = limits.MaxArguments;
        _maxInlineLength = limits.MaxInlineLength;
        _maxQueryBuffer = limits.MaxQueryBuffer;
    }

    private enum LineStatus
    {
        Complete,
        Incomplete,
        TooLong,
    }

    /// <summary>
    /// Parses the first request in <paramref name="buffer"/> into <paramref name="request"/>, skipping the empty
    /// requests Redis ignores (<c>*0</c>, <c>*-1</c>, blank lines).
    /// </summary>
    public RespParseResult Parse(in ReadOnlySequence<byte> buffer, RespRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var reader = new SequenceReader<byte>(buffer);
        while (true)
        {
            if (!reader.TryPeek(out var first))
                return new(RespParseStatus.Incomplete, reader.Position);

            var frameStart = reader.Position;
            var buffered = reader.Remaining;
            var status = first == (byte)'*'
                ? ReadMultibulk(ref reader, request, out var error)
                : ReadInline(ref reader, request, out error);

            switch (status)
            {
                case RespParseStatus.Complete when request.Count == 0:
                    continue;
                case RespParseStatus.Complete:
                    return new(status, reader.Position);
                case RespParseStatus.Incomplete when buffered > _maxQueryBuffer:
                    return new(RespParseStatus.QueryBufferLimitExceeded, frameStart);
                default:
                    return new(status, frameStart, error);
            }
        }
    }

    private RespParseStatus ReadMultibulk(ref SequenceReader<byte> reader, RespRequest request, out string? error)
    {
        error = null;
        var frame = reader;

        switch (TryReadHeaderLine(ref reader, out var line))
        {
            case LineStatus.Incomplete:
                return RespParseStatus.Incomplete;
            case LineStatus.TooLong:
                error = TooBigMultibulkCount;
                return RespParseStatus.ProtocolError;
        }

        if (!TryParseInteger(line.Slice(1), out var count) || count > _maxArguments)
        {
            error = InvalidMultibulkLength;
            return RespParseStatus.ProtocolError;
        }

        if (count <= 0)
        {
            request.Begin(0, 0);
            return RespParseStatus.Complete;
        }

        // First pass: validate the frame and find its end without copying, so a frame still arriving costs only
        // its headers each time it is re-parsed.
        long argumentBytes = 0;
        for (var i = 0; i < count; i++)
        {
            if (!reader.TryPeek(out var prefix))
                return RespParseStatus.Incomplete;

            switch (TryReadHeaderLine(ref reader, out line))
            {
                case LineStatus.Incomplete:
                    return RespParseStatus.Incomplete;
                case LineStatus.TooLong:
                    error = TooBigBulkCount;
                    return RespParseStatus.ProtocolError;
            }

            if (prefix != (byte)'$')
            {
                error = $"Protocol error: expected '$', got '{(char)prefix}'";
                return RespParseStatus.ProtocolError;
            }

            if (!TryParseInteger(line.Slice(1), out var length) || length < 0 || length > _maxBulkLength)
            {
                error = InvalidBulkLength;
                return RespParseStatus.ProtocolError;
            }

            // Remaining is O(1); advancing over a large value walks every segment, so only do it once it is all here.
            if (reader.Remaining < length + 2)
                return RespParseStatus.Incomplete;

            // Like Redis, the two bytes after a bulk are skipped unseen: they should be CRLF, and if they are not,
            // the next header fails to parse instead.
            reader.Advance(length + 2);
            argumentBytes += length;
        }

        if (reader.Consumed - frame.Consumed > _maxQueryBuffer)
            return RespParseStatus.QueryBufferLimitExceeded;

        CopyArguments(frame, (int)count, (int)argumentBytes, request);
        return RespParseStatus.Complete;
    }

    /// <summary>Second pass over a frame the first pass found complete and valid: copy its bulks into the arena.</summary>
    private static void CopyArguments(SequenceReader<byte> frame, int count, int argumentBytes, RespRequest request)
    {
        var arena = request.Begin(count, argumentBytes);
        var offset = 0;

        SkipHeaderLine(ref frame);
        for (var i = 0; i < count; i++)
        {
            var length = (int)SkipHeaderLine(ref frame);
            var copied = frame.TryCopyTo(arena.Slice(offset, length));
            Debug.Assert(copied, "the first pass saw the whole bulk");
            frame.Advance(length + 2);
            request.AddArgument(offset, length);
            offset += length;
        }
    }

    private static long SkipHeaderLine(ref SequenceReader<byte> reader)
    {
        var found = reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\r');
        reader.Advance(1);
        var parsed = TryParseInteger(line.Slice(1), out var value);
        Debug.Assert(found && parsed, "the first pass validated this header");
        return value;
    }

    /// <summary>
    /// Reads a <c>*N</c> or <c>$N</c> line up to its <c>\r</c> and steps over the byte after it, which Redis takes
    /// to be <c>\n</c> without looking.
    /// </summary>
    private LineStatus TryReadHeaderLine(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> line)
    {
        // The search cannot run away: a line without '\r' is rejected once it outgrows MaxInlineLength, and a '\r'
        // further than 20 digits away makes an invalid number.
        var probe = reader;
        if (!probe.TryReadTo(out line, (byte)'\r'))
            return reader.Remaining > _maxInlineLength ? LineStatus.TooLong : LineStatus.Incomplete;
        if (probe.End)
            return LineStatus.Incomplete;

        probe.Advance(1);
        reader = probe;
        return LineStatus.Complete;
    }

    /// <summary>Parses a decimal integer exactly as Redis's <c>string2ll</c> does: no sign '+', no leading zeros, no spaces.</summary>
    internal static bool TryParseInteger(ReadOnlySequence<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > MaxIntegerLength)
            return false;

        Span<byte> digits = stackalloc byte[MaxIntegerLength];
        digits = digits[..(int)text.Length];
        text.CopyTo(digits);
        return TryParseInteger(digits, out value);
    }

    /// <inheritdoc cref="TryParseInteger(ReadOnlySequence{byte}, out long)"/>
    internal static bool TryParseInteger(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.Length is 0 or > MaxIntegerLength)
            return false;
        if (text is [(byte)'0'])
            return true;

        var negative = text[0] == (byte)'-';
        if (negative)
            text = text[1..];
        if (text.IsEmpty || text[0] is < (byte)'1' or > (byte)'9')
            return false;

        ulong magnitude = 0;
        foreach (var c in text)
        {
            var digit = (uint)(c - '0');
            if (digit > 9 || magnitude > (ulong.MaxValue - digit) / 10)
                return false;
            magnitude = (magnitude * 10) + digit;
        }

        if (negative)
        {
            const ulong minValueMagnitude = (ulong)long.MaxValue + 1;
            if (magnitude > minValueMagnitude)
                return false;
            value = magnitude == minValueMagnitude ? long.MinValue : -(long)magnitude;
            return true;
        }

        if (magnitude > long.MaxValue)
            return false;
        value = (long)magnitude;
        return true;
    }
}
