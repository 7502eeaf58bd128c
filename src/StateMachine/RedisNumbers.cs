using System.Buffers.Text;

namespace RaftKv.StateMachine;

/// <summary>How parsing a bounded integer went, for the two different errors Redis gives.</summary>
public enum IntegerParse : byte
{
    /// <summary>A valid integer within range.</summary>
    Ok,
    /// <summary>Not an integer at all: <c>ERR value is not an integer or out of range</c>.</summary>
    NotAnInteger,
    /// <summary>An integer outside the range: Redis names the range in its error.</summary>
    OutOfRange,
}

/// <summary>Number parsing and formatting exactly as Redis does it (util.c), so the same inputs are rejected.</summary>
public static class RedisNumbers
{
    /// <summary>
    /// Parses a signed 64-bit integer (<c>string2ll</c>): optional '-', no '+', no spaces, no leading zeros ("0" alone
    /// is fine, "-0" is not), no overflow.
    /// </summary>
    public static bool TryParseInt64(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 20)
            return false;
        if (text is [(byte)'0'])
            return true;

        var negative = text[0] == (byte)'-';
        var digits = negative ? text[1..] : text;
        if (digits.IsEmpty || digits[0] is < (byte)'1' or > (byte)'9')
            return false;

        ulong magnitude = 0;
        foreach (var c in digits)
        {
            if (c is < (byte)'0' or > (byte)'9')
                return false;
            var digit = (ulong)(c - '0');
            if (magnitude > (ulong.MaxValue - digit) / 10)
                return false;
            magnitude = (magnitude * 10) + digit;
        }

        if (negative)
        {
            if (magnitude > (ulong)long.MaxValue + 1)
                return false;
            value = (long)(0 - magnitude);
        }
        else
        {
            if (magnitude > long.MaxValue)
                return false;
            value = (long)magnitude;
        }

        return true;
    }

    /// <summary>
    /// Parses an <c>int</c> as <c>getIntFromObjectOrReply</c> does: <see cref="TryParseInt64"/>, then a range check
    /// that Redis reports with its own error (<see cref="Int32OutOfRange"/>).
    /// </summary>
    public static IntegerParse ParseInt32(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        if (!TryParseInt64(text, out var wide))
            return IntegerParse.NotAnInteger;
        if (wide is < int.MinValue or > int.MaxValue)
            return IntegerParse.OutOfRange;
        value = (int)wide;
        return IntegerParse.Ok;
    }

    /// <summary>Redis 7.0's text (sic) when an integer argument is outside the range of an <c>int</c>.</summary>
    public static string Int32OutOfRange => "ERR value is out of range, value must between -2147483648 and 2147483647";

    /// <summary>
    /// Parses a <c>SCAN</c> cursor as Redis does with <c>strtoul</c>: optional sign (a '-' wraps modulo 2^64), decimal
    /// digits, nothing after them; leading zeros are fine, an empty cursor is 0, and the text ends at a NUL byte.
    /// </summary>
    public static bool TryParseCursor(ReadOnlySpan<byte> text, out ulong cursor)
    {
        cursor = 0;
        if (!text.IsEmpty && text[0] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r')
            return false;
        if (text.IndexOf((byte)0) is var nul and >= 0)
            text = text[..nul];
        if (text.IsEmpty)
            return true;

        var negative = text[0] == (byte)'-';
        var digits = text[0] is (byte)'-' or (byte)'+' ? text[1..] : text;
        if (digits.IsEmpty)
            return false;

        ulong value = 0;
        foreach (var c in digits)
        {
            if (c is < (byte)'0' or > (byte)'9')
                return false;
            var digit = (ulong)(c - '0');
            if (value > (ulong.MaxValue - digit) / 10)
                return false; // ERANGE
            value = (value * 10) + digit;
        }

        cursor = negative ? 0 - value : value;
        return true;
    }

    /// <summary>The decimal text of <paramref name="value"/> as bytes, as Redis stores the result of INCR.</summary>
    public static byte[] Format(long value)
    {
        Span<byte> buffer = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, buffer, out var written);
        return buffer[..written].ToArray();
    }

    /// <summary>The decimal text of an unsigned value (a SCAN cursor) as bytes.</summary>
    public static byte[] Format(ulong value)
    {
        Span<byte> buffer = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, buffer, out var written);
        return buffer[..written].ToArray();
    }
}
