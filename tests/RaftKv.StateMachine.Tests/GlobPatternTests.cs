using System.Text;

namespace RaftKv.StateMachine.Tests;

/// <summary><see cref="GlobPattern"/> follows Redis's <c>stringmatchlen</c>, quirks included.</summary>
public sealed class GlobPatternTests
{
    [Theory]
    [InlineData("*", "", false)] // the loop never starts on an empty text; KEYS * takes every key by a shortcut instead
    [InlineData("*", "anything", true)]
    [InlineData("h?llo", "hello", true)]
    [InlineData("h?llo", "hllo", false)]
    [InlineData("h*llo", "hllo", true)]
    [InlineData("h*llo", "heeeello", true)]
    [InlineData("h[ae]llo", "hallo", true)]
    [InlineData("h[ae]llo", "hillo", false)]
    [InlineData("h[^e]llo", "hallo", true)]
    [InlineData("h[^e]llo", "hello", false)]
    [InlineData("h[a-b]llo", "hbllo", true)]
    [InlineData("h[b-a]llo", "hbllo", true)] // a reversed range is swapped
    [InlineData("a\\*b", "a*b", true)]
    [InlineData("a\\*b", "axb", false)]
    [InlineData("h[el", "he", true)] // an unterminated class ends the pattern
    [InlineData("h\\", "h\\", true)] // a trailing backslash matches itself
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("a*", "a", true)]
    [InlineData("a**", "a", true)]
    [InlineData("[]", "a", false)]
    public void Matches_as_redis_does(string pattern, string text, bool expected)
    {
        Assert.Equal(expected, GlobPattern.IsMatch(Encoding.Latin1.GetBytes(pattern), Encoding.Latin1.GetBytes(text)));
    }

    [Fact]
    public void Ranges_compare_bytes_as_signed_chars()
    {
        // In C, '\xff' is -1: [\x01-\xff] is the range -1..1 (swapped), which takes NUL but not 'a'.
        Assert.True(GlobPattern.IsMatch([(byte)'[', 0x01, (byte)'-', 0xff, (byte)']'], [0x00]));
        Assert.False(GlobPattern.IsMatch([(byte)'[', 0x01, (byte)'-', 0xff, (byte)']'], "a"u8));
    }

    [Fact]
    public void An_abusive_pattern_gives_up_instead_of_running_forever()
    {
        var pattern = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*a", 2000)) + "b");
        var text = Encoding.ASCII.GetBytes(new string('a', 5000));

        Assert.False(GlobPattern.IsMatch(pattern, text));
    }
}
