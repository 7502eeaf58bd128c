namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// Lua 5.4's pattern matcher (<c>lstrlib.c</c>: <c>match</c> and the search loops of <c>find</c>, <c>match</c>,
/// <c>gmatch</c> and <c>gsub</c>), ported so that every step is counted. The native matcher runs in C, where the
/// instruction budget cannot see it, and backtracking makes its work grow as a power of the subject length
/// (<c>string.find(string.rep('a', 1e6), '.-.-.-b')</c> never ends); this one stops after the steps it was given, at
/// the same step on every replica.
/// </summary>
/// <remarks>
/// Works on the bytes of Lua strings in place: Lua never moves a string, and keeps a NUL after its last byte, which
/// the C code reads (<c>*(p + 1)</c> at the pattern's end, <c>*s</c> at the subject's end) and so does this port.
/// Error texts are Lua's.
/// </remarks>
internal sealed unsafe class LuaPattern
{
    /// <summary>Lua's <c>LUA_MAXCAPTURES</c>.</summary>
    public const int MaxCaptures = 32;

    /// <summary>A capture that is a position (<c>()</c>) rather than a substring.</summary>
    public const long CapturePosition = -2;

    private const long CaptureUnfinished = -1;
    private const int MaxCalls = 200;
    private const byte Escape = (byte)'%';

    private readonly byte* src;
    private readonly long srcEnd;
    private readonly byte* pat;
    private readonly long patEnd;
    private readonly long[] captureStart = new long[MaxCaptures];
    private readonly long[] captureLength = new long[MaxCaptures];
    private int depth = MaxCalls;
    private long stepsLeft;

    public LuaPattern(byte* subject, long subjectLength, byte* pattern, long patternLength, long steps)
    {
        src = subject;
        srcEnd = subjectLength;
        pat = pattern;
        patEnd = patternLength;
        stepsLeft = steps;
        StepsAllowed = steps;
    }

    /// <summary>The steps this matcher was allowed.</summary>
    public long StepsAllowed { get; }

    /// <summary>Steps taken so far.</summary>
    public long StepsTaken => StepsAllowed - stepsLeft;

    /// <summary>Captures of the last successful match (finished or not, see <see cref="Capture"/>).</summary>
    public int Level { get; private set; }

    /// <summary>
    /// Tries positions <paramref name="from"/>, <paramref name="from"/> + 1, ... up to the subject's end (only the
    /// first when <paramref name="anchor"/>) with the pattern from <paramref name="patternStart"/>; the first match
    /// whose end differs from <paramref name="lastMatch"/> (gmatch and gsub skip an empty match where the last ended).
    /// </summary>
    /// <exception cref="LuaPatternException">A malformed pattern, too complex, or out of steps.</exception>
    public bool Search(long from, long patternStart, bool anchor, long lastMatch, out long start, out long end)
    {
        var s1 = from;
        do
        {
            Step();
            Level = 0;
            var e = Match(s1, patternStart);
            if (e != -1 && e != lastMatch)
            {
                start = s1;
                end = e;
                return true;
            }
        }
        while (s1++ < srcEnd && !anchor);

        start = end = -1;
        return false;
    }

    /// <summary>
    /// Capture <paramref name="i"/> of the match <paramref name="s"/>..<paramref name="e"/>: its start and length, or
    /// <see cref="CapturePosition"/> as the length of a position capture; with no captures, capture 0 is the match.
    /// </summary>
    public (long Start, long Length) Capture(int i, long s, long e)
    {
        if (i >= Level)
        {
            if (i != 0)
                throw new LuaPatternException($"invalid capture index %{i + 1}");
            return (s, e - s);
        }

        var length = captureLength[i];
        if (length == CaptureUnfinished)
            throw new LuaPatternException("unfinished capture");
        return (captureStart[i], length);
    }

    /// <summary>Lua's <c>nospecials</c>: no byte of the pattern is one of <c>^$*+?.([%-</c>.</summary>
    public static bool HasNoSpecials(ReadOnlySpan<byte> pattern) => pattern.IndexOfAny("^$*+?.([%-"u8) < 0;

