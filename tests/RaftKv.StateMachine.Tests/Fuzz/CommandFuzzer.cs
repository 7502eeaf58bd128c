using System.Globalization;
using System.Text;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Scripting;

namespace RaftKv.StateMachine.Tests.Fuzz;

/// <summary>
/// Random requests for <see cref="CommandFuzzTests"/>: an argument vector for any command of
/// <see cref="CommandParser.Commands"/> (and some names that are none), with a right or wrong number of arguments, each
/// drawn from a dictionary of tokens that matter to some command — keys that exist and keys that do not, integers at
/// every edge, options (NX, XX, EX, PX, KEEPTTL, GET, COUNT, MATCH, TYPE...), glob patterns, empty and long strings,
/// Lua scripts from a small corpus and their SHAs. A few commands get their structure (EVAL's numkeys, SESSION.EXEC's
/// wrapped command, SCRIPT's subcommands) most of the time, so the fuzzer gets past their first check.
/// </summary>
internal sealed class CommandFuzzer(Random rng)
{
    private static readonly CommandSpec[] Specs = [.. CommandParser.Commands];

    private static readonly string[] KeyTokens = ["a", "b", "c", "x", "lock", "k\0", "{t}a", "", "\u00ff\u00fe"];

    private static readonly string LongKey = new('k', 1_000);

    private static readonly string[] ValueTokens =
        ["", "v", "0", "1", "-1", "10", "1.5", "abc", "tok", "x\0y", " 7", "9223372036854775807", "-9223372036854775808", "1e3", "\u00ff"];

    private static readonly string LongValue = new('v', 10_000);

    // No integer between a million and 2^31: SETRANGE would allocate that much, three times (memory exhaustion is a
    // separate hazard). Past 2^31 every length-growing command refuses before allocating.
    private static readonly string[] IntegerTokens =
    [
        "0", "1", "-1", "2", "3", "5", "7", "10", "16", "15", "100", "999", "1000", "1001", "-100", "65535", "65536",
        "86400000", "86400001", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967296",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "99999999999999999999999", "9223372036854775", "9223372036854776",
    ];

    private static readonly string[] MalformedNumbers =
        ["", "+1", "01", " 1", "1 ", "0x10", "1e3", "1.5", "-0", "inf", "-inf", "+inf", "nan", "1e308", "1e309", "5e-324", "abc", "1,5", "١", "0.0"];

    private static readonly string[] OptionTokens =
    [
        "NX", "XX", "GT", "LT", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "PERSIST", "COUNT", "MATCH", "TYPE",
        "string", "hash", "none", "DB", "REPLACE", "ASYNC", "SYNC", "LOAD", "EXISTS", "FLUSH", "KILL", "HELP", "BOGUS",
    ];

    private static readonly string[] PatternTokens = ["*", "a*", "?", "[a-c]", "[^a]", "\\*", "*\0*", "[", "[a-", "k\\", "*a*b*c*d*e*f*g*h*", "{t}*", "lock"];

    /// <summary>The Lua corpus: cheap scripts (no unbounded loops) touching every part of the scripting surface.</summary>
    public static readonly string[] Scripts =
    [
        "return 1",
        "return redis.call('SET', KEYS[1], ARGV[1])",
        "return redis.call('GET', KEYS[1])",
        "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end",
        "return redis.call(ARGV[1], KEYS[1], ARGV[2])",
        "return redis.pcall(ARGV[1], KEYS[1], ARGV[2], ARGV[3])",
        "return {redis.call('INCR', KEYS[1]), redis.call('PTTL', KEYS[1])}",
        "return redis.call('KEYS', '*')",
        "return redis.call('SCAN', ARGV[1] or '0', 'COUNT', 3)",
        "local t = {} for i = 1, 20 do t[#t + 1] = redis.call('EXISTS', KEYS[1]) end return t",
        "local t = {} for k in pairs({a = 1, b = 2, c = 3, [KEYS[1] or 'x'] = 4}) do t[#t + 1] = k end return t",
        "return tostring({}) .. tostring(print)",
        "return {math.random(), math.random(1000)}",
        "return redis.call('TIME')",
        "return redis.call('RANDOMKEY')",
        "error('boom')",
        "return redis.error_reply('MY error')",
        "return redis.status_reply('FINE')",
        "return {1, 2.5, true, false, nil, 'after nil'}",
        "return redis.sha1hex(ARGV[1] or '')",
        "syntax error (",
        "return redis.call('SET', KEYS[1], string.rep('v', 100), 'PX', ARGV[1] or 100)",
        "return #KEYS + #ARGV",
        "return redis.call('EVAL', 'return 1', 0)",
        "return redis.call('SESSION.OPEN', 1000)",
        "return redis.call('DEL', unpack(KEYS))",
        "return table.concat(ARGV, ',')",
        "return redis.call('SELECT', ARGV[1] or 1)",
        "redis.setresp(3) return redis.call('GET', KEYS[1])",
        "local s = 0 for i = 1, 1000 do s = s + i end return s",
        "return {{{{{{{{{{1}}}}}}}}}}",
        "return redis.call('GETEX', KEYS[1], 'PX', 50)",
        "return redis.call('COPY', KEYS[1], 'copy', 'DB', 2, 'REPLACE')",
        "local ok, e = pcall(redis.call, 'INCR', KEYS[1]) return {ok and 1 or 0, type(e)}",
        "return string.format('%.17g', 0.1 + 0.2)",
        "return cjson and 1 or 0",
        "return redis.call('FLUSHDB')",
    ];

