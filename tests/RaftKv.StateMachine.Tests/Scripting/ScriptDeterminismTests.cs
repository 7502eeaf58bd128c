using System.Buffers;
using System.Globalization;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Scripting;

namespace RaftKv.StateMachine.Tests.Scripting;

/// <summary>
/// Random logs that mix scripts (which iterate tables keyed by strings and by tables, print addresses, draw random
/// numbers, read TIME, collect garbage, fail after writing, and run out of budget or memory) with plain commands. A
/// leader applies each batch as proposed, a follower after the MessagePack round trip, a third replica from a snapshot
/// taken at a random entry; all must give the same replies and state digest. A failure names its seed.
/// </summary>
public sealed class ScriptDeterminismTests
{
    private const long Start = 1_700_000_000_000;
    private static readonly ScriptLimits Limits = new() { InstructionBudget = 3_000_000, MemoryLimitBytes = 4 << 20 };

    private static readonly string[] Keys = ["a", "b", "c", "lock"];

    private static readonly string[] Scripts =
    [
        "return redis.call('incrby', KEYS[1], ARGV[1])",
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        "local t = {} for i = 1, 50 do t['k' .. i .. ARGV[1]] = i end local s = {} for k in pairs(t) do s[#s + 1] = k end redis.call('set', KEYS[1], table.concat(s, ',')) return #s",
        "local t = {} for i = 1, 30 do t[{}] = i end t[KEYS] = 0 t[redis] = -1 local s = {} for k, v in pairs(t) do s[#s + 1] = v end return s",
        "local a, b = {}, {} return {tostring(a), tostring(b), string.format('%s', print or a)}",
        "return {math.random(), math.random(100), math.random(5, 10)}",
        "math.randomseed(tonumber(ARGV[1])) return {math.random(1000), math.random(1000)}",
        "redis.call('set', KEYS[1], redis.call('time')[1]) return redis.call('time')",
        "redis.call('set', KEYS[1], ARGV[1]) error('failed after a write')",
        "redis.call('append', KEYS[1], 'x') local n = 0 while true do n = n + 1 end",
        "redis.call('append', KEYS[1], 'y') local t = {} while true do t[#t + 1] = string.rep('m', 65536) .. #t end",
        "redis.call('append', KEYS[1], 'z') local ok, e = pcall(function() local n = 0 while true do n = n + 1 end end) redis.call('set', KEYS[1], 'escaped')",
        "local w = setmetatable({}, {__mode = 'k'}) for i = 1, 200 do w[{}] = i end local d = 0 local g = setmetatable({}, {__gc = function() d = d + 1 end}) g = nil for i = 1, 2000 do local x = {i} end collectgarbage() local n = 0 for _ in pairs(w) do n = n + 1 end return {n, d, math.floor(collectgarbage('count'))}",
        "local t = {} for i = 1, 300 do t[i] = {v = (i * 37) % 11, i = i} end table.sort(t, function(x, y) return x.v < y.v end) local s = {} for i = 1, 300, 30 do s[#s + 1] = t[i].i end return s",
        "return redis.pcall('incr', KEYS[1])",
        "local f = load('return ' .. ARGV[1]) return f and f() or 'no'",
        "redis.call('select', 3) redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
        "return {string.gsub(ARGV[1] .. 'abcabc', '%w', function(c) return c:upper() end)}",
        "return {redis.call('get', KEYS[1]), #KEYS, #ARGV}",
    ];

    public static TheoryData<int> Seeds => [1, 7, 42, 2026, 99_991];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Replicas_running_scripts_give_the_same_replies_and_digest(int seed)
    {
        var random = new Random(seed);
        var leader = new KeyValueStore(Limits);
        var follower = new KeyValueStore(Limits);
        var log = new List<(byte[] Payload, Reply[] Replies)>();
        const int Entries = 120;
        var snapshotAt = random.Next(10, Entries - 10);
        byte[]? snapshot = null;
        var reached = new HashSet<string>();
        var now = Start;

        for (var entry = 0; entry < Entries; entry++)
        {
            now += random.Next(0, 40);
            var commands = Enumerable.Range(0, random.Next(1, 5)).Select(_ => NextWrite(random)).ToArray();
            var batch = new CommandBatch { Timestamp = now, Commands = commands };
            var buffer = new ArrayBufferWriter<byte>();
            KeyValueStore.WriteBatch(buffer, batch);
            var payload = buffer.WrittenSpan.ToArray();

            var leaderReplies = leader.Apply(batch);
            var followerReplies = follower.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload)));
            for (var i = 0; i < leaderReplies.Length; i++)
            {
                Assert.True(leaderReplies[i].Equals(followerReplies[i]), $"seed {seed}, entry {entry}, command {i}: {leaderReplies[i]} vs {followerReplies[i]}");
                reached.Add(Outcome(leaderReplies[i]));
            }

            Assert.True(leader.ComputeDigest() == follower.ComputeDigest(), $"seed {seed}: digests differ after entry {entry}");
            log.Add((payload, leaderReplies));

            // Read-only scripts on both replicas agree too.
            var read = Redis.Parse("EVAL_RO", Scripts[random.Next(Scripts.Length)], "1", Keys[random.Next(Keys.Length)], "5").Read!;
            Assert.Equal(leader.Read(read, now), follower.Read(read, now));

            if (entry == snapshotAt)
            {
                var image = new ArrayBufferWriter<byte>();
                leader.WriteSnapshot(image);
                snapshot = image.WrittenSpan.ToArray();
            }
        }

        var restored = new KeyValueStore(Limits);
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot!));
        for (var entry = snapshotAt + 1; entry < log.Count; entry++)
        {
            var replies = restored.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(log[entry].Payload)));
            for (var i = 0; i < replies.Length; i++)
                Assert.True(log[entry].Replies[i].Equals(replies[i]), $"seed {seed}, entry {entry}, command {i} on the restored replica: {log[entry].Replies[i]} vs {replies[i]}");
        }

        Assert.Equal(leader.ComputeDigest(), restored.ComputeDigest());
        foreach (var outcome in new[] { "budget", "memory", "script error", "array", "integer" })
            Assert.True(reached.Contains(outcome), $"seed {seed}: the log never reached '{outcome}': {string.Join(", ", reached)}");
    }

    private static WriteCommand NextWrite(Random random)
    {
        var key = Keys[random.Next(Keys.Length)];
        var value = random.Next(20).ToString(CultureInfo.InvariantCulture);
        string[] argv = random.Next(8) switch
        {
            0 => ["SET", key, value],
            1 => ["DEL", key],
            2 => ["SET", key, value, "NX", "PX", "100"],
            3 => ["SCRIPT", "LOAD", Scripts[random.Next(Scripts.Length)]],
            4 => ["EVALSHA", ScriptCache.Sha1Hex(System.Text.Encoding.UTF8.GetBytes(Scripts[random.Next(Scripts.Length)])), "1", key, value],
            _ => ["EVAL", Scripts[random.Next(Scripts.Length)], "1", key, value],
        };
        return Redis.Parse(argv).Write!;
    }

    private static string Outcome(Reply reply) => reply.Kind switch
    {
        ReplyKind.Error when reply.Text!.Contains("instruction budget", StringComparison.Ordinal) => "budget",
        ReplyKind.Error when reply.Text!.Contains("memory limit", StringComparison.Ordinal) => "memory",
        ReplyKind.Error when reply.Text!.Contains("script:", StringComparison.Ordinal) => "script error",
        _ => reply.Kind.ToString().ToLowerInvariant(),
    };
}
