using System.Globalization;
using System.Numerics;
using System.Text;

namespace RaftKv.StateMachine;

/// <summary>
/// C's <c>long double</c> as Redis on x86-64 Linux computes with it: the x87 80-bit extended format (64-bit
/// mantissa, exponents -16382..16383, subnormals), emulated exactly with integers so every replica — whatever its
/// hardware — gets the bits Redis gets. <c>INCRBYFLOAT</c> parses (<c>strtold</c>), adds and formats
/// (<c>%.17Lf</c>) with it; .NET's <see cref="double"/> would answer <c>10.59999999999999964</c> where Redis
/// answers <c>10.6</c>.
/// </summary>
/// <remarks>
/// A value is <c>(-1)^negative × mantissa × 2^exponent</c>. Every operation rounds its exact result to nearest,
/// ties to even, as the FPU and glibc do in the default rounding mode.
/// </remarks>
internal readonly struct LongDouble
{
    /// <summary>Redis's <c>MAX_LONG_DOUBLE_CHARS</c>: a float argument this long or longer is invalid.</summary>
    public const int MaxTextLength = 5 * 1024;

    private const int MaxExponent = 16383;              // largest binary exponent of a finite value
    private const int MinLsbExponent = -16382 - 63;     // weight of the last mantissa bit of the smallest subnormal
    private const int MaxDecimalExponent = 4933;        // 10^4933 exceeds the largest finite value
    private const int MinDecimalExponent = -4952;       // below 10^-4952 everything rounds to zero

    private readonly ulong mantissa;
    private readonly int exponent;

    private LongDouble(bool negative, ulong mantissa, int exponent, bool infinite = false)
    {
        IsNegative = negative;
        this.mantissa = mantissa;
        this.exponent = exponent;
        IsInfinity = infinite;
    }

    /// <summary>True for -0 and negative values.</summary>
    public bool IsNegative { get; }

    /// <summary>True for ±infinity (a parse of "inf", or an overflow).</summary>
    public bool IsInfinity { get; }

    /// <summary>+0.</summary>
    public static LongDouble Zero => default;

    /// <summary>The exact value of a 64-bit integer (Redis reads an integer-encoded string this way).</summary>
    public static LongDouble FromInt64(long value)
        => value == 0 ? Zero : new(value < 0, value < 0 ? 0 - (ulong)value : (ulong)value, 0);

    /// <summary>
    /// Parses as Redis's <c>string2ld</c>: <c>strtold</c>, which must consume the whole text (so no NUL byte either),
    /// with no leading space; decimal or hexadecimal (<c>0x1.8p3</c>) with an optional sign and exponent, or
    /// <c>inf</c>/<c>infinity</c>. NaN, overflow and a non-zero value that underflows to zero are rejected.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out LongDouble value)
    {
        value = Zero;
        if (text.IsEmpty || text.Length >= MaxTextLength)
            return false;

        var negative = text[0] == (byte)'-';
        if (text[0] is (byte)'-' or (byte)'+')
            text = text[1..];

        if (Ascii.EqualsIgnoreCase(text, "inf"u8) || Ascii.EqualsIgnoreCase(text, "infinity"u8))
        {
            value = new(negative, 0, 0, infinite: true);
            return true;
        }

        var parsed = text.Length > 2 && text[0] == (byte)'0' && (text[1] | 0x20) == (byte)'x' && IsHexMantissaStart(text[2..])
            ? TryParseHex(negative, text[2..], out value)
            : TryParseDecimal(negative, text, out value);
        return parsed && !value.IsInfinity;
    }

    /// <summary>
    /// The sum, rounded once; false when it is not finite (an operand is infinite, or it overflows), which Redis
    /// reports as <c>increment would produce NaN or Infinity</c>.
    /// </summary>
    public static bool TryAdd(LongDouble a, LongDouble b, out LongDouble sum)
    {
        sum = Zero;
        if (a.IsInfinity || b.IsInfinity)
            return false;
        if (a.mantissa == 0 && b.mantissa == 0)
        {
            sum = new(a.IsNegative && b.IsNegative, 0, 0);
            return true;
        }

        var lowest = Math.Min(a.mantissa == 0 ? b.exponent : a.exponent, b.mantissa == 0 ? a.exponent : b.exponent);
        var exact = a.Scaled(lowest) + b.Scaled(lowest);
        if (exact.IsZero)
            return true; // x + (-x) is +0 when rounding to nearest

        var magnitude = BigInteger.Abs(exact);
        sum = lowest >= 0
            ? Round(exact.Sign < 0, magnitude << lowest, BigInteger.One)
            : Round(exact.Sign < 0, magnitude, BigInteger.One << -lowest);
        return !sum.IsInfinity;
    }

    /// <summary>
    /// Redis's human-friendly form (<c>ld2string</c>, <c>LD_STR_HUMAN</c>): <c>%.17Lf</c>, then trailing zeros and a
    /// trailing point removed, and "-0" written as "0".
    /// </summary>
    public byte[] ToHumanString()
    {
        // The exact value times 10^17, rounded to an integer: the digits %.17Lf prints.
        BigInteger scaled;
        var digits = BigInteger.Pow(10, 17) * mantissa;
        if (exponent >= 0)
        {
            scaled = digits << exponent;
        }
        else
        {
            var divisor = BigInteger.One << -exponent;
            scaled = BigInteger.DivRem(digits, divisor, out var remainder);
            var half = (remainder << 1).CompareTo(divisor);
            if (half > 0 || (half == 0 && !scaled.IsEven))
                scaled += 1;
        }

        if (scaled.IsZero)
            return "0"u8.ToArray();

        var text = scaled.ToString(CultureInfo.InvariantCulture).PadLeft(18, '0');
        var integer = text.AsSpan(0, text.Length - 17);
        var fraction = text.AsSpan(text.Length - 17).TrimEnd('0');
        var builder = new StringBuilder(text.Length + 2);
        if (IsNegative)
            builder.Append('-');
        builder.Append(integer);
        if (!fraction.IsEmpty)
            builder.Append('.').Append(fraction);
        return Encoding.ASCII.GetBytes(builder.ToString());
    }

    private BigInteger Scaled(int toExponent)
    {
        var magnitude = (BigInteger)mantissa << (exponent - toExponent);
        return IsNegative ? -magnitude : magnitude;
    }

    private static bool IsHexMantissaStart(ReadOnlySpan<byte> text)
        => IsHexDigit(text[0]) || (text.Length > 1 && text[0] == (byte)'.' && IsHexDigit(text[1]));

    private static bool IsHexDigit(byte c) => char.IsAsciiHexDigit((char)c);

    private static bool TryParseDecimal(bool negative, ReadOnlySpan<byte> text, out LongDouble value)
    {
        value = Zero;
        var digits = new StringBuilder(text.Length);
        var i = 0;
        var fractionDigits = 0;
        while (i < text.Length && char.IsAsciiDigit((char)text[i]))
            digits.Append((char)text[i++]);
        if (i < text.Length && text[i] == (byte)'.')
        {
            i++;
            while (i < text.Length && char.IsAsciiDigit((char)text[i]))
            {
                digits.Append((char)text[i++]);
                fractionDigits++;
            }
        }

        if (digits.Length == 0 || !TryParseExponent(text[i..], (byte)'e', out var exponent10))
            return false;

        var significant = digits.ToString().TrimStart('0');
        if (significant.Length == 0)
        {
            value = new(negative, 0, 0);
            return true;
        }

        // value = significant × 10^scale, and 10^(magnitude-1) <= value < 10^magnitude.
        var scale = exponent10 - fractionDigits;
        var magnitude = scale + significant.Length;
        if (magnitude - 1 >= MaxDecimalExponent)
        {
            value = new(negative, 0, 0, infinite: true);
            return true;
        }

        if (magnitude <= MinDecimalExponent)
            return false; // a non-zero value that underflows to zero: ERANGE

        var number = BigInteger.Parse(significant, NumberStyles.None, CultureInfo.InvariantCulture);
        value = scale >= 0
            ? Round(negative, number * BigInteger.Pow(10, (int)scale), BigInteger.One)
            : Round(negative, number, BigInteger.Pow(10, (int)-scale));
        return value.mantissa != 0 || value.IsInfinity;
    }

    private static bool TryParseHex(bool negative, ReadOnlySpan<byte> text, out LongDouble value)
    {
        value = Zero;
        var mantissa = BigInteger.Zero;
        var i = 0;
        var fractionDigits = 0;
        while (i < text.Length && IsHexDigit(text[i]))
            mantissa = (mantissa << 4) + HexValue(text[i++]);
        if (i < text.Length && text[i] == (byte)'.')
        {
            i++;
            while (i < text.Length && IsHexDigit(text[i]))
            {
                mantissa = (mantissa << 4) + HexValue(text[i++]);
                fractionDigits++;
            }
        }

        if (!TryParseExponent(text[i..], (byte)'p', out var exponent2))
            return false;
        if (mantissa.IsZero)
        {
            value = new(negative, 0, 0);
            return true;
        }

        var scale = exponent2 - (4L * fractionDigits);
        var magnitude = scale + (long)mantissa.GetBitLength();
        if (magnitude > MaxExponent + 1)
        {
            value = new(negative, 0, 0, infinite: true);
            return true;
        }

        if (magnitude < MinLsbExponent - 1)
            return false;

        value = scale >= 0
            ? Round(negative, mantissa << (int)scale, BigInteger.One)
            : Round(negative, mantissa, BigInteger.One << (int)-scale);
        return value.mantissa != 0 || value.IsInfinity;

        static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    }

    // An optional exponent: the marker, an optional sign, at least one digit, and nothing after. Without digits strtold
    // would not consume the marker, leaving text behind, which Redis rejects. Huge exponents are clamped: the value
    // is then out of range either way.
    private static bool TryParseExponent(ReadOnlySpan<byte> text, byte marker, out long exponent)
    {
        exponent = 0;
        if (text.IsEmpty)
            return true;
        if ((text[0] | 0x20) != marker)
            return false;

        text = text[1..];
        var negative = !text.IsEmpty && text[0] == (byte)'-';
        if (!text.IsEmpty && text[0] is (byte)'-' or (byte)'+')
            text = text[1..];
        if (text.IsEmpty)
            return false;

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit((char)c))
                return false;
            exponent = Math.Min((exponent * 10) + (c - '0'), 1_000_000);
        }

        if (negative)
            exponent = -exponent;
        return true;
    }

    // Rounds ±numerator/denominator (numerator > 0) to the nearest long double, ties to even.
    private static LongDouble Round(bool negative, BigInteger numerator, BigInteger denominator)
    {
        // e = floor(log2(value)): the bit lengths give it or one more.
        long e = (long)numerator.GetBitLength() - (long)denominator.GetBitLength();
        if (CompareWithPowerOfTwo(numerator, denominator, e) < 0)
            e--;
        if (e > MaxExponent)
            return new(negative, 0, 0, infinite: true);
        if (e < MinLsbExponent - 1)
            return new(negative, 0, 0);

        // Keep 64 significant bits, fewer for subnormals, whose last bit weighs 2^MinLsbExponent.
        var lsb = (int)Math.Max(e - 63, MinLsbExponent);
        var (n, d) = lsb < 0 ? (numerator << -lsb, denominator) : (numerator, denominator << lsb);
        var quotient = BigInteger.DivRem(n, d, out var remainder);
        var half = (remainder << 1).CompareTo(d);
        if (half > 0 || (half == 0 && !quotient.IsEven))
            quotient += 1;

        if (quotient.GetBitLength() > 64)
        {
            quotient >>= 1;
            lsb++;
        }

        if (lsb + (long)quotient.GetBitLength() - 1 > MaxExponent)
            return new(negative, 0, 0, infinite: true);
        return new(negative, (ulong)quotient, lsb);
    }

    // Compares numerator/denominator with 2^power.
    private static int CompareWithPowerOfTwo(BigInteger numerator, BigInteger denominator, long power)
        => power >= 0
            ? numerator.CompareTo(denominator << (int)power)
            : (numerator << (int)-power).CompareTo(denominator);
}