    private static readonly string[] ScriptShas = [.. Scripts.Select(static s => ScriptCache.Sha1Hex(Encoding.UTF8.GetBytes(s)))];

    /// <summary>Ids of sessions the replies opened, so SESSION.* often names a live one.</summary>
    public List<long> Sessions { get; } = [];

    /// <summary>The cluster time of the next entry, for absolute-time tokens.</summary>
    public long Now { get; set; }

    /// <summary>One request: the name first.</summary>
    public byte[][] Next()
    {
        if (rng.Next(200) == 0)
            return Args([Pick("nosuch", "GETX", "SET ", "s\u00e9t", "", "multi", "ping", "select"), .. Enumerable.Range(0, rng.Next(3)).Select(_ => Token())]);
        var spec = Specs[rng.Next(Specs.Length)];
        return Args(Request(spec, depth: 0));
    }

    /// <summary>One request of <paramref name="spec"/>.</summary>
    public string[] Request(CommandSpec spec, int depth)
    {
        var name = RandomCase(spec.Name);
        if (rng.Next(10) != 0)
        {
            switch (spec.Name)
            {
                case "eval" or "eval_ro":
                    return [name, Script(), .. KeysAndArguments()];
                case "evalsha" or "evalsha_ro":
                    return [name, Sha(), .. KeysAndArguments()];
                case "script":
                    return [name, .. ScriptSubcommand()];
                case "session.exec" when depth == 0:
                    var inner = Specs[rng.Next(Specs.Length)];
                    return [name, SessionId(), Pick("1", "2", "3", "4", "5", "0", "-1", "9223372036854775807"), Pick("0", "1", "2", "3", "-1"), .. Request(inner, depth + 1)];
                case "session.keepalive" or "session.close":
                    return [name, SessionId()];
                case "scan":
                    return [name, Pick("0", "1", Random64(), "18446744073709551615", "-1", "x"), .. Options(rng.Next(0, 4))];
                case "set":
                    return [name, Key(), Value(), .. Options(rng.Next(0, 4))];
                case "swapdb":
                    return [name, Pick("0", "1", "2", "15", "16", "-1"), Pick("0", "1", "2", "x")];
                case "acl":
                    return [name, .. AclSubcommand(depth)];
                case "lock.acquire":
                    return [name, Key(), LockToken(), LockTtl(), .. LockOptions()];
                case "rwlock.acquire":
                    return [name, Key(), Pick("READ", "write", "Read", "BOTH"), LockToken(), LockTtl(), .. LockOptions()];
                case "semaphore.acquire":
                    return [name, Key(), Pick("1", "2", "3", "0", "10001"), LockToken(), LockTtl(), .. LockOptions()];
                case "lock.release" or "rwlock.release" or "semaphore.release":
                    return [name, Key(), LockToken()];
                case "lock.extend" or "rwlock.extend" or "semaphore.extend":
                    return [name, Key(), LockToken(), LockTtl()];
            }
        }

        var count = ArgumentCount(spec.Arity);
        var argv = new string[count];
        argv[0] = name;
        for (var i = 1; i < count; i++)
            argv[i] = IsKeyPosition(spec, i, count) && rng.Next(10) != 0 ? Key() : Token();
        return argv;
    }

