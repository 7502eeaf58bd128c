using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace RaftKv.Node.Tests.Differential;

/// <summary>One step of a differential case: a command to run on both servers, or a pause.</summary>
internal sealed record ScriptStep(int Line, string Source, string[]? Tokens, int SleepMs = 0);

/// <summary>A named sequence of steps, run on fresh connections after <c>FLUSHALL</c> on both servers.</summary>
internal sealed record ScriptCase(string File, string Name, IReadOnlyList<ScriptStep> Steps)
{
    public override string ToString() => $"{File}: {Name}";
}

/// <summary>
/// The hand-written differential cases in <c>Differential/Scripts/*.redis</c>: <c>=== name</c> starts a case; every
/// other non-blank line not starting with <c>#</c> is a command written as for redis-cli (double quotes with
/// <c>\n \r \t \\ \" \xHH</c> escapes, single quotes verbatim), or <c>@sleep ms</c>. In a command, <c>{now+N}</c> /
/// <c>{now-N}</c> are Unix seconds and <c>{nowms+N}</c> / <c>{nowms-N}</c> Unix milliseconds, fixed when the case
/// starts; <c>{id}</c> is the connection's <c>CLIENT ID</c> on each server.
/// </summary>
internal static class CommandScript
{
    /// <summary>Every case of every script, read from the source tree (the scripts are data, not build output).</summary>
    public static IReadOnlyList<ScriptCase> LoadAll()
        => [.. Directory.GetFiles(ScriptsDirectory(), "*.redis").Order(StringComparer.Ordinal).SelectMany(Load)];

    public static IEnumerable<ScriptCase> Load(string path)
    {
        var file = Path.GetFileName(path);
        string? name = null;
        var steps = new List<ScriptStep>();
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            if (line.StartsWith("===", StringComparison.Ordinal))
            {
                if (name is not null)
                    yield return new ScriptCase(file, name, steps);
                name = line[3..].Trim();
                steps = [];
                continue;
            }

            if (name is null)
                throw new InvalidDataException($"{file}:{i + 1}: a command before the first '=== case'.");
            steps.Add(line.StartsWith("@sleep ", StringComparison.Ordinal)
                ? new ScriptStep(i + 1, line, null, int.Parse(line[7..], CultureInfo.InvariantCulture))
                : new ScriptStep(i + 1, line, [.. Tokenize(line, file, i + 1)]));
        }

        if (name is not null)
            yield return new ScriptCase(file, name, steps);
    }

    /// <summary>Replaces the placeholders of a token and turns it into the bytes sent (escapes were kept as Latin-1 chars).</summary>
    public static byte[] Expand(string token, long nowMs, long clientId)
    {
        var text = token.Contains('{', StringComparison.Ordinal) ? ExpandPlaceholders(token, nowMs, clientId) : token;
        return Encoding.Latin1.GetBytes(text);
    }

    private static string ExpandPlaceholders(string token, long nowMs, long clientId)
    {
        var text = token.Replace("{id}", clientId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        foreach (var (prefix, unit) in new[] { ("{nowms", 1L), ("{now", 1000L) })
        {
            int start;
            while ((start = text.IndexOf(prefix, StringComparison.Ordinal)) >= 0 && text.Length > start + prefix.Length
                   && text[start + prefix.Length] is '+' or '-')
            {
                var end = text.IndexOf('}', start);
                var offset = long.Parse(text[(start + prefix.Length)..end], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                var value = (nowMs / unit) + offset;
                text = text[..start] + value.ToString(CultureInfo.InvariantCulture) + text[(end + 1)..];
            }
        }

        return text;
    }

    // redis-cli's sdssplitargs, enough of it: tokens become strings whose chars are bytes (Latin-1).
    private static IEnumerable<string> Tokenize(string line, string file, int number)
    {
        var i = 0;
        while (true)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i]))
                i++;
            if (i == line.Length)
                yield break;

            var token = new StringBuilder();
            if (line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                        throw new InvalidDataException($"{file}:{number}: unterminated quotes");
                    var c = line[i++];
                    if (c == '"')
                        break;
                    if (c != '\\')
                    {
                        token.Append(c);
                        continue;
                    }

                    var e = line[i++];
                    if (e == 'x')
                    {
                        token.Append((char)Convert.ToByte(line.Substring(i, 2), 16));
                        i += 2;
                    }
                    else
                    {
                        token.Append(e switch { 'n' => '\n', 'r' => '\r', 't' => '\t', 'a' => '\a', 'b' => '\b', _ => e });
                    }
                }
            }
            else if (line[i] == '\'')
            {
                i++;
                while (i < line.Length && line[i] != '\'')
                    token.Append(line[i++]);
                i++;
            }
            else
            {
                while (i < line.Length && !char.IsWhiteSpace(line[i]))
                    token.Append(line[i++]);
            }

            yield return token.ToString();
        }
    }

    private static string ScriptsDirectory([CallerFilePath] string source = "")
        => Path.Combine(Path.GetDirectoryName(source)!, "Scripts");
}
