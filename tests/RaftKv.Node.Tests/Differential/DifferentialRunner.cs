using System.Globalization;
using System.Text;
using RaftKv.Node.Tests.Cluster;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Differential;

/// <summary>A real redis-server and a single-node RaftKv cluster, started once for a test class.</summary>
public sealed class DifferentialFixture : IAsyncLifetime
{
    private RedisServer? redis;
    private TestCluster? cluster;

    internal int RedisPort => redis!.Port;

    internal int RaftKvPort { get; private set; }

    public async Task InitializeAsync()
    {
        redis = await RedisServer.StartAsync();
        cluster = await TestCluster.StartAsync(size: 1);
        var leader = await cluster.WaitForLeaderAsync();
        RaftKvPort = cluster.RespPort(leader);
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null)
            await cluster.DisposeAsync();
        if (redis is not null)
            await redis.DisposeAsync();
    }
}

/// <summary>
/// Runs commands on Redis and on RaftKv and compares the replies: exactly, except where Redis itself promises no
/// exact value (see <see cref="CompareAsync"/>). Collects every mismatch with what it takes to replay it.
/// </summary>
internal sealed class DifferentialRunner(RespTestClient redis, RespTestClient raftKv) : IAsyncDisposable
{
    // Two runs of one command on two servers happen a few milliseconds apart, more on a busy machine.
    private const long SecondsTolerance = 2;
    private const long MillisecondsTolerance = 2000;

