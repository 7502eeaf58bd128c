using System.Buffers;
using System.Diagnostics;

namespace RaftKv.Node.Resp;

/// <summary>
/// Frames RESP requests the way Redis's <c>processMultibulkBuffer</c> and <c>processInlineBuffer</c> do: a request
/// starting with <c>*</c> is a multibulk array of bulk strings, anything else is an inline command line.
/// </summary>
/// <remarks>
/// <para>
/// One instance serves every connection; what it knows of a connection's partial request lives in that connection's
/// <see cref="RespRequest"/> (<see cref="RespRequest.Progress"/>). A partial request is never consumed: parse again
/// with the same bytes plus whatever arrived since, and the parser resumes where it stopped — after the arguments
/// already framed, past the part of a line already searched — so a request costs time linear in its size however it
/// is split into reads (Redis keeps the same state in <c>c->multibulklen</c> and <c>c->bulklen</c>). Given a buffer
/// that does not start where the partial request did, it starts over, which is correct, only slower.
/// </para>
/// <para>
/// Bulk lengths are compared with what is buffered before anything is walked or copied, and nothing is allocated on
/// the strength of a declared length alone. <c>proto-max-bulk-len</c> and <c>client-query-buffer-limit</c> are read
/// from <see cref="ClientLimits"/> at every parse, so <c>CONFIG SET</c> applies to the next request.
/// </para>
/// </remarks>
internal sealed partial class RespRequestParser
{
    private const string InvalidMultibulkLength = "Protocol error: invalid multibulk length";
    private const string InvalidBulkLength = "Protocol error: invalid bulk length";
    private const string TooBigMultibulkCount = "Protocol error: too big mbulk count string";
    private const string TooBigBulkCount = "Protocol error: too big bulk count string";
    private const string UnauthenticatedMultibulkLength = "Protocol error: unauthenticated multibulk length";
    private const string UnauthenticatedBulkLength = "Protocol error: unauthenticated bulk length";

    /// <summary>The most arguments a request of a connection that has not authenticated may have (Redis's 10).</summary>
    public const int UnauthenticatedMaxArguments = 10;

    /// <summary>The longest argument a connection that has not authenticated may send (Redis's 16 KB).</summary>
    public const int UnauthenticatedMaxBulkLength = 16 * 1024;

    // Redis's string2ll refuses strings of LONG_STR_SIZE (21) characters or more.
    private const int MaxIntegerLength = 20;

    private readonly ClientLimits _limits;
    private readonly int _maxArguments;
    private readonly int _maxInlineLength;

    /// <summary>Creates a parser enforcing <paramref name="limits"/>, fixed for its lifetime.</summary>
    /// <exception cref="ArgumentException">A limit is out of range.</exception>
    public RespRequestParser(RespLimits limits)
        : this(new ClientLimits(limits))
    {
    }

    /// <summary>Creates a parser enforcing <paramref name="limits"/>, reading the ones that may change at every parse.</summary>
    public RespRequestParser(ClientLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        _limits = limits;
        _maxArguments = limits.Configured.MaxArguments;
        _maxInlineLength = limits.Configured.MaxInlineLength;
    }

    private enum LineStatus
    {
        Complete,
        Incomplete,
        TooLong,
    }

    /// <summary>
    /// Parses the first request in <paramref name="buffer"/> into <paramref name="request"/>, skipping the empty
    /// requests Redis ignores (<c>*0</c>, <c>*-1</c>, blank lines). For a connection that has not authenticated
    /// (<paramref name="unauthenticated"/>) a multibulk request may hold at most 10 arguments of at most 16 KB each, as in
    /// Redis: a stranger cannot make the node buffer a gigabyte before it is asked for a password.
    /// </summary>
    public RespParseResult Parse(in ReadOnlySequence<byte> buffer, RespRequest request, bool unauthenticated = false)
    {
        ArgumentNullException.ThrowIfNull(request);
        var maxQueryBuffer = _limits.MaxQueryBuffer;
        if (request.Progress.IsActive && !CanResume(request.Progress, buffer))
            request.Progress = default;

        var reader = new SequenceReader<byte>(buffer);
        while (true)
        {
            if (!reader.TryPeek(out var first))
            {
                request.Progress = default;
                return new(RespParseStatus.Incomplete, reader.Position);
            }

            var frameStart = reader.Position;
            var buffered = reader.Remaining;
            var status = first == (byte)'*'
                ? ReadMultibulk(ref reader, request, maxQueryBuffer, unauthenticated, out var error)
                : ReadInline(ref reader, request, out error);

            switch (status)
            {
                case RespParseStatus.Complete when request.Count == 0:
                    continue;
                case RespParseStatus.Complete:
                    return new(status, reader.Position);
                case RespParseStatus.Incomplete when buffered > maxQueryBuffer:
                    request.Progress = default;
                    return new(RespParseStatus.QueryBufferLimitExceeded, frameStart);
                case RespParseStatus.Incomplete:
                    return new(status, frameStart);
                default:
                    request.Progress = default;
                    return new(status, frameStart, error);
            }
        }
    }

    // The saved positions are valid in a buffer that starts where the partial request started and holds at least the
    // bytes seen then: a pipe after AdvanceTo(consumed: that start). Both checks are O(1).
    private static bool CanResume(in RespParseProgress progress, in ReadOnlySequence<byte> buffer)
        => progress.FrameStart.Equals(buffer.Start) && buffer.Length >= progress.Buffered;

