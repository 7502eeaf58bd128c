namespace RaftKv.StateMachine;

/// <summary>Number parsing exactly as Redis does it (util.c <c>string2ll</c>), so the same inputs are rejected.</summary>
public static class RedisNumbers
{
    /// <summary>
    /// Parses a signed 64-bit integer: optional '-', no '+', no spaces, no leading zeros ("0" alone is fine, "-0" is
    /// not), no overflow.
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
}
