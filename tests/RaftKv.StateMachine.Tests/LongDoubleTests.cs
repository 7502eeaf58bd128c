using System.Text;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// <see cref="LongDouble"/> gives the digits Redis 7.0 on x86-64 gives for INCRBYFLOAT (values taken from
/// redis-server 7.0.15; the differential suite checks many more against a live server).
/// </summary>
public sealed class LongDoubleTests
{
    private static string Sum(params string[] terms)
    {
        var total = LongDouble.Zero;
        foreach (var term in terms)
        {
            Assert.True(LongDouble.TryParse(Encoding.ASCII.GetBytes(term), out var value), $"'{term}' did not parse");
            Assert.True(LongDouble.TryAdd(total, value, out total), $"adding '{term}' was not finite");
        }

        return Encoding.ASCII.GetString(total.ToHumanString());
    }

    [Theory]
    [InlineData("10.6", "10.5", "0.1")] // double arithmetic would print 10.59999999999999964
    [InlineData("5200", "5.0e3", "2.0e2")]
    [InlineData("0.00000381469726562", "0.000003814697265625")] // an exact tie at the 17th decimal rounds to even (2)
    [InlineData("0.00001144409179688", "0.000011444091796875")] // ... and up from an odd digit (7)
    [InlineData("0", "-0.00000000000000000001")] // "-0" after rounding is written "0"
    [InlineData("0", "-0")]
    [InlineData("8", "0x1p3")]
    [InlineData("0.75", "0x1.8p-1")]
    [InlineData("0.5", ".5")]
    [InlineData("5", "5.")]
    [InlineData("0", "5e-324")]
    [InlineData("0.3", "0.1", "0.2")]
    [InlineData("0", "0.1", "0.2", "-0.3")]
    [InlineData("123456789012345678899921813504", "123456789012345678901234567890")] // 64 bits of mantissa
    public void Sums_print_as_redis_prints_them(string expected, params string[] terms)
    {
        Assert.Equal(expected, Sum(terms));
    }

    [Fact]
    public void A_huge_value_prints_all_its_integer_digits()
    {
        var text = Sum("1e308", "1e308");
        Assert.StartsWith("1999999999999999999933717593116912913211201996948311344155940959898434697376761237442002538437770786408", text, StringComparison.Ordinal);
        Assert.Equal(309, text.Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("abc")]
    [InlineData("nan")]
    [InlineData("1e")]
    [InlineData("1e+")]
    [InlineData("0x")]
    [InlineData("0x1p")]
    [InlineData(".")]
    [InlineData("1e4933")] // overflows the format
    [InlineData("1e-5000")] // a non-zero value that underflows to zero
    [InlineData("1\0")]
    public void Rejects_what_strtold_does_not_fully_consume_or_is_out_of_range(string text)
    {
        Assert.False(LongDouble.TryParse(Encoding.Latin1.GetBytes(text), out _));
    }

    [Theory]
    [InlineData("inf")]
    [InlineData("-Infinity")]
    public void Infinity_parses_but_never_adds_to_a_finite_sum(string text)
    {
        Assert.True(LongDouble.TryParse(Encoding.ASCII.GetBytes(text), out var infinite));
        Assert.False(LongDouble.TryAdd(LongDouble.Zero, infinite, out _));
    }

    [Fact]
    public void An_overflowing_sum_is_not_finite()
    {
        Assert.True(LongDouble.TryParse("1.18e4932"u8, out var large));
        Assert.False(LongDouble.TryAdd(large, large, out _));
    }

    [Fact]
    public void A_subnormal_value_parses()
    {
        Assert.True(LongDouble.TryParse("1e-4950"u8, out var tiny));
        Assert.Equal("0", Encoding.ASCII.GetString(tiny.ToHumanString()));
    }
}
