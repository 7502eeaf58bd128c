using System.Buffers;
using System.Globalization;
using System.Text;
using RaftKv.StateMachine.Commands;
using RaftKv.Testing;
using Xunit.Abstractions;
using static RaftKv.StateMachine.Tests.SnapshotBytes;

namespace RaftKv.StateMachine.Tests.Fuzz;

/// <summary>
/// A seeded command fuzzer: random requests for every command of <see cref="CommandParser"/>'s tables
/// (<see cref="CommandFuzzer"/>), Lua scripts from a corpus among EVAL's arguments, and MULTI/EXEC transactions of
/// such requests with WATCHed keys, driven the way the node drives the state machine: parsed; an error is the reply; a
/// read runs on every replica between entries at one local clock; a write joins the next log entry, which the leader
/// applies as proposed, a follower applies after the MessagePack round trip the log makes, and a third replica applies
/// after restoring a snapshot the leader took mid-run. Each replica hashes its keys under a seed of its own.
/// </summary>
/// <remarks>
/// Invariants: parsing never throws and parses the same twice, every write it produces validates; applying and reading
/// never throw and never reach the internal-error path (an exception inside apply); every replica answers every command
/// alike and ends every entry with the same digest; the leader and the follower (same history, other seeds) write the
/// same snapshot bytes. CI runs a fixed list of seeds, capped in time; <c>RAFTKV_FUZZ_SECONDS=600</c> runs random seeds
/// for that long; a failure prints its seed, and <c>RAFTKV_FUZZ_SEED=n</c> replays it.
/// </remarks>
public sealed class CommandFuzzTests(ITestOutputHelper output)
{
    private const int EntriesPerRun = 150;
    private const long Start = 1_700_000_000_000;

    [Fact]
    public void Random_commands_parse_apply_and_read_alike_on_every_replica()
    {
        var budget = FuzzBudget.FromEnvironment(ciFirstSeed: 1, ciRuns: 200, ciCap: TimeSpan.FromSeconds(45));
        var stats = new Stats();
        var runs = 0;
        foreach (var seed in budget.Seeds())
        {
            try
            {
                Run(seed, stats);
            }
            catch (Exception e) when (e is not FuzzFailure)
            {
                throw new FuzzFailure($"seed {seed}: the fuzzer itself threw {e} ({FuzzBudget.Replay(seed, nameof(CommandFuzzTests))})");
            }

            runs++;
        }

        FuzzBudget.Report("commands", $"{budget.Describe(runs)}: {stats.Cases:N0} requests ({stats.Writes:N0} writes in {stats.Entries:N0} entries, {stats.Reads:N0} reads) on 3 replicas, {budget.Elapsed.TotalSeconds:F0} s");
        output.WriteLine($"{budget.Describe(runs)}: {stats.Cases:N0} requests ({stats.Writes:N0} writes in {stats.Entries:N0} entries, "
                         + $"{stats.Reads:N0} reads, {stats.ParseErrors:N0} refused by the parser, {stats.Transactions:N0} transactions) "
                         + $"in {budget.Elapsed.TotalSeconds:F1} s");
        output.WriteLine("replies: " + string.Join(", ", stats.Outcomes.OrderByDescending(static o => o.Value).Take(40).Select(static o => $"{o.Key} ×{o.Value}")));

        // The runs must reach every command past its parser and to a reply that is no error, or they prove little.
        if (budget.Mode != "replay")
        {
            var missed = CommandParser.Commands.Select(static s => s.Name).Where(n => !stats.Succeeded.Contains(n)).ToList();
            Assert.True(missed.Count == 0, $"never answered without an error: {string.Join(", ", missed)}");
        }
    }

    // The fuzzer is trusted because it catches this: a follower that stamps entries with its own clock (up to 3 s
    // ahead) instead of the leader's time carried in the entry, the bug leader-assigned timestamps exist to prevent.
    [Fact]
    public void The_fuzzer_catches_a_planted_replica_that_uses_its_own_clock()
    {
        var stats = new Stats();
        FuzzFailure? caught = null;
        for (var seed = 1; seed <= 20 && caught is null; seed++)
            caught = Record.Exception(() => Run(seed, stats, plantedClockBug: true)) as FuzzFailure;

        Assert.NotNull(caught);
        output.WriteLine($"caught after {stats.Entries} entries: {caught.Message[..Math.Min(400, caught.Message.Length)]}");
    }

