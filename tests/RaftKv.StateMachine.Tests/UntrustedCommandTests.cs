using System.Buffers;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Log entries the parser never saw: random valid commands of every kind, the same with their MessagePack bytes
/// mutated, and hand-made adversarial ones (<see cref="UntrustedCommands"/>), fed straight to
/// <see cref="KeyValueStore.ReadLogPayload"/> and <see cref="KeyValueStore.Apply"/>. Each decodable entry goes to two
/// replicas, each decoding it for itself, and to a reference replica that gets the same entry with every refused
/// command replaced by a write that changes nothing. Checked: decoding and applying never throw, no command reaches
/// the internal-error path, both replicas answer alike and end alike, a refused command changes nothing (the reference
/// agrees), and the state survives a snapshot taken mid-run and one taken at the end. A failure message names the
/// seed: put it in <see cref="Seeds"/> alone to replay it.
/// </summary>
public sealed class UntrustedCommandTests
{
    private const long Start = 1_700_000_000_000;
    private const int BatchesPerRun = 4_000;

    // A run whose clock jumps near the end of time for its last entries, where every TTL sum overflows.
    private const int EndOfTimeSeed = 5;

    public static TheoryData<int> Seeds => [1, 2, 3, EndOfTimeSeed, 8, 13, 21, 34, 55, 89, 144, 233];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Untrusted_entries_apply_alike_on_every_replica_and_change_nothing_when_refused(int seed)
    {
        var rng = new Random(seed);
        var commands = new UntrustedCommands(new Random(seed ^ 0x0bad_c0de)) { Now = Start };
        using var replicas = new Replicas();
        var (first, second, reference) = (replicas.First, replicas.Second, replicas.Reference);
        var snapshotAt = rng.Next(BatchesPerRun / 4, BatchesPerRun / 2);
        KeyValueStore? restored = null;
        var stats = new Stats();

        for (var entry = 1; entry <= BatchesPerRun; entry++)
        {
            commands.Now += rng.Next(0, 50);
            if (seed == EndOfTimeSeed && entry == BatchesPerRun - 40)
                commands.Now = long.MaxValue - 86_400_000;
            // One undecodable command makes its whole entry undecodable: most of them are dropped, so most entries apply.
            var encoded = Enumerable.Range(0, rng.Next(1, 9)).Select(_ => commands.NextEncoded())
                .Where(bytes => Decodes(bytes) || rng.Next(10) == 0)
                .ToList();
            var payload = UntrustedCommands.Batch(commands.Now, encoded, commands.Databases(encoded.Count));
            if (rng.Next(40) == 0)
                payload = commands.MutateBatch(payload);
            stats.Commands += encoded.Count;

            var where = $"seed {seed}, entry {entry} ({Convert.ToHexString(payload)})";
            if (!Decode(payload, where, out var forFirst))
            {
                Assert.False(Decode(payload, where, out _), $"{where}: decoded the second time");
                stats.Undecodable++;
                continue;
            }

            Decode(payload, where, out var forSecond);
            var forReference = WithRefusalsSkipped(forFirst!);
            var replies = Apply(first, forFirst!, entry, where);
            AssertSame(where + " (second replica)", replies, Apply(second, forSecond!, entry, where));
            var referenceReplies = Apply(reference, forReference.Batch, entry, where);
            var decoded = forFirst!.Commands ?? [];
            for (var i = 0; i < replies.Length; i++)
            {
                var reply = replies[i];
                if (forReference.Refused[i])
                {
                    stats.Refused++;
                    Assert.True(reply.IsError && (reply.Text!.StartsWith("ERR invalid command", StringComparison.Ordinal) || reply.Equals(KeyValueStore.InvalidDatabase)),
                        $"{where}, command {i}: refused with {reply}");
                }
                else
                {
                    stats.Applied++;
                    stats.Reached.Add(reply.IsError ? string.Join(' ', reply.Text!.Split(' ').Take(reply.Text!.StartsWith("ERR", StringComparison.Ordinal) ? 3 : 1)) : reply.Kind.ToString());
                    Assert.True(reply.Equals(referenceReplies[i]), $"{where}, command {i} {decoded[i]?.GetType().Name}: {reply} here, {referenceReplies[i]} on the reference");
                }

                Assert.False(reply.IsError && reply.Text!.Contains("internal error", StringComparison.Ordinal),
                    $"{where}, command {i} {decoded[i]?.GetType().Name}: {reply}");
                if (decoded[i] is SessionOpenCommand && reply.Kind == ReplyKind.Integer)
                    commands.Sessions.Add(reply.Integer);
            }

            var digest = Digest(first, where);
            Assert.True(digest == Digest(second, where), $"{where}: the replicas' digests differ");
            Assert.True(digest == Digest(reference, where), $"{where}: the reference's digest differs (a refused command changed something)");

            // Absolute times keep up with a cluster time that a damaged stamp moved far ahead.
            commands.Now = Math.Max(commands.Now, first.ClusterTime);

            if (restored is not null)
            {
                Decode(payload, where, out var forRestored);
                AssertSame(where + " (replica restored from a snapshot)", replies, Apply(restored, forRestored!, entry, where));
                Assert.True(digest == Digest(restored, where), $"{where}: the digest of the replica restored at entry {snapshotAt} differs");
            }

            if (entry == snapshotAt)
                restored = replicas.Add(RoundTrip(first, $"seed {seed}, snapshot after entry {entry}"));
        }

        replicas.Add(RoundTrip(first, $"seed {seed}, snapshot at the end"));

        // The run must reach every path, or it proves little.
        Assert.True(stats.Undecodable > 20, $"seed {seed}: only {stats.Undecodable} undecodable entries");
        Assert.True(stats.Refused > 200, $"seed {seed}: only {stats.Refused} refused commands");
        Assert.True(stats.Applied > 1000, $"seed {seed}: only {stats.Applied} applied commands");
        Assert.True(commands.Sessions.Count > 5, $"seed {seed}: only {commands.Sessions.Count} sessions opened");
        string[] outcomes =
        [
            "Status", "Integer", "Bulk", "NullBulk", "Array", "NullArray", "NOSESSION", "NOSCRIPT", "ERR string exceeds",
            "ERR Error compiling", "ERR value is", "ERR user_script:1: boom", "ERR Unknown Redis", "OOM",
        ];
        foreach (var outcome in outcomes)
            Assert.True(stats.Reached.Contains(outcome), $"seed {seed}: never reached {outcome}; reached {string.Join(", ", stats.Reached)}");
    }

