using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using RaftKv.StateMachine;

namespace RaftKv.Node.Resp;

/// <summary>Turns a <see cref="Reply"/> into RESP2 or RESP3 bytes.</summary>
/// <remarks>
/// The two differ only where RESP3 has a richer type: null (<c>_</c> for both null kinds), maps (<c>%</c>; a flat
/// array in RESP2) and verbatim text (<c>=</c> with format <c>txt</c>; a bulk in RESP2).
/// </remarks>
internal static class RespWriter
{
    // '$' or '*' or ':', then a long (at most 20 characters), then CRLF.
    private const int MaxHeaderLength = 1 + 20 + 2;

    /// <summary>
    /// Writes <paramref name="reply"/>, and for an array every element in turn, to <paramref name="output"/> in RESP
    /// version <paramref name="protocol"/> (2 or 3).
    /// </summary>
    /// <remarks>
    /// Recursion follows the nesting of arrays; the state machine bounds that nesting where replies are built
    /// (script results), so a reply arriving here is trusted to be reasonably shallow.
    /// </remarks>
    public static void Write(IBufferWriter<byte> output, Reply reply, int protocol = 2)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(reply);

        switch (reply.Kind)
        {
            case ReplyKind.Status when ReferenceEquals(reply, Reply.Ok):
                output.Write("+OK\r\n"u8);
                break;
            case ReplyKind.Status:
                WriteLine(output, (byte)'+', reply.Text);
                break;
            case ReplyKind.Error:
                WriteLine(output, (byte)'-', reply.Text);
                break;
            case ReplyKind.Integer:
                WriteInteger(output, reply.Integer);
                break;
            case ReplyKind.Bulk:
                var bulk = reply.Bulk ?? [];
                WriteHeader(output, (byte)'$', bulk.Length);
                output.Write(bulk);
                output.Write("\r\n"u8);
                break;
            case ReplyKind.NullBulk or ReplyKind.NullArray when protocol >= 3:
                output.Write("_\r\n"u8);
                break;
            case ReplyKind.NullBulk:
                output.Write("$-1\r\n"u8);
                break;
            case ReplyKind.Array:
                var items = reply.Items ?? [];
                WriteHeader(output, (byte)'*', items.Count);
                for (var i = 0; i < items.Count; i++)
                    Write(output, items[i], protocol);
                break;
            case ReplyKind.NullArray:
                output.Write("*-1\r\n"u8);
                break;
            case ReplyKind.Map:
                var pairs = reply.Items ?? [];
                if (protocol >= 3)
                    WriteHeader(output, (byte)'%', pairs.Count / 2);
                else
                    WriteHeader(output, (byte)'*', pairs.Count);
                for (var i = 0; i < pairs.Count; i++)
                    Write(output, pairs[i], protocol);
                break;
            case ReplyKind.Verbatim when protocol >= 3:
                var text = reply.Bulk ?? [];
                WriteHeader(output, (byte)'=', text.Length + 4);
                output.Write("txt:"u8);
                output.Write(text);
                output.Write("\r\n"u8);
                break;
            case ReplyKind.Verbatim:
                var plain = reply.Bulk ?? [];
                WriteHeader(output, (byte)'$', plain.Length);
                output.Write(plain);
                output.Write("\r\n"u8);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(reply), reply.Kind, "Unknown reply kind.");
        }
    }

    /// <summary>
    /// The number of bytes <see cref="Write"/> produces for <paramref name="reply"/> in version
    /// <paramref name="protocol"/>, without producing them: what a connection's output buffer limit counts.
    /// </summary>
    public static long Measure(Reply reply, int protocol = 2)
    {
        ArgumentNullException.ThrowIfNull(reply);
        switch (reply.Kind)
        {
            case ReplyKind.Status when ReferenceEquals(reply, Reply.Ok):
                return 5;
            case ReplyKind.Status or ReplyKind.Error:
                return 1 + Encoding.UTF8.GetByteCount(reply.Text ?? string.Empty) + 2;
            case ReplyKind.Integer:
                return reply.Integer is 0 or 1 ? 4 : HeaderLength(reply.Integer);
            case ReplyKind.Bulk:
                return BulkLength(reply.Bulk?.Length ?? 0);
            case ReplyKind.NullBulk or ReplyKind.NullArray when protocol >= 3:
                return 3;
            case ReplyKind.NullBulk or ReplyKind.NullArray:
                return 5;
            case ReplyKind.Array or ReplyKind.Map:
                var items = reply.Items ?? [];
                var total = HeaderLength(reply.Kind == ReplyKind.Map && protocol >= 3 ? items.Count / 2 : items.Count);
                for (var i = 0; i < items.Count; i++)
                    total += Measure(items[i], protocol);
                return total;
            case ReplyKind.Verbatim when protocol >= 3:
                return BulkLength((reply.Bulk?.Length ?? 0) + 4);
            case ReplyKind.Verbatim:
                return BulkLength(reply.Bulk?.Length ?? 0);
            default:
                throw new ArgumentOutOfRangeException(nameof(reply), reply.Kind, "Unknown reply kind.");
        }
    }

    /// <summary>
    /// Writes what comes before <paramref name="reply"/>'s payload: for a bulk or verbatim string its header (and
    /// <c>txt:</c>), returning the payload, which the caller writes followed by CRLF; for an array or map its header,
    /// returning an empty payload (the caller writes the items).
    /// </summary>
    /// <remarks>For writing a large reply piece by piece; a reply of any other kind is not accepted.</remarks>
    public static ReadOnlyMemory<byte> WritePrefix(IBufferWriter<byte> output, Reply reply, int protocol)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(reply);
        switch (reply.Kind)
        {
            case ReplyKind.Bulk:
            case ReplyKind.Verbatim when protocol < 3:
                var bulk = reply.Bulk ?? [];
                WriteHeader(output, (byte)'$', bulk.Length);
                return bulk;
            case ReplyKind.Verbatim:
                var text = reply.Bulk ?? [];
                WriteHeader(output, (byte)'=', text.Length + 4);
                output.Write("txt:"u8);
                return text;
            case ReplyKind.Array:
                WriteHeader(output, (byte)'*', (reply.Items ?? []).Count);
                return ReadOnlyMemory<byte>.Empty;
            case ReplyKind.Map:
                var pairs = reply.Items ?? [];
                WriteHeader(output, protocol >= 3 ? (byte)'%' : (byte)'*', protocol >= 3 ? pairs.Count / 2 : pairs.Count);
                return ReadOnlyMemory<byte>.Empty;
            default:
                throw new ArgumentOutOfRangeException(nameof(reply), reply.Kind, "Only bulks, verbatim strings, arrays and maps have a prefix.");
        }
    }

    private static long BulkLength(int length) => HeaderLength(length) + length + 2;

    // '$', '*', ':' or another prefix, the decimal value, CRLF.
    private static long HeaderLength(long value)
    {
        var digits = 1;
        var magnitude = value < 0 ? (ulong)(-(value + 1)) + 1 : (ulong)value;
        while (magnitude >= 10)
        {
            magnitude /= 10;
            digits++;
        }

        return 1 + (value < 0 ? 1 : 0) + digits + 2;
    }

    private static void WriteInteger(IBufferWriter<byte> output, long value)
    {
        switch (value)
        {
            case 0:
                output.Write(":0\r\n"u8);
                break;
            case 1:
                output.Write(":1\r\n"u8);
                break;
            default:
                WriteHeader(output, (byte)':', value);
                break;
        }
    }

    private static void WriteHeader(IBufferWriter<byte> output, byte prefix, long value)
    {
        var span = output.GetSpan(MaxHeaderLength);
        span[0] = prefix;
        var formatted = Utf8Formatter.TryFormat(value, span[1..], out var written);
        Debug.Assert(formatted, "a long fits in 20 characters");
        "\r\n"u8.CopyTo(span[(1 + written)..]);
        output.Advance(1 + written + 2);
    }

    /// <summary>Writes a status or error line; CR and LF become spaces, as Redis does, so the text cannot end the line early.</summary>
    private static void WriteLine(IBufferWriter<byte> output, byte prefix, string? text)
    {
        text ??= string.Empty;
        var length = Encoding.UTF8.GetByteCount(text);
        var span = output.GetSpan(1 + length + 2);
        span[0] = prefix;

        // CR and LF are single bytes in UTF-8 and never occur inside a multi-byte character, so replacing them in the
        // encoded bytes is safe.
        var encoded = span.Slice(1, length);
        Encoding.UTF8.GetBytes(text, encoded);
        encoded.Replace((byte)'\r', (byte)' ');
        encoded.Replace((byte)'\n', (byte)' ');

        "\r\n"u8.CopyTo(span[(1 + length)..]);
        output.Advance(1 + length + 2);
    }
}