    // CLIENT INFO fields whose values depend on the process (sockets, buffers, memory) rather than on semantics.
    private static readonly HashSet<string> ProcessFields =
        ["id", "addr", "laddr", "fd", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem"];

    public List<string> Mismatches { get; } = [];

    public RespTestClient Redis => redis;

    public RespTestClient RaftKv => raftKv;

    public long RedisClientId { get; private set; }

    public long RaftKvClientId { get; private set; }

    public static async Task<DifferentialRunner> ConnectAsync(DifferentialFixture fixture)
    {
        var runner = new DifferentialRunner(await RespTestClient.ConnectAsync(fixture.RedisPort), await RespTestClient.ConnectAsync(fixture.RaftKvPort));
        runner.RedisClientId = (await runner.Redis.CallRespAsync("CLIENT", "ID")).Integer;
        runner.RaftKvClientId = (await runner.RaftKv.CallRespAsync("CLIENT", "ID")).Integer;
        return runner;
    }

    /// <summary>Empties both servers (every database).</summary>
    public async Task FlushAllAsync()
    {
        await redis.CallRespAsync("FLUSHALL");
        await raftKv.CallRespAsync("FLUSHALL");
    }

    /// <summary>Runs one command on both servers and records a mismatch described by <paramref name="where"/>.</summary>
    public async Task RunAsync(byte[][] onRedis, byte[][] onRaftKv, string where)
    {
        var expected = await redis.CallRespAsync(onRedis);
        var actual = await raftKv.CallRespAsync(onRaftKv);
        if (await CompareAsync(onRedis, onRaftKv, expected, actual, followUps: true) is { } difference)
            Mismatches.Add($"{where}: {Show(onRedis)}\n    redis:  {expected}\n    raftkv: {actual}\n    {difference}");
    }

    /// <summary>Pipelines commands to both servers at once and compares the replies in order.</summary>
    public async Task RunPipelinedAsync(IReadOnlyList<byte[][]> commands, Func<int, string> where)
    {
        var sendRedis = redis.SendAsync(commands);
        var sendRaftKv = raftKv.SendAsync(commands);
        await Task.WhenAll(sendRedis, sendRaftKv);
        for (var i = 0; i < commands.Count; i++)
        {
            var expected = await redis.ReadRespAsync();
            var actual = await raftKv.ReadRespAsync();
            if (await CompareAsync(commands[i], commands[i], expected, actual, followUps: false) is { } difference)
                Mismatches.Add($"{where(i)}: {Show(commands[i])}\n    redis:  {expected}\n    raftkv: {actual}\n    {difference}");
        }
    }

    public static string Show(byte[][] argv) => string.Join(' ', argv.Select(static a =>
    {
        var text = new StringBuilder();
        foreach (var b in a)
            text.Append(b is > 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        return text.Length == a.Length && a.Length > 0 ? text.ToString() : "\"" + text + "\"";
    }));

    /// <summary>
    /// Null when the replies agree, else why not. Exact, except: KEYS in any order; DBSIZE may be lower on RaftKv by
    /// keys that are expired but not yet deleted in Redis; a SCAN from cursor 0 is
    /// iterated to the end on both and the sets of keys compared (cursors are opaque and differ by design); RANDOMKEY
    /// must agree on nil and name a live key; TTLs and TIME within a tolerance; HELLO's and CLIENT's connection ids,
    /// addresses and buffer sizes are the process's own.
    /// </summary>
    private async Task<string?> CompareAsync(byte[][] onRedis, byte[][] onRaftKv, RespReply expected, RespReply actual, bool followUps)
    {
        if (expected.IsError || actual.IsError || expected.Type != actual.Type)
            return expected.Equals(actual) ? null : "differ";

        var name = Encoding.ASCII.GetString(onRedis[0]).ToUpperInvariant();
        var sub = onRedis.Length > 1 ? Encoding.ASCII.GetString(onRedis[1]).ToUpperInvariant() : "";
        switch (name)
        {
            case "KEYS":
                return Sorted(expected).SequenceEqual(Sorted(actual)) ? null : "different keys";
            case "SCAN":
                return await CompareScanAsync(onRedis, onRaftKv, expected, actual, followUps);
            case "RANDOMKEY":
                if (expected.IsNull || actual.IsNull)
                    return expected.IsNull == actual.IsNull ? null : "one has keys, the other none";
                if (followUps && (await raftKv.CallRespAsync(["EXISTS"u8.ToArray(), actual.Bytes!])).Integer != 1)
                    return "RANDOMKEY named a key that does not exist";
                return null;
            case "DBSIZE":
                // Redis counts a key whose time is up until its lazy or active expiry deletes it (SET ... PXAT 1 leaves
                // one behind for up to 100 ms); RaftKv counts live keys only. So RaftKv may answer less, never more.
                return actual.Integer == expected.Integer || (actual.Integer < expected.Integer && await LiveKeysAsync(redis, followUps) is var live && (live is null || live == actual.Integer))
                    ? null
                    : "differ";
            case "TTL" or "EXPIRETIME":
                return Near(expected, actual, SecondsTolerance);
            case "PTTL" or "PEXPIRETIME":
                return Near(expected, actual, MillisecondsTolerance);
            case "TIME":
                return expected.Items!.Count == 2 && actual.Items!.Count == 2
                       && Math.Abs(long.Parse(expected.Items[0].Text, CultureInfo.InvariantCulture) - long.Parse(actual.Items[0].Text, CultureInfo.InvariantCulture)) <= 5
                       && long.Parse(actual.Items[1].Text, CultureInfo.InvariantCulture) is >= 0 and < 1_000_000
                    ? null
                    : "times too far apart";
            case "HELLO":
                return CompareHello(expected, actual);
            case "CLIENT" when sub == "ID":
                return null;
            case "CONFIG" when sub == "GET":
                return CompareConfig(expected, actual);
            case "SLOWLOG" when sub == "GET":
                return CompareSlowLog(expected, actual);
            case "CLIENT" when sub is "INFO" or "LIST":
                return CompareClientLines(expected.Text, actual.Text, sub == "LIST" && onRedis.Length > 2);
            default:
                return expected.Equals(actual) ? null : "differ";
        }
    }

    // Parameters whose value is each server's own (where it listens and keeps data) or RaftKv's truth by design
    // (appendonly yes: the Raft log; no latency tracking): compared by presence.
    private static readonly HashSet<string> OwnConfigValues = ["port", "bind", "dir", "dbfilename", "appendonly", "appendfsync", "latency-tracking"];

    // CONFIG GET's pairs in any order (Redis's come from a hash table), values compared unless they are the server's own.
    private static string? CompareConfig(RespReply expected, RespReply actual)
    {
        static Dictionary<string, string> Pairs(RespReply reply)
            => reply.Items!.Chunk(2).ToDictionary(static p => p[0].Text, static p => p[1].Text, StringComparer.Ordinal);
        var (e, a) = (Pairs(expected), Pairs(actual));
        if (!e.Keys.Order(StringComparer.Ordinal).SequenceEqual(a.Keys.Order(StringComparer.Ordinal)))
            return "different parameters: " + string.Join(' ', e.Keys.Order(StringComparer.Ordinal)) + " / " + string.Join(' ', a.Keys.Order(StringComparer.Ordinal));
        return e.FirstOrDefault(p => !OwnConfigValues.Contains(p.Key) && a[p.Key] != p.Value) is { Key: { } differing }
            ? $"{differing}={e[differing]} on redis, {differing}={a[differing]} on raftkv"
            : null;
    }

    // SLOWLOG GET: the same entries — arguments (as cut) and client name equal; id, time, duration and address are
    // each server's own, so only their types are compared and the ids must fall newest first.
    private static string? CompareSlowLog(RespReply expected, RespReply actual)
    {
        if (expected.Items!.Count != actual.Items!.Count)
            return $"{expected.Items.Count} entries on redis, {actual.Items.Count} on raftkv";
        for (var i = 0; i < expected.Items.Count; i++)
        {
            if (expected.Items[i].Items is not [var _, var _, var _, var redisArgs, var _, var redisName]
                || actual.Items[i].Items is not [{ Type: RespReplyType.Integer } id, { Type: RespReplyType.Integer }, { Type: RespReplyType.Integer } micros, var args, { Type: RespReplyType.BulkString }, var name])
                return $"entry {i} is not [id, time, microseconds, arguments, address, name]";
            if (micros.Integer < 0 || (i > 0 && actual.Items[i - 1].Items![0].Integer <= id.Integer))
                return $"entry {i}: negative duration or ids not newest first";
            if (!redisArgs.Equals(args) || !redisName.Equals(name))
                return $"entry {i}: arguments or client name differ";
        }

        return null;
    }

    // Redis's live key count (KEYS skips expired keys), when a follow-up query is allowed.
    private static async Task<long?> LiveKeysAsync(RespTestClient client, bool followUps)
        => followUps ? (await client.CallRespAsync("KEYS", "*")).Items!.Count : null;

    private static string[] Sorted(RespReply array) => [.. array.Items!.Select(static i => i.Text).Order(StringComparer.Ordinal)];

    private static string? Near(RespReply expected, RespReply actual, long tolerance)
    {
        if (expected.Type != RespReplyType.Integer)
            return expected.Equals(actual) ? null : "differ";
        var (e, a) = (expected.Integer, actual.Integer);
        return e == a || (e >= 0 && a >= 0 && Math.Abs(e - a) <= tolerance) ? null : $"beyond the tolerance of {tolerance}";
    }

    private async Task<string?> CompareScanAsync(byte[][] onRedis, byte[][] onRaftKv, RespReply expected, RespReply actual, bool followUps)
    {
        if (actual.Items is not [{ Type: RespReplyType.BulkString }, { Type: RespReplyType.Array }]
            || expected.Items is not [{ Type: RespReplyType.BulkString }, { Type: RespReplyType.Array }])
            return "not [cursor, keys]";
        if (!followUps || Encoding.ASCII.GetString(onRedis[1]) != "0")
            return null;

        var redisKeys = await IterateAsync(redis, onRedis, expected);
        var raftKvKeys = await IterateAsync(raftKv, onRaftKv, actual);
        return redisKeys.SequenceEqual(raftKvKeys)
            ? null
            : $"a full iteration found [{string.Join(", ", redisKeys)}] on redis, [{string.Join(", ", raftKvKeys)}] on raftkv";

        static async Task<string[]> IterateAsync(RespTestClient client, byte[][] argv, RespReply first)
        {
            var keys = new SortedSet<string>(StringComparer.Ordinal);
            var reply = first;
            for (var steps = 0; steps < 100_000; steps++)
            {
                foreach (var key in reply.Items![1].Items!)
                    keys.Add(key.Text);
                if (reply.Items[0].Text == "0")
                    break;
                var next = (byte[][])argv.Clone();
                next[1] = reply.Items[0].Bytes!;
                reply = await client.CallRespAsync(next);
            }

            return [.. keys];
        }
    }

    private static string? CompareHello(RespReply expected, RespReply actual)
    {
        if (expected.Items!.Count != actual.Items!.Count)
            return "different fields";
        for (var i = 0; i < expected.Items.Count; i++)
        {
            var isIdValue = i % 2 == 1 && expected.Items[i - 1].Text == "id";
            if (isIdValue ? expected.Items[i].Type != actual.Items[i].Type : !expected.Items[i].Equals(actual.Items[i]))
                return $"field {i / 2} differs";
        }

        return null;
    }

    // Compares the lines of this connection (CLIENT INFO, CLIENT LIST): the same fields in the same order, the same
    // values except the process's own (ids, addresses, buffers), ages within a tolerance.
    private string? CompareClientLines(string expected, string actual, bool filtered)
    {
        var ours = Lines(expected, RedisClientId);
        var theirs = Lines(actual, RaftKvClientId);
        if (filtered && expected.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length != actual.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length)
            return "a different number of clients";
        // No line of this connection on either side is a match only when both replies are empty (a filter that
        // selects nothing); otherwise the parsing missed it and would compare nothing.
        if (ours.Count != theirs.Count || (ours.Count == 0 && (expected.Length > 0 || actual.Length > 0)))
            return "this connection's line is missing on one side (or both)";
        foreach (var (e, a) in ours.Zip(theirs))
        {
            if (!e.Keys.SequenceEqual(a.Keys))
                return "different fields: " + string.Join(' ', e.Keys) + " / " + string.Join(' ', a.Keys);
            foreach (var key in e.Keys)
            {
                if (ProcessFields.Contains(key))
                    continue;
                var tolerant = key is "age" or "idle";
                if (tolerant ? Math.Abs(long.Parse(e[key], CultureInfo.InvariantCulture) - long.Parse(a[key], CultureInfo.InvariantCulture)) > 5 : e[key] != a[key])
                    return $"{key}={e[key]} on redis, {key}={a[key]} on raftkv";
            }
        }

        return null;

        // Under RESP3 the text is a verbatim string: its "txt:" format prefix is not part of the first line.
        static List<Dictionary<string, string>> Lines(string text, long id) =>
        [
            .. (text.StartsWith("txt:", StringComparison.Ordinal) ? text[4..] : text).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(static line => line.Split(' ').Select(static f => f.Split('=', 2)).ToDictionary(static f => f[0], static f => f.Length > 1 ? f[1] : ""))
                .Where(fields => fields.GetValueOrDefault("id") == id.ToString(CultureInfo.InvariantCulture)),
        ];
    }

    public async ValueTask DisposeAsync()
    {
        await redis.DisposeAsync();
        await raftKv.DisposeAsync();
    }
}
