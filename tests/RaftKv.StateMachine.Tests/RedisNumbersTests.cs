using System.Text;

namespace RaftKv.StateMachine.Tests;

/// <summary><see cref="RedisNumbers.TryParseInt64"/> accepts exactly what Redis's <c>string2ll</c> accepts.</summary>
public sealed class RedisNumbersTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("1", 1L)]
    [InlineData("-1", -1L)]
    [InlineData("42", 42L)]
    [InlineData("1000", 1000L)]
    [InlineData("-1000", -1000L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    [InlineData("9223372036854775806", long.MaxValue - 1)]
    [InlineData("-9223372036854775807", long.MinValue + 1)]
    public void Parses_canonical_integers(string text, long expected)
    {
        Assert.True(RedisNumbers.TryParseInt64(Encoding.ASCII.GetBytes(text), out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("+")]
    [InlineData("-0")] // string2ll: only "0" itself may start with a zero
    [InlineData("00")]
    [InlineData("01")]
    [InlineData("-01")]
    [InlineData("000000000000000000001")]
    [InlineData("+1")]
    [InlineData("+0")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("1\t")]
    [InlineData("\n1")]
    [InlineData("1_000")]
    [InlineData("1,000")]
    [InlineData("1.0")]
    [InlineData("1e3")]
    [InlineData("0x1F")]
    [InlineData("--1")]
    [InlineData("1-")]
    [InlineData("9223372036854775808")] // long.MaxValue + 1
    [InlineData("-9223372036854775809")] // long.MinValue - 1
    [InlineData("18446744073709551615")] // ulong.MaxValue
    [InlineData("18446744073709551616")] // ulong.MaxValue + 1: the accumulator itself would overflow
    [InlineData("99999999999999999999")]
    [InlineData("-99999999999999999999")]
    [InlineData("123456789012345678901")] // 21 characters
    [InlineData("١")] // an Arabic-Indic digit: Redis counts only ASCII digits
    public void Rejects_everything_else(string text)
    {
        Assert.False(RedisNumbers.TryParseInt64(Encoding.UTF8.GetBytes(text), out _));
    }

    [Fact]
    public void Rejects_an_embedded_nul()
    {
        Assert.False(RedisNumbers.TryParseInt64([(byte)'1', 0], out _));
        Assert.False(RedisNumbers.TryParseInt64([0], out _));
    }

    [Fact]
    public void Round_trips_every_power_of_ten_and_its_neighbours()
    {
        for (long p = 1; p <= 1_000_000_000_000_000_000L; p *= 10)
        {
            foreach (var n in new[] { p - 1, p, p + 1, -p, -(p - 1), -(p + 1) })
            {
                var text = Encoding.ASCII.GetBytes(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Assert.True(RedisNumbers.TryParseInt64(text, out var value), $"'{n}' was rejected");
                Assert.Equal(n, value);
            }

            if (p > long.MaxValue / 10)
                break;
        }
    }
}