    /// <summary>
    /// Lua's <c>lmemfind</c> (a plain search), counting a step per candidate position and per 32 bytes compared or
    /// skipped. Returns the offset of the first occurrence, or -1.
    /// </summary>
    public long PlainFind(long from, ReadOnlySpan<byte> needle)
    {
        var length = srcEnd - from;
        if (needle.Length == 0)
            return from;
        if (needle.Length > length)
            return -1;

        var position = from;
        var last = srcEnd - needle.Length;
        while (position <= last)
        {
            var window = new ReadOnlySpan<byte>(src + position, (int)Math.Min(last - position + 1, int.MaxValue));
            var hit = window.IndexOf(needle[0]);
            Charge(1 + (hit < 0 ? window.Length : hit) / 32);
            if (hit < 0)
            {
                if (window.Length == last - position + 1)
                    return -1;
                position += window.Length;
                continue;
            }

            position += hit;
            Charge(1 + needle.Length / 32);
            if (new ReadOnlySpan<byte>(src + position, needle.Length).SequenceEqual(needle))
                return position;
            position++;
        }

        return -1;
    }

    private void Step()
    {
        if (--stepsLeft < 0)
            throw new LuaPatternException(null);
    }

    /// <summary>Takes <paramref name="steps"/> at once (work a caller does for this search).</summary>
    /// <exception cref="LuaPatternException">Out of steps.</exception>
    public void Charge(long steps)
    {
        stepsLeft -= steps;
        if (stepsLeft < 0)
            throw new LuaPatternException(null);
    }

    private byte P(long i) => pat[i];

    private byte S(long i) => src[i];

    private long Match(long s, long p)
    {
        if (depth-- == 0)
            throw new LuaPatternException("pattern too complex");
        while (true)
        {
            Step();
            if (p == patEnd)
                break;

            switch (P(p))
            {
                case (byte)'(':
                    s = P(p + 1) == ')' ? StartCapture(s, p + 2, CapturePosition) : StartCapture(s, p + 1, CaptureUnfinished);
                    break;
                case (byte)')':
                    s = EndCapture(s, p + 1);
                    break;
                case (byte)'$' when p + 1 == patEnd:
                    s = s == srcEnd ? s : -1;
                    break;
                case Escape when P(p + 1) == 'b':
                    s = MatchBalance(s, p + 2);
                    if (s != -1)
                    {
                        p += 4;
                        continue;
                    }

                    break;
                case Escape when P(p + 1) == 'f':
                {
                    p += 2;
                    if (P(p) != '[')
                        throw new LuaPatternException("missing '[' after '%f' in pattern");
                    var ep = ClassEnd(p);
                    var previous = s == 0 ? (byte)0 : S(s - 1);
                    if (!MatchBracketClass(previous, p, ep - 1) && MatchBracketClass(S(s), p, ep - 1))
                    {
                        p = ep;
                        continue;
                    }

                    s = -1;
                    break;
                }

                case Escape when P(p + 1) is >= (byte)'0' and <= (byte)'9':
                    s = MatchCapture(s, P(p + 1));
                    if (s != -1)
                    {
                        p += 2;
                        continue;
                    }

                    break;
                default:
                {
                    var ep = ClassEnd(p);
                    if (!SingleMatch(s, p, ep))
                    {
                        if (P(ep) is (byte)'*' or (byte)'?' or (byte)'-')
                        {
                            p = ep + 1;
                            continue;
                        }

                        s = -1;
                        break;
                    }

                    switch (P(ep))
                    {
                        case (byte)'?':
                            var result = Match(s + 1, ep + 1);
                            if (result != -1)
                            {
                                s = result;
                                break;
                            }

                            p = ep + 1;
                            continue;
                        case (byte)'+':
                            s = MaxExpand(s + 1, p, ep);
                            break;
                        case (byte)'*':
                            s = MaxExpand(s, p, ep);
                            break;
                        case (byte)'-':
                            s = MinExpand(s, p, ep);
                            break;
                        default:
                            s++;
                            p = ep;
                            continue;
                    }

                    break;
                }
            }

            break;
        }

        depth++;
        return s;
    }

    private long ClassEnd(long p)
    {
        switch (P(p++))
        {
            case Escape:
                if (p == patEnd)
                    throw new LuaPatternException("malformed pattern (ends with '%')");
                return p + 1;
            case (byte)'[':
                if (P(p) == '^')
                    p++;
                do
                {
                    Step();
                    if (p == patEnd)
                        throw new LuaPatternException("malformed pattern (missing ']')");
                    if (P(p++) == Escape && p < patEnd)
                        p++;
                }
                while (P(p) != ']');
                return p + 1;
            default:
                return p;
        }
    }