    [Fact]
    public void The_generator_builds_every_kind_of_write_and_every_valid_one_validates()
    {
        var commands = new UntrustedCommands(new Random(99)) { Now = Start };
        var built = new HashSet<Type>();
        for (var i = 0; i < 5_000; i++)
        {
            var command = commands.Valid();
            Assert.True(command.Validate() is null, $"generated {command.GetType().Name} does not validate: {command.Validate()}");
            built.Add(command.GetType());
            if (command is SessionExecCommand exec)
                built.Add(exec.Command.GetType());
        }

        Assert.Empty(UntrustedCommands.CommandTypes.Except(built));
    }

    [Fact]
    public void Adversarial_commands_are_refused_unless_only_apply_can_judge_them()
    {
        var commands = new UntrustedCommands(new Random(7)) { Now = Start };
        var refused = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 2_000; i++)
        {
            var command = commands.Adversarial();
            var shape = UntrustedCommands.Encode(command);
            var decoded = KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(UntrustedCommands.Batch(Start, [shape], null))).Commands[0];

            // A few are valid on purpose: numbers only apply can judge (an offset past the length limit, a TTL that
            // overflows the cluster time), a transaction of well-formed nonsense, which its own parse refuses, and ACL rules,
            // which apply judges on the user (an unknown rule, removing a password it lacks, a duplicate user).
            if (decoded.Validate() is { } error)
                refused.Add(error.Text!);
            else
                Assert.True(decoded is SetRangeCommand or LockAcquireCommand or LockExtendCommand or TransactionCommand or AclSetUserCommand or AclDelUserCommand or AclLoadCommand,
                    $"adversarial {decoded.GetType().Name} ({Convert.ToHexString(shape)}) validates");
        }

        Assert.True(refused.Count > 50, $"only {refused.Count} distinct refusals: {string.Join(" | ", refused)}");
    }

    private static bool Decodes(byte[] command)
        => KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(UntrustedCommands.Batch(0, [command], null)), out _, out _) == LogPayloadStatus.Batch;

    private static bool Decode(byte[] payload, string where, out CommandBatch? batch)
    {
        CommandBatch? decoded = null;
        var ok = false;
        var thrown = Record.Exception(() => ok = KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(payload), out decoded, out _) == LogPayloadStatus.Batch);
        Assert.True(thrown is null, $"{where}: ReadLogPayload threw {thrown}");
        batch = decoded;
        return ok;
    }

    // The digest, and with it the check that the used memory kept change by change is the one recomputed from the whole
    // state: the counter maxmemory judges writes by must agree on every replica, the restored ones included.
    private static string Digest(KeyValueStore store, string where)
    {
        string? digest = null;
        var thrown = Record.Exception(() => digest = store.ComputeDigest());
        Assert.True(thrown is null, $"{where}: ComputeDigest threw {thrown}");
        Assert.True(store.UsedMemory == store.ComputeUsedMemory(), $"{where}: used memory {store.UsedMemory} kept, {store.ComputeUsedMemory()} recomputed");
        return digest! + ":" + store.UsedMemory.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Reply[] Apply(KeyValueStore store, CommandBatch batch, long index, string where)
    {
        Reply[]? replies = null;
        var thrown = Record.Exception(() => replies = store.Apply(batch, index));
        Assert.True(thrown is null, $"{where}: Apply threw {thrown}");
        return replies!;
    }

    private static void AssertSame(string where, Reply[] expected, Reply[] actual)
    {
        Assert.True(expected.Length == actual.Length, $"{where}: {expected.Length} replies, then {actual.Length}");
        for (var i = 0; i < expected.Length; i++)
            Assert.True(expected[i].Equals(actual[i]), $"{where}, command {i}: {expected[i]}, then {actual[i]}");
    }

    // The entry as a replica that skips every refused command would apply it: the same positions (fencing tokens and
    // session ids depend on them), each refused command replaced by a DEL of a key nothing writes.
    private static (CommandBatch Batch, bool[] Refused) WithRefusalsSkipped(CommandBatch batch)
    {
        var commands = batch.Commands ?? [];
        var databasesMatch = batch.Databases is null || batch.Databases.Length == commands.Length;
        var refused = new bool[commands.Length];
        var kept = new WriteCommand[commands.Length];
        var databases = new byte[commands.Length];
        for (var i = 0; i < commands.Length; i++)
        {
            var database = batch.Databases is { } all && databasesMatch ? all[i] : (byte)0;
            refused[i] = !databasesMatch || database >= KeyValueStore.DatabaseCount || commands[i] is null || commands[i].Validate() is not null;
            kept[i] = refused[i] ? new DelCommand { Keys = [UntrustedCommands.UntouchedKey] } : commands[i];
            databases[i] = refused[i] ? (byte)0 : database;
        }

        return (new CommandBatch { Timestamp = batch.Timestamp, Commands = kept, Databases = databases }, refused);
    }

    private static KeyValueStore RoundTrip(KeyValueStore store, string where)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var written = Record.Exception(() => store.WriteSnapshot(buffer));
        Assert.True(written is null, $"{where}: WriteSnapshot threw {written}");
        var restored = new KeyValueStore();
        var thrown = Record.Exception(() => restored.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory)));
        Assert.True(thrown is null, $"{where}: the snapshot does not restore: {thrown}");
        Assert.True(Digest(store, where) == Digest(restored, where), $"{where}: the restored digest differs");
        return restored;
    }

    private sealed class Stats
    {
        public int Commands { get; set; }

        public int Undecodable { get; set; }

        public int Refused { get; set; }

        public int Applied { get; set; }

        public HashSet<string> Reached { get; } = new(StringComparer.Ordinal);
    }

    // The stores of a run, whose Lua engines are released at the end.
    private sealed class Replicas : IDisposable
    {
        private readonly List<KeyValueStore> all = [];

        public Replicas()
        {
            First = Add(new KeyValueStore());
            Second = Add(new KeyValueStore());
            Reference = Add(new KeyValueStore());
        }

        public KeyValueStore First { get; }

        public KeyValueStore Second { get; }

        public KeyValueStore Reference { get; }

        public KeyValueStore Add(KeyValueStore store)
        {
            all.Add(store);
            return store;
        }

        public void Dispose()
        {
            foreach (var store in all)
                store.Scripting.Dispose();
        }
    }
}
