using System.Buffers;
using System.Globalization;
using System.Text;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Random command logs from a seeded generator. A leader applies each batch as proposed; a follower applies it after
/// the MessagePack round trip it makes through the Raft log; a third replica starts from a snapshot taken at a random
/// entry. All must agree with each other — replies and digest — and, for SET/GET/DEL in database 0, with a small
/// model of Redis's semantics. Every other string and keyspace command runs in databases 1 to 3 (SWAPDB, COPY ... DB
/// and FLUSHDB among them), checked replica against replica: its semantics are checked against a real Redis by the
/// differential suite. A failure message names the seed: put it in <see cref="Seeds"/> alone to replay it.
/// </summary>
public sealed class DeterminismPropertyTests
{
    private const long Start = 1_700_000_000_000;
    private const int OperationsPerRun = 4_000;

    // Few keys, so NX/XX/GET/DEL collide often; one of them binary.
    private static readonly string[] KeyNames = ["a", "b", "c", "d", "lock", "\u00ff\u0000k"];

    // Bursts of short-lived writes to these build a sweep backlog, so expired keys stay stored for a while and the
    // read path, NX and DEL must judge expiry themselves.
    private const int FillerKeyCount = 2_000;

    private static string FillerKey(int i) => "f" + i.ToString(CultureInfo.InvariantCulture);

    public static TheoryData<int> Seeds => [1, 2, 3, 17, 42, 1337, 65_537, 20_240_601, 987_654_321];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Replicas_given_the_same_log_give_the_same_replies_and_digest(int seed)
    {
        var log = Generate(seed);
        var leader = new KeyValueStore();
        var follower = new KeyValueStore();
        var model = new Model();
        var entries = new List<(byte[] Payload, Reply[] Replies)>();
        var snapshotAfter = new Random(seed ^ 0x5eed).Next(0, log.Count(static s => s is Batch));
        byte[]? snapshot = null;
        string? digestAtSnapshot = null;
        var reached = new HashSet<string>();
        var reachedByOthers = new HashSet<string>();

        foreach (var step in log)
        {
            switch (step)
            {
                case Rejected rejected:
                    var parsed = Redis.Parse(rejected.Argv);
                    Check(seed, parsed.Outcome == ParseOutcome.Error && rejected.Expected.Equals(parsed.Error),
                        $"{Show(rejected.Argv)} parsed as {parsed.Outcome} {parsed.Error}, expected {rejected.Expected}");
                    break;

                case OtherRead other:
                    var otherCommand = Redis.Parse(other.Argv);
                    Check(seed, otherCommand.Outcome == ParseOutcome.Read, $"{Show(other.Argv)} parsed as {otherCommand.Outcome} {otherCommand.Error}");
                    var onLeader = leader.Read(otherCommand.Read!, other.Database, other.LocalClock);
                    AssertReply(seed, $"{Show(other.Argv)} in database {other.Database} at local clock {other.LocalClock} (follower vs leader)",
                        onLeader, follower.Read(otherCommand.Read!, other.Database, other.LocalClock));
                    reachedByOthers.Add("read " + Describe(onLeader));
                    break;

                case ReadStep read:
                    var command = Redis.Parse(read.Argv).Read!;
                    if (leader.Keyspace.TryGet(Encoding.UTF8.GetBytes(read.Key), long.MinValue, out var stored)
                        && stored.IsExpiredAt(Math.Max(read.LocalClock, leader.ClusterTime)))
                    {
                        // Still stored but expired: the read itself must say nil, by its own clock or by cluster time.
                        reached.Add(stored.IsExpiredAt(read.LocalClock) ? "expired by the local clock" : "expired by cluster time on a lagging clock");
                    }

                    var expected = model.Read(read.Key, Math.Max(read.LocalClock, model.ClusterTime));
                    AssertReply(seed, $"{Show(read.Argv)} at local clock {read.LocalClock} on the leader", expected, leader.Read(command, read.LocalClock));
                    AssertReply(seed, $"{Show(read.Argv)} at local clock {read.LocalClock} on the follower", expected, follower.Read(command, read.LocalClock));
                    break;

                case Batch batch:
                    var proposed = new CommandBatch
                    {
                        Timestamp = batch.Timestamp,
                        Commands = [.. batch.Writes.Select(w => Redis.Parse(w.Argv).Write ?? throw new InvalidOperationException($"seed {seed}: {Show(w.Argv)} is not a write"))],
                        Databases = batch.Writes.Any(static w => w is OtherWrite)
                            ? [.. batch.Writes.Select(static w => w is OtherWrite o ? o.Database : (byte)0)]
                            : null,
                    };
                    var payload = Serialize(proposed);

                    var leaderReplies = leader.Apply(proposed, entries.Count + 1);
                    var followerReplies = follower.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload)), entries.Count + 1);
                    var modelReplies = model.Apply(batch);