    private RespParseStatus ReadMultibulk(ref SequenceReader<byte> reader, RespRequest request, long maxQueryBuffer, bool unauthenticated, out string? error)
    {
        error = null;
        var frame = reader;
        var maxBulkLength = unauthenticated ? Math.Min(_limits.MaxBulkLength, UnauthenticatedMaxBulkLength) : _limits.MaxBulkLength;

        // Where the frame stands: fresh, or resumed from the progress saved by the last parse of this connection.
        long count = -1;
        var framed = 0;
        long argumentBytes = 0;
        long scanned = 0;
        long offsetBase = 0;
        var consumedBase = reader.Consumed;
        ref var progress = ref request.Progress;
        if (progress.IsActive)
        {
            Debug.Assert(!progress.IsInline, "a frame keeps its kind across reads");
            (count, framed, argumentBytes, scanned, offsetBase) = (progress.Count, progress.Framed, progress.ArgumentBytes, progress.Scanned, progress.ResumeOffset);
            reader = new SequenceReader<byte>(reader.Sequence.Slice(progress.Resume));
            consumedBase = 0;
            progress = default;
        }

        ReadOnlySequence<byte> line;
        if (count < 0)
        {
            switch (TryReadHeaderLine(ref reader, ref scanned, request, out line))
            {
                case LineStatus.Incomplete:
                    Save(ref progress, frame, reader.Position, 0, scanned, count, framed, argumentBytes);
                    return RespParseStatus.Incomplete;
                case LineStatus.TooLong:
                    error = TooBigMultibulkCount;
                    return RespParseStatus.ProtocolError;
            }

            if (!TryParseInteger(line.Slice(1), out count) || count > _maxArguments)
            {
                error = InvalidMultibulkLength;
                return RespParseStatus.ProtocolError;
            }

            if (unauthenticated && count > UnauthenticatedMaxArguments)
            {
                error = UnauthenticatedMultibulkLength;
                return RespParseStatus.ProtocolError;
            }

            if (count <= 0)
            {
                request.Begin(0, 0);
                return RespParseStatus.Complete;
            }
        }

        // First pass: validate the frame and find its end without copying. An argument is stepped over once: when
        // the buffer ends inside one, the next parse resumes at its header.
        for (; framed < count; framed++)
        {
            var argumentStart = reader.Position;
            var argumentOffset = offsetBase + (reader.Consumed - consumedBase);
            if (!reader.TryPeek(out var prefix))
            {
                Save(ref progress, frame, argumentStart, argumentOffset, 0, count, framed, argumentBytes);
                return RespParseStatus.Incomplete;
            }

            switch (TryReadHeaderLine(ref reader, ref scanned, request, out line))
            {
                case LineStatus.Incomplete:
                    Save(ref progress, frame, argumentStart, argumentOffset, scanned, count, framed, argumentBytes);
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

            if (!TryParseInteger(line.Slice(1), out var length) || length < 0 || length > maxBulkLength)
            {
                error = unauthenticated && length > UnauthenticatedMaxBulkLength ? UnauthenticatedBulkLength : InvalidBulkLength;
                return RespParseStatus.ProtocolError;
            }

            // Remaining is O(1); advancing over a large value walks every segment, so only do it once it is all here.
            if (reader.Remaining < length + 2)
            {
                Save(ref progress, frame, argumentStart, argumentOffset, 0, count, framed, argumentBytes);
                return RespParseStatus.Incomplete;
            }

            // Like Redis, the two bytes after a bulk are skipped unseen: they should be CRLF, and if they are not,
            // the next header fails to parse instead.
            reader.Advance(length + 2);
            request.BytesExamined += length + 2;
            argumentBytes += length;
        }

        var frameBytes = offsetBase + (reader.Consumed - consumedBase);
        if (frameBytes > maxQueryBuffer)
            return RespParseStatus.QueryBufferLimitExceeded;

        request.BytesExamined += frameBytes;
        CopyArguments(frame, (int)count, (int)argumentBytes, request);
        return RespParseStatus.Complete;
    }

    private static void Save(
        ref RespParseProgress progress, in SequenceReader<byte> frame, SequencePosition resume, long resumeOffset, long scanned,
        long count, int framed, long argumentBytes)
        => progress = new RespParseProgress
        {
            IsActive = true,
            FrameStart = frame.Position,
            Resume = resume,
            ResumeOffset = resumeOffset,
            Scanned = scanned,
            Buffered = frame.Remaining,
            Count = count,
            Framed = framed,
            ArgumentBytes = argumentBytes,
        };

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
    /// to be <c>\n</c> without looking. <paramref name="scanned"/> says how many bytes of the line an earlier call
    /// searched already (they are not searched again) and, when the line is incomplete, how many are searched now.
    /// </summary>
    private LineStatus TryReadHeaderLine(ref SequenceReader<byte> reader, ref long scanned, RespRequest request, out ReadOnlySequence<byte> line)
    {
        // The search cannot run away: a line without '\r' is rejected once it outgrows MaxInlineLength, and a '\r'
        // further than 20 digits away makes an invalid number.
        var probe = reader;
        if (scanned > 0)
            probe.Advance(scanned);
        if (!probe.TryAdvanceTo((byte)'\r', advancePastDelimiter: false))
        {
            request.BytesExamined += probe.Remaining;
            scanned = reader.Remaining;
            line = default;
            return reader.Remaining > _maxInlineLength ? LineStatus.TooLong : LineStatus.Incomplete;
        }

        request.BytesExamined += probe.Consumed - reader.Consumed - scanned + 1;
        line = reader.Sequence.Slice(reader.Position, probe.Position);
        probe.Advance(1);
        if (probe.End)
        {
            scanned = line.Length;
            return LineStatus.Incomplete;
        }

        probe.Advance(1);
        reader = probe;
        scanned = 0;
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
