using System.Globalization;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Random string and keyspace commands beyond SET/GET/DEL, for the determinism property test: few keys so they
/// collide, times to live of a few hundred milliseconds so keys expire (and get swept) while the log runs, numbers
/// and floats chosen to reach Redis's errors, and the commands that move keys between databases.
/// </summary>
internal static class OtherCommands
{
    private static readonly string[] Keys = ["x", "y", "z", "n", "w\0b"];

    private static readonly string[] Values = ["v", "", "10", "-3", "1.5", "abc", "9223372036854775807", "\u00ff\u0000"];

    // Parse-time errors are the Rejected steps' business: these all parse, and some fail at apply.
    private static readonly string[] Floats = ["0.1", "-2.5", "1e3", "0x1p-2", "inf", "1e308", "5e-324"];

    private static readonly string[] Integers = ["1", "-1", "7", "9223372036854775807", "-9223372036854775807"];

    private static readonly string[] Patterns = ["*", "x*", "[xy]", "?", "*\0*", "n"];

    /// <summary>A write (never a read: GETEX always has an option).</summary>
    public static string[] Write(Random rng, long now) => rng.Next(30) switch
    {
        0 => ["SET", Key(rng), Value(rng), .. rng.Next(2) == 0 ? new[] { "PX", Ttl(rng) } : []],
        1 => ["GETDEL", Key(rng)],
        2 => ["GETEX", Key(rng), .. GetExOption(rng, now)],
        3 => ["GETSET", Key(rng), Value(rng)],
        4 => [rng.Next(2) == 0 ? "MSET" : "MSETNX", Key(rng), Value(rng), Key(rng), Value(rng)],
        5 => ["SETNX", Key(rng), Value(rng)],
        6 => rng.Next(2) == 0 ? ["SETEX", Key(rng), "1", Value(rng)] : ["PSETEX", Key(rng), Ttl(rng), Value(rng)],
        7 => ["APPEND", Key(rng), Value(rng)],
        8 => ["SETRANGE", Key(rng), N(rng.Next(0, 12)), Value(rng)],
        9 => [new[] { "INCR", "DECR" }[rng.Next(2)], Key(rng)],
        10 => [new[] { "INCRBY", "DECRBY" }[rng.Next(2)], Key(rng), Integers[rng.Next(Integers.Length)]],
        11 => ["INCRBYFLOAT", Key(rng), Floats[rng.Next(Floats.Length)]],
        12 => [rng.Next(2) == 0 ? "DEL" : "UNLINK", Key(rng), Key(rng)],
        13 or 14 => Expire(rng, now),
        15 => ["PERSIST", Key(rng)],
        16 => [rng.Next(2) == 0 ? "RENAME" : "RENAMENX", Key(rng), Key(rng)],
        17 => ["COPY", Key(rng), Key(rng), .. rng.Next(2) == 0 ? new[] { "DB", N(rng.Next(1, 4)) } : [], .. rng.Next(2) == 0 ? new[] { "REPLACE" } : []],
        18 => ["SWAPDB", N(rng.Next(1, 4)), N(rng.Next(1, 4))],
        19 => rng.Next(8) == 0 ? ["FLUSHDB"] : ["SET", Key(rng), Value(rng)],
        20 => ["SET", Key(rng), Value(rng), "KEEPTTL", "GET"],
        21 => ["LOCK.ACQUIRE", Key(rng), Value(rng), Ttl(rng), .. rng.Next(2) == 0 ? new[] { "WAIT", Ttl(rng), "OWNER", "o" } : []],
        26 => rng.Next(3) switch
        {
            0 => ["RWLOCK.ACQUIRE", Key(rng), rng.Next(2) == 0 ? "READ" : "WRITE", Value(rng), Ttl(rng), .. rng.Next(2) == 0 ? new[] { "WAIT", Ttl(rng) } : []],
            1 => ["RWLOCK.EXTEND", Key(rng), Value(rng), Ttl(rng)],
            _ => ["RWLOCK.RELEASE", Key(rng), Value(rng)],
        },
        27 => rng.Next(3) switch
        {
            0 => ["SEMAPHORE.ACQUIRE", Key(rng), "2", Value(rng), Ttl(rng), .. rng.Next(2) == 0 ? new[] { "WAIT", Ttl(rng) } : []],
            1 => ["SEMAPHORE.EXTEND", Key(rng), Value(rng), Ttl(rng)],
            _ => ["SEMAPHORE.RELEASE", Key(rng), Value(rng)],
        },
        22 => rng.Next(2) == 0 ? ["LOCK.EXTEND", Key(rng), Value(rng), Ttl(rng)] : ["LOCK.RELEASE", Key(rng), Value(rng)],
        23 => ["SESSION.OPEN", N(rng.Next(1_000, 3_000))],
        25 => rng.Next(3) == 0 ? ["ACL", "DELUSER", "u" + N(rng.Next(3))] : ["ACL", "SETUSER", "u" + N(rng.Next(3)), "on", "~k*", rng.Next(2) == 0 ? "+@all" : "-@all"],
        24 => ["SESSION.EXEC", SessionId(rng), N(rng.Next(1, 6)), N(rng.Next(0, 4)), .. Write(rng, now) is var inner && inner[0].StartsWith("SESSION.", StringComparison.Ordinal) ? ["INCR", Key(rng)] : inner],
        _ => ["SET", Key(rng), Value(rng), "EX", "1"],
    };