                    for (var i = 0; i < batch.Writes.Count; i++)
                    {
                        var where = $"entry {entries.Count} at {batch.Timestamp}, command {i} {Show(batch.Writes[i].Argv)}";
                        if (modelReplies[i] is { } modelled)
                            AssertReply(seed, where + " (leader vs model)", modelled, leaderReplies[i]);
                        AssertReply(seed, where + " (follower vs leader)", leaderReplies[i], followerReplies[i]);
                        (batch.Writes[i] is OtherWrite ? reachedByOthers : reached).Add(Describe(leaderReplies[i]));
                    }

                    Check(seed, leader.ComputeDigest() == follower.ComputeDigest(), $"digests differ after entry {entries.Count}");
                    Check(seed, leader.ClusterTime == model.ClusterTime, $"cluster time after entry {entries.Count}");
                    entries.Add((payload, leaderReplies));

                    if (entries.Count - 1 == snapshotAfter)
                    {
                        var buffer = new ArrayBufferWriter<byte>();
                        leader.WriteSnapshot(buffer);
                        snapshot = buffer.WrittenSpan.ToArray();
                        digestAtSnapshot = leader.ComputeDigest();
                    }

                    break;
            }
        }

        // The third replica: installs the snapshot, then applies the rest of the log from its bytes.
        Check(seed, snapshot is not null, "no snapshot was taken");
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot!));
        Check(seed, restored.ComputeDigest() == digestAtSnapshot, $"digest right after restoring the snapshot of entry {snapshotAfter}");
        for (var e = snapshotAfter + 1; e < entries.Count; e++)
        {
            var replies = restored.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(entries[e].Payload)), e + 1);
            for (var i = 0; i < replies.Length; i++)
                AssertReply(seed, $"entry {e}, command {i} on the replica restored at entry {snapshotAfter}", entries[e].Replies[i], replies[i]);
        }

        Check(seed, restored.ComputeDigest() == leader.ComputeDigest(), $"final digest of the replica restored at entry {snapshotAfter}");
        Check(seed, follower.ComputeDigest() == leader.ComputeDigest(), "final digest of the follower");

        // Final live state equals the model's, key by key.
        foreach (var key in KeyNames.Concat(Enumerable.Range(0, FillerKeyCount).Select(FillerKey)))
        {
            var get = Redis.Parse("GET", key).Read!;
            AssertReply(seed, $"final GET {key}", model.Read(key, leader.ClusterTime), leader.Read(get, 0));
        }

        // The generator must keep reaching every kind of outcome, or this test proves little.
        string[] outcomes =
        [
            "OK", "nil", "bulk", "0", "1", "2+", "ERR invalid expire time in 'set' command",
            "expired by the local clock", "expired by cluster time on a lagging clock",
        ];
        foreach (var outcome in outcomes)
            Check(seed, reached.Contains(outcome), $"the log never reached '{outcome}'; it reached: {string.Join(", ", reached)}");
        Check(seed, leader.ExpiredKeysReclaimed > 0, "the sweep never reclaimed a key");
        string[] otherOutcomes = ["OK", "nil", "bulk", "0", "1", "2+", "read bulk", "read nil", "read 0", "read array", "read string"];
        foreach (var outcome in otherOutcomes)
            Check(seed, reachedByOthers.Contains(outcome), $"the other commands never reached '{outcome}'; they reached: {string.Join(", ", reachedByOthers)}");
        Check(seed, reachedByOthers.Any(static o => o.StartsWith("ERR", StringComparison.Ordinal)), "the other commands never reached an error");
    }

    [Fact]
    public void The_generator_is_itself_deterministic()
    {
        Assert.Equal(Render(Generate(7)), Render(Generate(7)));
        Assert.NotEqual(Render(Generate(7)), Render(Generate(8)));

        static string Render(List<Step> log) => string.Join('\n', log.Select(static s => s switch
        {
            Batch b => $"@{b.Timestamp} " + string.Join(" | ", b.Writes.Select(static w => Show(w.Argv))),
            ReadStep r => $"read@{r.LocalClock} {Show(r.Argv)}",
            OtherRead r => $"read@{r.LocalClock} db{r.Database} {Show(r.Argv)}",
            Rejected x => $"rejected {Show(x.Argv)}",
            _ => "?",
        }));
    }

    private static void Check(int seed, bool condition, string message) => Assert.True(condition, $"seed {seed}: {message}");

    private static void AssertReply(int seed, string where, Reply expected, Reply actual)
        => Assert.True(expected.Equals(actual), $"seed {seed}: {where}: expected {expected}, got {actual}");

    private static string Describe(Reply reply) => reply.Kind switch
    {
        ReplyKind.Status when reply.Text is "string" or "none" => "string",
        ReplyKind.Status => reply.Text!,
        ReplyKind.Array => "array",
        ReplyKind.Error => reply.Text!,
        ReplyKind.NullBulk => "nil",
        ReplyKind.Bulk => "bulk",
        ReplyKind.Integer => reply.Integer >= 2 ? "2+" : reply.Integer.ToString(CultureInfo.InvariantCulture),
        _ => reply.Kind.ToString(),
    };

    private static string Show(string[] argv) => string.Join(' ', argv.Select(static a => a.Any(char.IsControl) ? Uri.EscapeDataString(a) : a));

    private static byte[] Serialize(CommandBatch batch)
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch);
        return buffer.WrittenSpan.ToArray();
    }

    // ---- The generated log ----

    private abstract record Step;

    /// <summary>One log entry: writes stamped with one cluster time.</summary>
    private sealed record Batch(long Timestamp, List<WriteStep> Writes) : Step;

    /// <summary>A GET served between entries by a node whose clock shows <see cref="LocalClock"/>.</summary>
    private sealed record ReadStep(string[] Argv, string Key, long LocalClock) : Step;

    /// <summary>A request the parser must refuse; it never reaches the log.</summary>
    private sealed record Rejected(string[] Argv, Reply Expected) : Step;

    private abstract record WriteStep(string[] Argv);

    private sealed record DelStep(string[] Argv, string[] Keys) : WriteStep(Argv);

    /// <summary>Any other string or keyspace write, in database 1 to 3, outside the model.</summary>
    private sealed record OtherWrite(string[] Argv, byte Database) : WriteStep(Argv);

    /// <summary>Any other read, in database 1 to 3, served between entries by a node whose clock shows <see cref="LocalClock"/>.</summary>
    private sealed record OtherRead(string[] Argv, byte Database, long LocalClock) : Step;

    private enum Condition { None, Nx, Xx }

    private enum ExpiryKind { None, Ex, Px, ExAt, PxAt, KeepTtl }

    private sealed record SetStep(string[] Argv, string Key, string Value, Condition Condition, bool Get, ExpiryKind Expiry, long ExpiryArgument)
        : WriteStep(Argv);

    private static List<Step> Generate(int seed)
    {
        var rng = new Random(seed);
        var log = new List<Step>();
        var now = Start;
        var valueCounter = 0;
        var operations = 0;

        while (operations < OperationsPerRun)
        {
            // Cluster time moves on by 0..59 ms per entry (equal stamps happen), so TTLs of a few hundred ms expire
            // within a few dozen entries.
            now += rng.Next(0, 60);
            var writes = new List<WriteStep>();
            if (rng.Next(40) == 0)
            {
                for (var burst = rng.Next(500, 1500); burst > 0; burst--)
                {
                    var filler = FillerKey(rng.Next(FillerKeyCount));
                    var px = Number(rng.Next(1, 4));
                    writes.Add(new SetStep(["SET", filler, "x", "PX", px], filler, "x", Condition.None, false, ExpiryKind.Px, long.Parse(px, CultureInfo.InvariantCulture)));
                }
            }

            var size = writes.Count + rng.Next(1, 9);
            while (writes.Count < size && operations < OperationsPerRun)
            {
                operations++;
                var roll = rng.Next(100);
                if (roll < 15)
                {
                    var key = rng.Next(4) == 0 ? FillerKey(rng.Next(FillerKeyCount)) : RandomKey(rng);
                    var localClock = rng.Next(3) == 0 ? 0 : now + rng.Next(-40, 40); // 0: a node whose clock lags far behind
                    log.Add(new ReadStep(["GET", key], key, localClock));
                }
                else if (roll < 19)
                {
                    log.Add(RandomRejected(rng));
                }
                else if (roll < 32)
                {
                    var keys = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => RandomKey(rng)).ToArray();
                    writes.Add(new DelStep(["DEL", .. keys], keys));
                }
                else if (roll < 44)
                {
                    writes.Add(new OtherWrite(OtherCommands.Write(rng, now), (byte)rng.Next(1, 4)));
                }
                else if (roll < 50)
                {
                    var localClock = rng.Next(3) == 0 ? 0 : now + rng.Next(-40, 40);
                    log.Add(new OtherRead(OtherCommands.Read(rng), (byte)rng.Next(1, 4), localClock));
                }
                else
                {
                    writes.Add(RandomSet(rng, now, "v" + (valueCounter++).ToString(CultureInfo.InvariantCulture)));
                }
            }

            if (writes.Count > 0)
                log.Add(new Batch(now, writes));
        }

        return log;
    }

    private static string RandomKey(Random rng) => KeyNames[rng.Next(KeyNames.Length)];

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static SetStep RandomSet(Random rng, long now, string value)
    {
        var key = RandomKey(rng);
        var options = new List<string[]>();

        var condition = rng.Next(4) switch { 0 => Condition.Nx, 1 => Condition.Xx, _ => Condition.None };
        if (condition != Condition.None)
        {
            var word = condition == Condition.Nx ? "NX" : "XX";
            options.Add([RandomCase(rng, word)]);
            if (rng.Next(10) == 0)
                options.Add([word]); // repeating the same condition is allowed
        }

        var get = rng.Next(3) == 0;
        if (get)
            options.Add([RandomCase(rng, "GET")]);

        var (expiry, argument) = rng.Next(20) switch
        {
            < 6 => (ExpiryKind.None, 0L),
            < 10 => (ExpiryKind.Px, rng.Next(1, 300)),
            < 11 => (ExpiryKind.Ex, rng.Next(1, 3)),
            < 14 => (ExpiryKind.PxAt, now + rng.Next(-50, 300)),
            < 15 => (ExpiryKind.ExAt, (now / 1000) + rng.Next(-1, 3)),
            < 18 => (ExpiryKind.KeepTtl, 0L),
            // A TTL that overflows when added to cluster time: an error at apply, on every replica alike.
            _ => (ExpiryKind.Px, long.MaxValue - rng.Next(0, 1000)),
        };
        switch (expiry)
        {
            case ExpiryKind.KeepTtl:
                options.Add([RandomCase(rng, "KEEPTTL")]);
                break;
            case not ExpiryKind.None:
                var word = expiry switch { ExpiryKind.Ex => "EX", ExpiryKind.Px => "PX", ExpiryKind.ExAt => "EXAT", _ => "PXAT" };
                if (rng.Next(15) == 0)
                    options.Add([word, Number(rng.Next(1, 1000))]); // an earlier value of the same option, overridden below
                options.Add([RandomCase(rng, word), Number(argument)]);
                break;
        }

        // Options in any order, but a repeated option must keep its relative order (the last one wins).
        var shuffled = options.OrderBy(_ => rng.Next()).ToList();
        var expiryOptions = options.Where(static o => o.Length == 2).ToList();
        var slots = shuffled.Select((o, i) => (o, i)).Where(static x => x.o.Length == 2).Select(static x => x.i).ToList();
        for (var i = 0; i < slots.Count; i++)
            shuffled[slots[i]] = expiryOptions[i];

        string[] argv = ["SET", key, value, .. shuffled.SelectMany(static o => o)];
        return new SetStep(argv, key, value, condition, get, expiry, argument);
    }

    private static string RandomCase(Random rng, string word)
        => rng.Next(4) == 0 ? string.Concat(word.Select(c => rng.Next(2) == 0 ? char.ToLowerInvariant(c) : c)) : word;

    private static Rejected RandomRejected(Random rng)
    {
        var key = RandomKey(rng);
        return rng.Next(20) switch
        {
            10 => new(["GETEX", key, "EX"], SyntaxError),
            11 => new(["INCRBYFLOAT", key, "1.5x"], Err("ERR value is not a valid float")),
            12 => new(["EXPIRE", key, "10", "NX", "XX"], Err("ERR NX and XX, GT or LT options at the same time are not compatible")),
            13 => new(["SETRANGE", key, "-1", "x"], Err("ERR offset is out of range")),
            14 => new(["SCAN", "1x"], Err("ERR invalid cursor")),
            15 => new(["SWAPDB", "0", "16"], Err("ERR DB index is out of range")),
            16 => new(["MSET", key], WrongArity("mset")),
            17 => new(["COPY", key, "x", "DB", "99"], Err("ERR DB index is out of range")),
            18 => new(["DECRBY", key, "-9223372036854775808"], Err("ERR decrement would overflow")),
            19 => new(["SETEX", key, "0", "v"], Err("ERR invalid expire time in 'setex' command")),
            0 => new(["SET", key, "v", "NX", "XX"], SyntaxError),
            1 => new(["SET", key, "v", "PX", "5", "KEEPTTL"], SyntaxError),
            2 => new(["SET", key, "v", "EX", "1", "PXAT", "5"], SyntaxError),
            3 => new(["SET", key, "v", "BOGUS"], SyntaxError),
            4 => new(["SET", key, "v", "EX", Number(-rng.Next(0, 10))], InvalidExpireTime),
            5 => new(["SET", key, "v", "PX", "1.5"], NotAnInteger),
            6 => new(["SET", key, "v", "EX", "+1"], NotAnInteger),
            7 => new(["SET", key], WrongArity("set")),
            8 => new(["GET", key, key], WrongArity("get")),
            _ => new(["DEL"], WrongArity("del")),
        };
    }

    // ---- The model: Redis 7 string semantics written plainly, with no sweep and no sorted structures ----

    private sealed class Model
    {
        private readonly Dictionary<string, (string Value, long ExpireAt)> data = new(StringComparer.Ordinal);

        public long ClusterTime { get; private set; }

        public Reply Read(string key, long now) => Live(key, now) is { } entry ? Bulk(entry.Value) : Nil;

        /// <summary>The expected replies; null for the writes outside the model (other databases).</summary>
        public Reply?[] Apply(Batch batch)
        {
            var now = ClusterTime = Math.Max(ClusterTime, batch.Timestamp);
            return [.. batch.Writes.Select(w => w switch
            {
                DelStep del => Del(del, now),
                SetStep set => Set(set, now),
                OtherWrite => null,
                _ => throw new InvalidOperationException(),
            })];
        }

        private (string Value, long ExpireAt)? Live(string key, long now)
            => data.TryGetValue(key, out var entry) && entry.ExpireAt > now ? entry : null;

        private Reply Del(DelStep del, long now)
        {
            var removed = 0;
            foreach (var key in del.Keys)
            {
                if (Live(key, now) is not null)
                    removed++;
                data.Remove(key);
            }

            return Int(removed);
        }

        private Reply Set(SetStep set, long now)
        {
            var old = Live(set.Key, now);
            long expireAt;
            switch (set.Expiry)
            {
                case ExpiryKind.Ex or ExpiryKind.Px:
                    var milliseconds = set.Expiry == ExpiryKind.Ex ? set.ExpiryArgument * 1000 : set.ExpiryArgument;
                    if (milliseconds > long.MaxValue - now)
                        return InvalidExpireTime;
                    expireAt = now + milliseconds;
                    break;
                case ExpiryKind.ExAt:
                    expireAt = set.ExpiryArgument * 1000;
                    break;
                case ExpiryKind.PxAt:
                    expireAt = set.ExpiryArgument;
                    break;
                case ExpiryKind.KeepTtl:
                    expireAt = old?.ExpireAt ?? long.MaxValue;
                    break;
                default:
                    expireAt = long.MaxValue;
                    break;
            }

            var reply = set.Get ? (old is { } o ? Bulk(o.Value) : Nil) : Ok;
            var proceed = set.Condition switch
            {
                Condition.Nx => old is null,
                Condition.Xx => old is not null,
                _ => true,
            };
            if (!proceed)
                return set.Get ? reply : Nil;

            if (expireAt > now)
                data[set.Key] = (set.Value, expireAt);
            else
                data.Remove(set.Key);
            return reply;
        }
    }
}