    // Few tokens, short leases and waits, so locks are contended, handed on, and expire while the fuzzer runs.
    private string LockToken() => Pick("t1", "t2", "t3", "t4");

    private string LockTtl() => Pick("50", "200", "1000", "0", "-1", "x");

    private IEnumerable<string> LockOptions() => rng.Next(4) switch
    {
        0 => [],
        1 => ["WAIT", Pick("0", "30", "300", "5000", "-1")],
        2 => ["OWNER", Pick("svc", "")],
        _ => ["OWNER", "svc", "WAIT", Pick("100", "2000")],
    };

    private static readonly string[] AclRules =
    [
        "on", "off", "nopass", "resetpass", ">pw", "<pw", "#" + new string('a', 64), "!" + new string('b', 64), "~k*", "%R~x*", "%W~*",
        "allkeys", "resetkeys", "&ch", "allchannels", "resetchannels", "+@all", "-@all", "+@read", "-@dangerous", "+get", "-set",
        "+config|get", "-config", "+select|0", "reset", "bogus", "+nosuch", "(+get)", "clearselectors", "",
    ];

    private static readonly string[] AclUsers = ["default", "u1", "u2", "nosuch"];

    // ACL requests that reach every path: rule lists mixing valid and invalid rules, the reads, DRYRUN of any command.
    private string[] AclSubcommand(int depth) => rng.Next(8) switch
    {
        0 or 1 or 2 => ["SETUSER", Pick("u1", "u2", "default"), .. Enumerable.Range(0, rng.Next(0, 6)).Select(_ => Pick(AclRules))],
        3 => ["DELUSER", Pick(AclUsers), .. rng.Next(3) == 0 ? new[] { Pick(AclUsers) } : []],
        4 => ["GETUSER", Pick(AclUsers)],
        5 => [Pick("LIST", "USERS", "CAT", "WHOAMI")],
        6 => ["CAT", Pick("read", "dangerous", "nosuch", "STRING")],
        _ => ["DRYRUN", Pick(AclUsers), .. depth == 0 ? Request(Specs[rng.Next(Specs.Length)], depth + 1) : ["get", Key()]],
    };

    private int ArgumentCount(int arity)
    {
        var roll = rng.Next(20);
        if (arity > 0)
            return roll == 0 ? Math.Max(1, arity - 1) : roll == 1 ? arity + 1 : arity;
        var minimum = -arity;
        return roll == 0 ? Math.Max(1, minimum - 1) : minimum + (int)Math.Min(8, -Math.Log(1 - rng.NextDouble()) * 2);
    }

    private static bool IsKeyPosition(CommandSpec spec, int position, int count)
    {
        if (spec.FirstKey == 0)
            return false;
        var last = spec.LastKey < 0 ? count + spec.LastKey : spec.LastKey;
        return position >= spec.FirstKey && position <= last && (position - spec.FirstKey) % spec.KeyStep == 0;
    }

    private IEnumerable<string> KeysAndArguments()
    {
        var keys = rng.Next(0, 4);
        var arguments = rng.Next(0, 4);
        var numkeys = rng.Next(8) switch
        {
            0 => Integer(),
            1 => (keys + arguments + 1).ToString(CultureInfo.InvariantCulture),
            _ => keys.ToString(CultureInfo.InvariantCulture),
        };
        return [numkeys, .. Enumerable.Range(0, keys).Select(_ => Key()), .. Enumerable.Range(0, arguments).Select(_ => ScriptArgument())];
    }

    // What the corpus's scripts do with their arguments: a command name, a number, a value.
    private string ScriptArgument() => rng.Next(4) switch
    {
        0 => Specs[rng.Next(Specs.Length)].Name,
        1 => Integer(),
        2 => Pick("GET", "SET", "INCR", "DEL", "PEXPIRE", "APPEND", "EVAL", "nosuch", "SESSION.OPEN", "FLUSHALL"),
        _ => Value(),
    };

    private string[] ScriptSubcommand() => rng.Next(7) switch
    {
        0 or 1 => [RandomCase("LOAD"), Script()],
        2 => [RandomCase("EXISTS"), .. Enumerable.Range(0, rng.Next(1, 4)).Select(_ => Sha())],
        3 => [RandomCase("FLUSH"), .. rng.Next(3) switch { 0 => new[] { Pick("ASYNC", "SYNC", "BOGUS") }, _ => [] }],
        4 => [RandomCase("KILL")],
        5 => [RandomCase("HELP"), .. rng.Next(4) == 0 ? new[] { "x" } : []],
        _ => [Pick("DEBUG", "NOSUCH", "")],
    };