    private static bool MatchClass(int c, int cl)
    {
        bool result;
        switch (cl | 0x20)
        {
            case 'a': result = IsAlpha(c); break;
            case 'c': result = c < 32 || c == 127; break;
            case 'd': result = c is >= '0' and <= '9'; break;
            case 'g': result = c is > 32 and < 127; break;
            case 'l': result = c is >= 'a' and <= 'z'; break;
            case 'p': result = c is > 32 and < 127 && !IsAlpha(c) && c is not (>= '0' and <= '9'); break;
            case 's': result = c is ' ' or (>= 9 and <= 13); break;
            case 'u': result = c is >= 'A' and <= 'Z'; break;
            case 'w': result = IsAlpha(c) || c is >= '0' and <= '9'; break;
            case 'x': result = c is (>= '0' and <= '9') or (>= 'a' and <= 'f') or (>= 'A' and <= 'F'); break;
            case 'z': result = c == 0; break;
            default: return cl == c;
        }

        // C's tolower/islower in the "C" locale: only ASCII letters have a case.
        return cl is >= 'a' and <= 'z' ? result : !result;

        static bool IsAlpha(int c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z');
    }

    private bool MatchBracketClass(int c, long p, long ec)
    {
        var sig = true;
        if (P(p + 1) == '^')
        {
            sig = false;
            p++;
        }

        while (++p < ec)
        {
            Step();
            if (P(p) == Escape)
            {
                p++;
                if (MatchClass(c, P(p)))
                    return sig;
            }
            else if (P(p + 1) == '-' && p + 2 < ec)
            {
                p += 2;
                if (P(p - 2) <= c && c <= P(p))
                    return sig;
            }
            else if (P(p) == c)
            {
                return sig;
            }
        }

        return !sig;
    }

    private bool SingleMatch(long s, long p, long ep)
    {
        Step();
        if (s >= srcEnd)
            return false;
        int c = S(s);
        return P(p) switch
        {
            (byte)'.' => true,
            Escape => MatchClass(c, P(p + 1)),
            (byte)'[' => MatchBracketClass(c, p, ep - 1),
            _ => P(p) == c,
        };
    }

    private long MatchBalance(long s, long p)
    {
        if (p >= patEnd - 1)
            throw new LuaPatternException("malformed pattern (missing arguments to '%b')");
        if (S(s) != P(p))
            return -1;
        var b = P(p);
        var e = P(p + 1);
        var count = 1;
        while (++s < srcEnd)
        {
            Step();
            if (S(s) == e)
            {
                if (--count == 0)
                    return s + 1;
            }
            else if (S(s) == b)
            {
                count++;
            }
        }

        return -1;
    }

    private long MaxExpand(long s, long p, long ep)
    {
        long i = 0;
        while (SingleMatch(s + i, p, ep))
            i++;
        while (i >= 0)
        {
            var result = Match(s + i, ep + 1);
            if (result != -1)
                return result;
            i--;
        }

        return -1;
    }

    private long MinExpand(long s, long p, long ep)
    {
        while (true)
        {
            var result = Match(s, ep + 1);
            if (result != -1)
                return result;
            if (SingleMatch(s, p, ep))
                s++;
            else
                return -1;
        }
    }

    private long StartCapture(long s, long p, long what)
    {
        var level = Level;
        if (level >= MaxCaptures)
            throw new LuaPatternException("too many captures");
        captureStart[level] = s;
        captureLength[level] = what;
        Level = level + 1;
        var result = Match(s, p);
        if (result == -1)
            Level--;
        return result;
    }

    private long EndCapture(long s, long p)
    {
        var l = CaptureToClose();
        captureLength[l] = s - captureStart[l];
        var result = Match(s, p);
        if (result == -1)
            captureLength[l] = CaptureUnfinished;
        return result;
    }

    private int CaptureToClose()
    {
        for (var level = Level - 1; level >= 0; level--)
        {
            if (captureLength[level] == CaptureUnfinished)
                return level;
        }

        throw new LuaPatternException("invalid pattern capture");
    }

    private long MatchCapture(long s, int l)
    {
        l -= '1';
        if (l < 0 || l >= Level || captureLength[l] == CaptureUnfinished)
            throw new LuaPatternException($"invalid capture index %{l + 1}");
        var length = captureLength[l];

        // A position capture has length -2, which as size_t in C never fits: no match.
        if (length < 0 || srcEnd - s < length)
            return -1;
        Charge(length / 32);
        return new ReadOnlySpan<byte>(src + captureStart[l], (int)length).SequenceEqual(new ReadOnlySpan<byte>(src + s, (int)length)) ? s + length : -1;
    }
}

/// <summary>A pattern error with Lua's text, or (null message) the matcher ran out of steps.</summary>
internal sealed class LuaPatternException(string? message, bool memory = false) : Exception(message ?? "out of steps")
{
    /// <summary>True when the matcher ran out of steps rather than meeting a bad pattern.</summary>
    public bool OutOfSteps { get; } = message is null && !memory;

    /// <summary>True when the result would exceed the script's memory cap.</summary>
    public bool OutOfMemory { get; } = memory;
}
