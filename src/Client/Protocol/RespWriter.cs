using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace RaftKv.Client.Protocol;

/// <summary>Writes commands as RESP2 multibulk frames into a buffer writer (a pipe, in the client).</summary>
internal static class RespWriter
{
    // '*' or '$', up to 20 digits and a sign, CRLF.
    private const int MaxHeaderLength = 24;

    /// <summary>Writes <c>*count\r\n</c>.</summary>
    public static void WriteArrayHeader(IBufferWriter<byte> output, int count) => WriteHeader(output, (byte)'*', count);

    /// <summary>Writes one argument as a bulk string.</summary>
    public static void WriteBulk(IBufferWriter<byte> output, in RespArgument argument)
    {
        switch (argument.Kind)
        {
            case RespArgument.ArgumentKind.Text:
                WriteBulk(output, argument.Text);
                break;
            case RespArgument.ArgumentKind.Integer:
                WriteBulk(output, argument.Integer);
                break;
            default:
                WriteBulk(output, argument.Bytes.Span);
                break;
        }
    }

    /// <summary>Writes a bulk string holding <paramref name="value"/>'s bytes.</summary>
    public static void WriteBulk(IBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        WriteHeader(output, (byte)'$', value.Length);
        output.Write(value);
        output.Write("\r\n"u8);
    }

    /// <summary>Writes a bulk string holding <paramref name="value"/> in UTF-8, encoded straight into the buffer.</summary>
    public static void WriteBulk(IBufferWriter<byte> output, string value)
    {
        WriteHeader(output, (byte)'$', Encoding.UTF8.GetByteCount(value));
        Encoding.UTF8.GetBytes(value, output);
        output.Write("\r\n"u8);
    }

    /// <summary>Writes a bulk string holding <paramref name="value"/> in decimal.</summary>
    public static void WriteBulk(IBufferWriter<byte> output, long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out var length);
        WriteBulk(output, digits[..length]);
    }

    private static void WriteHeader(IBufferWriter<byte> output, byte prefix, long number)
    {
        var span = output.GetSpan(MaxHeaderLength);
        span[0] = prefix;
        Utf8Formatter.TryFormat(number, span[1..], out var length);
        span[length + 1] = (byte)'\r';
        span[length + 2] = (byte)'\n';
        output.Advance(length + 3);
    }
}
