namespace RaftKv.StateMachine;

/// <summary>
/// Redis's glob matching (util.c <c>stringmatchlen</c>, case-sensitive), for <c>KEYS</c> and <c>SCAN MATCH</c>:
/// <c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[^a-z]</c>, <c>\x</c>. Ported rule for rule, quirks included — bytes compare
/// as C's signed <c>char</c> in ranges, an unterminated <c>[</c> ends the pattern, recursion deeper than 1000 levels
/// of <c>*</c> fails — so a pattern selects the same keys here as in Redis.
/// </summary>
public static class GlobPattern
{
    private const int MaxNesting = 1000;

    /// <summary>True when <paramref name="text"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text)
    {
        var skipLongerMatches = false;
        return Match(pattern, text, ref skipLongerMatches, 0);
    }

    /// <summary>True when the pattern matches everything (<c>*</c>), so matching can be skipped.</summary>
    public static bool MatchesAll(ReadOnlySpan<byte> pattern) => pattern is [(byte)'*'];

    // The C code reads one byte past the pattern's end (sds strings end with a NUL); At() gives that NUL.
    private static byte At(ReadOnlySpan<byte> span, int index) => index < span.Length ? span[index] : (byte)0;

    private static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, ref bool skipLongerMatches, int nesting)
    {
        if (nesting > MaxNesting)
            return false;

        var p = 0;
        var s = 0;
        while (p < pattern.Length && s < text.Length)
        {
            switch (pattern[p])
            {
                case (byte)'*':
                    while (p < pattern.Length && At(pattern, p + 1) == (byte)'*')
                        p++;
                    if (pattern.Length - p == 1)
                        return true;
                    while (s < text.Length)
                    {
                        if (Match(pattern[(p + 1)..], text[s..], ref skipLongerMatches, nesting + 1))
                            return true;
                        if (skipLongerMatches)
                            return false;
                        s++;
                    }

                    // Nothing after this star matches anywhere in the rest of the text, so longer matches for earlier
                    // stars cannot help either.
                    skipLongerMatches = true;
                    return false;
                case (byte)'?':
                    s++;
                    break;
                case (byte)'[':
                    p++;
                    var negate = At(pattern, p) == (byte)'^';
                    if (negate)
                        p++;
                    var matched = false;
                    while (true)
                    {
                        if (At(pattern, p) == (byte)'\\' && pattern.Length - p >= 2)
                        {
                            p++;
                            if (pattern[p] == text[s])
                                matched = true;
                        }
                        else if (At(pattern, p) == (byte)']')
                        {
                            break;
                        }
                        else if (p >= pattern.Length)
                        {
                            p--;
                            break;
                        }
                        else if (pattern.Length - p >= 3 && pattern[p + 1] == (byte)'-')
                        {
                            int start = (sbyte)pattern[p], end = (sbyte)pattern[p + 2], c = (sbyte)text[s];
                            if (start > end)
                                (start, end) = (end, start);
                            p += 2;
                            if (c >= start && c <= end)
                                matched = true;
                        }
                        else if (pattern[p] == text[s])
                        {
                            matched = true;
                        }

                        p++;
                    }

                    if (negate)
                        matched = !matched;
                    if (!matched)
                        return false;
                    s++;
                    break;
                case (byte)'\\':
                    if (pattern.Length - p >= 2)
                        p++;
                    if (pattern[p] != text[s])
                        return false;
                    s++;
                    break;
                default:
                    if (pattern[p] != text[s])
                        return false;
                    s++;
                    break;
            }

            p++;
            if (s == text.Length)
            {
                while (At(pattern, p) == (byte)'*')
                    p++;
                break;
            }
        }

        return p >= pattern.Length && s == text.Length;
    }
}