    // Session ids are log positions: a few early entries' first commands, so some name a session a SESSION.OPEN made.
    private static string SessionId(Random rng)
        => RaftKv.StateMachine.Commands.CommandContext.ToLogPosition(rng.Next(1, 40), rng.Next(0, 2)).ToString(CultureInfo.InvariantCulture);

    /// <summary>A read.</summary>
    public static string[] Read(Random rng) => rng.Next(14) switch
    {
        0 => ["GET", Key(rng)],
        1 => ["MGET", Key(rng), Key(rng), Key(rng)],
        2 => ["STRLEN", Key(rng)],
        3 => ["GETRANGE", Key(rng), N(rng.Next(-5, 5)), N(rng.Next(-5, 5))],
        4 => ["EXISTS", Key(rng), Key(rng)],
        5 => ["TYPE", Key(rng)],
        6 => [new[] { "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME" }[rng.Next(4)], Key(rng)],
        7 => ["KEYS", Patterns[rng.Next(Patterns.Length)]],
        8 => ["SCAN", rng.Next(2) == 0 ? "0" : ((ulong)rng.NextInt64()).ToString(CultureInfo.InvariantCulture), "COUNT", N(rng.Next(1, 4)), .. rng.Next(2) == 0 ? new[] { "MATCH", Patterns[rng.Next(Patterns.Length)] } : []],
        9 => ["RANDOMKEY"],
        10 => ["DBSIZE"],
        11 => ["GETEX", Key(rng)],
        _ => ["GET", Key(rng)],
    };

    private static string Key(Random rng) => Keys[rng.Next(Keys.Length)];

    private static string Value(Random rng) => Values[rng.Next(Values.Length)];

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Ttl(Random rng) => N(rng.Next(1, 400));

    private static string[] GetExOption(Random rng, long now) => rng.Next(5) switch
    {
        0 => ["PERSIST"],
        1 => ["PX", Ttl(rng)],
        2 => ["EX", rng.Next(3) == 0 ? "0" : "1"],
        3 => ["PXAT", N(now + rng.Next(-100, 300))],
        _ => ["EXAT", N((now / 1000) + rng.Next(-1, 2))],
    };

    private static string[] Expire(Random rng, long now)
    {
        string[] time = rng.Next(4) switch
        {
            0 => ["EXPIRE", N(rng.Next(-1, 2))],
            1 => ["PEXPIRE", Ttl(rng)],
            2 => ["EXPIREAT", N((now / 1000) + rng.Next(-1, 2))],
            _ => ["PEXPIREAT", N(now + rng.Next(-100, 300))],
        };
        var conditions = new[] { "NX", "XX", "GT", "LT" };
        return [time[0], Key(rng), time[1], .. rng.Next(2) == 0 ? new[] { conditions[rng.Next(4)] } : []];
    }
}