    private IEnumerable<string> Options(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var option = RandomCase(OptionTokens[rng.Next(OptionTokens.Length)]);
            yield return option;
            if (rng.Next(3) != 0)
            {
                yield return option.ToUpperInvariant() switch
                {
                    "MATCH" => Pattern(),
                    "TYPE" => Pick("string", "STRING", "hash", "none", ""),
                    "EXAT" => rng.Next(2) == 0 ? (Now / 1000 + rng.Next(-2, 3)).ToString(CultureInfo.InvariantCulture) : Integer(),
                    "PXAT" => rng.Next(2) == 0 ? (Now + rng.Next(-100, 400)).ToString(CultureInfo.InvariantCulture) : Integer(),
                    _ => Integer(),
                };
            }
        }
    }

    /// <summary>Any token: key, value, number, option, pattern, script or SHA.</summary>
    private string Token() => rng.Next(100) switch
    {
        < 15 => Key(),
        < 30 => Value(),
        < 55 => Integer(),
        < 62 => MalformedNumbers[rng.Next(MalformedNumbers.Length)],
        < 64 => (Now + rng.Next(-200, 500)).ToString(CultureInfo.InvariantCulture),
        < 66 => (Now / 1000 + rng.Next(-2, 3)).ToString(CultureInfo.InvariantCulture),
        < 85 => RandomCase(OptionTokens[rng.Next(OptionTokens.Length)]),
        < 92 => Pattern(),
        < 95 => Script(),
        < 97 => Sha(),
        _ => SessionId(),
    };

    private string Key() => rng.Next(200) == 0 ? LongKey : KeyTokens[rng.Next(KeyTokens.Length)];

    private string Value() => rng.Next(100) == 0 ? LongValue : ValueTokens[rng.Next(ValueTokens.Length)];

    private string Integer() => rng.Next(6) == 0 ? rng.Next(-500, 500).ToString(CultureInfo.InvariantCulture) : IntegerTokens[rng.Next(IntegerTokens.Length)];

    private string Pattern() => PatternTokens[rng.Next(PatternTokens.Length)];

    private string Script() => rng.Next(20) == 0 ? Value() : Scripts[rng.Next(Scripts.Length)];

    private string Sha() => rng.Next(10) switch
    {
        0 => Random64() + Random64(),
        1 => new string('z', 40),
        2 => ScriptShas[rng.Next(ScriptShas.Length)].ToUpperInvariant(),
        3 => "abc",
        _ => ScriptShas[rng.Next(ScriptShas.Length)],
    };

    private string SessionId() => Sessions.Count > 0 && rng.Next(4) != 0
        ? Sessions[rng.Next(Sessions.Count)].ToString(CultureInfo.InvariantCulture)
        : rng.Next(4) == 0 ? Integer() : CommandContext.ToLogPosition(rng.Next(1, 50), rng.Next(0, 3)).ToString(CultureInfo.InvariantCulture);

    private string Random64() => ((ulong)rng.NextInt64()).ToString(CultureInfo.InvariantCulture);

    private string RandomCase(string word)
        => rng.Next(4) == 0 ? string.Concat(word.Select(c => rng.Next(2) == 0 ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c))) : word;

    private string Pick(params string[] choices) => choices[rng.Next(choices.Length)];

    // Latin-1, so "\u00ff" is one byte, as a binary key would be.
    private static byte[][] Args(string[] argv) => [.. argv.Select(static a => a.Any(static c => c > '\u00ff') ? Encoding.UTF8.GetBytes(a) : Encoding.Latin1.GetBytes(a))];

    /// <summary>A request for display: printable ASCII as is, anything else escaped.</summary>
    public static string Show(byte[][] argv) => string.Join(' ', argv.Select(static a =>
    {
        var text = new StringBuilder();
        foreach (var b in a.Take(80))
            text.Append(b is >= 0x21 and < 0x7f and not (byte)'%' ? ((char)b).ToString() : $"%{b:X2}");
        if (a.Length > 80)
            text.Append(CultureInfo.InvariantCulture, $"...({a.Length} bytes)");
        return a.Length == 0 ? "\"\"" : text.ToString();
    }));
}