    private static void Run(int seed, Stats stats, bool plantedClockBug = false)
    {
        var rng = new Random(seed);
        var fuzzer = new CommandFuzzer(new Random(seed ^ 0x5eed_f022)) { Now = Start };
        var replay = FuzzBudget.Replay(seed, nameof(CommandFuzzTests));
        var leader = new KeyValueStore(keyHashSeed: Seed(rng));
        var follower = new KeyValueStore(keyHashSeed: Seed(rng));
        var restoredSeed = Seed(rng);
        KeyValueStore? restored = null;
        var snapshotAfter = rng.Next(EntriesPerRun / 4, 3 * EntriesPerRun / 4);
        var now = Start;

        void Check(bool condition, string message)
        {
            if (!condition)
                throw new FuzzFailure($"seed {seed}: {message} ({replay})");
        }

        try
        {
            for (var entry = 1; entry <= EntriesPerRun; entry++)
            {
                // Cluster time: a few ms per entry, now and then a jump that expires keys, locks and sessions.
                now += rng.Next(20) == 0 ? rng.Next(1_000, 5_000) : rng.Next(0, 60);
                fuzzer.Now = now;
                var writes = new List<(WriteCommand Command, byte Database, string Shown)>();
                var size = rng.Next(1, 9);
                while (writes.Count < size)
                {
                    stats.Cases++;
                    var database = (byte)(rng.Next(4) == 0 ? rng.Next(1, 4) : 0);
                    if (rng.Next(40) == 0)
                    {
                        if (Transaction(rng, fuzzer, leader, database, now) is { } transaction)
                        {
                            stats.Transactions++;
                            writes.Add((transaction, database, "MULTI ... EXEC"));
                        }

                        continue;
                    }

                    var argv = fuzzer.Next();
                    var shown = CommandFuzzer.Show(argv);
                    var parsed = Parse(argv, shown, Check);
                    switch (parsed.Outcome)
                    {
                        case ParseOutcome.Write:
                            writes.Add((parsed.Write!, database, shown));
                            break;
                        case ParseOutcome.Read:
                            stats.Reads++;
                            var clock = rng.Next(4) == 0 ? 0 : now + rng.Next(-50, 50);
                            var reply = Read(leader, parsed.Read!, database, clock, shown, Check);
                            Check(reply.Equals(Read(follower, parsed.Read!, database, clock, shown, Check)), $"entry {entry}: {shown} in db {database}: the follower answers otherwise than the leader's {reply}");
                            if (restored is not null)
                                Check(reply.Equals(Read(restored, parsed.Read!, database, clock, shown, Check)), $"entry {entry}: {shown} in db {database}: the restored replica answers otherwise than the leader's {reply}");
                            stats.Record(argv, reply);
                            break;
                        case ParseOutcome.Error:
                            stats.ParseErrors++;
                            stats.Record(argv, parsed.Error!);
                            break;
                        default:
                            // ACL WHOAMI, LOG, SAVE, LOAD, GENPASS, HELP are the node's.
                            Check(CommandParser.Find(argv[0]) is null || System.Text.Ascii.EqualsIgnoreCase(argv[0], "acl"u8), $"{shown} names a data command but parsed as unknown");
                            break;
                    }
                }

                var batch = new CommandBatch
                {
                    Timestamp = now,
                    Commands = [.. writes.Select(static w => w.Command)],
                    Databases = writes.Any(static w => w.Database != 0) ? [.. writes.Select(static w => w.Database)] : null,
                };
                var payload = new ArrayBufferWriter<byte>();
                KeyValueStore.WriteBatch(payload, batch);
                stats.Entries++;
                stats.Writes += writes.Count;

                var replies = Apply(leader, batch, entry, Check);
                var forFollower = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload.WrittenMemory));
                if (plantedClockBug)
                    forFollower.Timestamp += rng.Next(0, 3_000); // a replica judging time by its own clock, not the entry's
                var followed = Apply(follower, forFollower, entry, Check);
                var restoredReplies = restored is null ? null : Apply(restored, KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload.WrittenMemory)), entry, Check);
                for (var i = 0; i < replies.Length; i++)
                {
                    var where = $"entry {entry}, command {i} {writes[i].Shown} in db {writes[i].Database}";
                    Check(!IsInternalError(replies[i]), $"{where}: {replies[i]}");
                    Check(replies[i].Equals(followed[i]), $"{where}: the leader answers {replies[i]}, the follower {followed[i]}");
                    if (restoredReplies is not null)
                        Check(replies[i].Equals(restoredReplies[i]), $"{where}: the leader answers {replies[i]}, the replica restored after entry {snapshotAfter} {restoredReplies[i]}");
                    if (writes[i].Command is SessionOpenCommand && replies[i].Kind == ReplyKind.Integer)
                        fuzzer.Sessions.Add(replies[i].Integer);
                    if (writes[i].Command is not TransactionCommand)
                        stats.Record(writes[i].Shown, replies[i]);
                }

                var digest = leader.ComputeDigest();
                Check(digest == follower.ComputeDigest(), $"entry {entry}: the follower's digest differs");
                if (restored is not null)
                    Check(digest == restored.ComputeDigest(), $"entry {entry}: the digest of the replica restored after entry {snapshotAfter} differs");

                if (entry == snapshotAfter)
                {
                    restored = new KeyValueStore(keyHashSeed: restoredSeed);
                    restored.RestoreSnapshot(new ReadOnlySequence<byte>(Snapshot(leader)));
                    Check(digest == restored.ComputeDigest(), $"entry {entry}: the digest right after restoring the leader's snapshot differs");
                }

                if (entry % 50 == 0 || entry == EntriesPerRun)
                    Check(Snapshot(leader).AsSpan().SequenceEqual(Snapshot(follower)), $"entry {entry}: the leader and the follower write different snapshot bytes");
            }
        }
        finally
        {
            leader.Scripting.Dispose();
            follower.Scripting.Dispose();
            restored?.Scripting.Dispose();
        }
    }

    private static UInt128 Seed(Random rng) => new((ulong)rng.NextInt64(), (ulong)rng.NextInt64());

    // The node's parse: never throws, the same twice, and every write valid.
    private static ParsedCommand Parse(byte[][] argv, string shown, Action<bool, string> check)
    {
        ParsedCommand parsed = default, again = default;
        var thrown = Record.Exception(() =>
        {
            var memory = argv.Select(static a => (ReadOnlyMemory<byte>)a).ToArray();
            parsed = CommandParser.Parse(memory);
            again = CommandParser.Parse(memory);
        });
        check(thrown is null, $"parsing {shown} threw {thrown}");
        check(parsed.Outcome == again.Outcome, $"{shown} parsed as {parsed.Outcome}, then {again.Outcome}");
        switch (parsed.Outcome)
        {
            case ParseOutcome.Write:
                check(parsed.Write!.Validate() is null, $"{shown} parsed to a {parsed.Write.GetType().Name} that does not validate: {parsed.Write.Validate()}");
                check(UntrustedCommands.Encode(parsed.Write).AsSpan().SequenceEqual(UntrustedCommands.Encode(again.Write!)), $"{shown} parsed to two different writes");
                break;
            case ParseOutcome.Error:
                check(parsed.Error!.Equals(again.Error), $"{shown} was refused with {parsed.Error}, then {again.Error}");
                break;
        }

        return parsed;
    }

    // MULTI, requests queued as the node queues them (a refusal aborts it: EXECABORT, nothing proposed), EXEC; with
    // keys WATCHed first, their state read on the leader as the node's WATCH does.
    private static TransactionCommand? Transaction(Random rng, CommandFuzzer fuzzer, KeyValueStore leader, byte database, long now)
    {
        var queued = new List<byte[][]>();
        for (var n = rng.Next(0, 6); n > 0; n--)
        {
            byte[][] argv = rng.Next(8) == 0
                ? Redis.Args(new string[][] { ["PING"], ["ECHO", "e"], ["TIME"], ["SELECT", rng.Next(0, 17).ToString(CultureInfo.InvariantCulture)], ["UNWATCH"] }[rng.Next(5)])
                : fuzzer.Next();
            switch (TransactionCommand.CheckQueued([.. argv.Select(static a => (ReadOnlyMemory<byte>)a)], out _))
            {
                case QueueCheck.Refuse:
                    return null;
                case QueueCheck.Queue:
                    queued.Add(argv);
                    break;
            }
        }

        var watched = Enumerable.Range(0, rng.Next(0, 4))
            .Select(_ => new WatchedKey { Database = rng.Next(4) == 0 ? rng.Next(1, 4) : database, Key = Encoding.UTF8.GetBytes(new[] { "a", "b", "c", "x", "lock" }[rng.Next(5)]) })
            .ToArray();
        if (watched.Length > 0)
            leader.Read(new WatchCommand(watched), database, now);
        return new TransactionCommand { Commands = [.. queued], Conditions = watched };
    }

    private static Reply Read(KeyValueStore store, ReadCommand command, int database, long clock, string shown, Action<bool, string> check)
    {
        Reply? reply = null;
        var thrown = Record.Exception(() => reply = store.Read(command, database, clock));
        check(thrown is null, $"{shown} in db {database} threw {thrown}");
        check(!IsInternalError(reply!), $"{shown} in db {database}: {reply}");
        return reply!;
    }

    private static Reply[] Apply(KeyValueStore store, CommandBatch batch, long index, Action<bool, string> check)
    {
        Reply[]? replies = null;
        var thrown = Record.Exception(() => replies = store.Apply(batch, index));
        check(thrown is null, $"entry {index}: Apply threw {thrown}");
        return replies!;
    }

    private static bool IsInternalError(Reply reply)
        => (reply.IsError && reply.Text!.Contains("internal error", StringComparison.Ordinal))
           || (reply.Kind == ReplyKind.Array && reply.Items!.Any(IsInternalError));

    private sealed class Stats
    {
        public long Cases { get; set; }

        public long Writes { get; set; }

        public long Reads { get; set; }

        public long Entries { get; set; }

        public long ParseErrors { get; set; }

        public long Transactions { get; set; }

        /// <summary>Commands that got a reply other than an error at least once.</summary>
        public HashSet<string> Succeeded { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> Outcomes { get; } = new(StringComparer.Ordinal);

        public void Record(byte[][] argv, Reply reply) => Record(Encoding.Latin1.GetString(argv[0]), reply);

        public void Record(string shown, Reply reply)
        {
            var name = shown.Split(' ')[0].ToLowerInvariant();
            if (!reply.IsError)
                Succeeded.Add(name);
            var outcome = reply.IsError ? string.Join(' ', reply.Text!.Split(' ').Take(3)) : reply.Kind.ToString();
            Outcomes[outcome] = Outcomes.GetValueOrDefault(outcome) + 1;
        }
    }
}
