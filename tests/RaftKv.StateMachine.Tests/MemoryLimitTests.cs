using System.Buffers;
using System.Globalization;
using System.Reflection;
using System.Text;
using MessagePack;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Memory;
using RaftKv.StateMachine.Scripting;
using RaftKv.StateMachine.Sessions;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// <c>maxmemory</c> in the state machine: the used memory it judges by (kept change by change, equal to a recomputation
/// from the state), the writes it refuses before they allocate and those it lets through, the limits on sessions and
/// cached scripts, and the setting as replicated state (log contract, snapshots, digest).
/// </summary>
public sealed class MemoryLimitTests
{
    private const long T = 1_700_000_000_000;

    private static readonly Reply Oom = Err("OOM command not allowed when used memory > 'maxmemory'.");

    // The seed's lock release (DESIGN.md): compare-and-delete.
    private const string ReleaseScript = "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

    private readonly Redis redis = new();

    private Reply SetMaxMemory(long bytes, bool onlyIfUnset = false)
        => redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [new ConfigSetCommand { Setting = ReplicatedSetting.MaxMemory, Value = bytes, OnlyIfUnset = onlyIfUnset }] }, redis.NextLogIndex).Single();

    private static string Text(int length, char c = 'x') => new(c, length);

    // Fills database 0 with 1,000-byte values until SET answers OOM; returns how many keys it stored.
    private int FillUntilRefused()
    {
        for (var i = 0; ; i++)
        {
            var reply = redis.Exec(T, "SET", "fill:" + i.ToString(CultureInfo.InvariantCulture), Text(1_000));
            if (reply.Equals(Oom))
                return i;
            Assert.Equal(Ok, reply);
            Assert.True(i < 100_000, "never refused");
        }
    }

    // ---- Accounting ----

    [Fact]
    public void Used_memory_counts_keys_values_expiry_sessions_replies_and_scripts_and_matches_a_recomputation()
    {
        var store = redis.Store;
        Assert.Equal(0, store.UsedMemory);

        redis.Exec(T, "SET", "key", "value");
        Assert.Equal(MemoryCosts.Entry(3, 5, expiring: false), store.UsedMemory);
        redis.Exec(T, "PEXPIRE", "key", "1000");
        Assert.Equal(MemoryCosts.Entry(3, 5, expiring: true), store.UsedMemory);
        redis.Exec(T, "APPEND", "key", "12345");
        Assert.Equal(MemoryCosts.Entry(3, 10, expiring: true), store.UsedMemory);

        var id = redis.Exec(T, "SESSION.OPEN", "60000").Integer;
        var afterOpen = MemoryCosts.Entry(3, 10, expiring: true) + MemoryCosts.PerSession;
        Assert.Equal(afterOpen, store.UsedMemory);
        var id1 = id.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(Bulk("value12345"), redis.Exec(T, "SESSION.EXEC", id1, "1", "0", "GETDEL", "key"));
        Assert.Equal(MemoryCosts.PerSession + MemoryCosts.PerSessionReply + MemoryCosts.Reply(Bulk("value12345")), store.UsedMemory);
        redis.Exec(T, "SESSION.EXEC", id1, "2", "2", "DEL", "nothing");
        Assert.Equal(MemoryCosts.PerSession + MemoryCosts.PerSessionReply + MemoryCosts.Reply(Int(0)), store.UsedMemory);

        redis.Exec(T, "SCRIPT", "LOAD", "return 1");
        redis.Exec(T, "EVAL", "return 2", "0");
        redis.Exec(T, "EVAL", "return 2", "0");
        Assert.Equal(MemoryCosts.PerSession + MemoryCosts.PerSessionReply + MemoryCosts.Reply(Int(0)) + (2 * MemoryCosts.Script(8)), store.UsedMemory);
        Assert.Equal(store.ComputeUsedMemory(), store.UsedMemory);

        redis.Exec(T, "SCRIPT", "FLUSH");
        redis.Exec(T, "SESSION.CLOSE", id1);
        Assert.Equal(0, store.UsedMemory);
    }

    [Fact]
    public void Used_memory_falls_with_the_expiry_sweep_with_FLUSHALL_and_follows_SWAPDB()
    {
        var store = redis.Store;
        redis.Exec(T, "SET", "short", "lived", "PX", "10");
        store.Apply(new CommandBatch { Timestamp = T, Commands = [Redis.Parse("SET", "other", "db").Write!], Databases = [5] }, redis.NextLogIndex);
        var both = store.UsedMemory;

        store.Apply(new CommandBatch { Timestamp = T + 20 }, redis.NextLogIndex); // an empty entry sweeps
        Assert.Equal(both - MemoryCosts.Entry(5, 5, expiring: true), store.UsedMemory);

        redis.Exec(T + 20, "SWAPDB", "0", "5");
        Assert.Equal(MemoryCosts.Entry(5, 2, expiring: false), store.Databases[0].UsedMemory);
        redis.Exec(T + 20, "FLUSHALL");
        Assert.Equal(0, store.UsedMemory);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(2024)]
    public void Used_memory_kept_by_every_change_equals_a_recomputation_on_two_replicas_and_after_a_restore(int seed)
    {
        var rng = new Random(seed);
        var commands = new UntrustedCommands(new Random(seed)) { Now = T };
        var (leader, follower) = (new KeyValueStore(), new KeyValueStore());
        KeyValueStore? restored = null;
        var refusedForMemory = 0;
        for (var entry = 1; entry <= 3_000; entry++)
        {
            commands.Now += rng.Next(0, 40);
            var batch = new CommandBatch { Timestamp = commands.Now, Commands = [.. Enumerable.Range(0, rng.Next(1, 6)).Select(_ => commands.Valid())] };
            var payload = new ArrayBufferWriter<byte>();
            KeyValueStore.WriteBatch(payload, batch);
            var replies = leader.Apply(batch, entry);
            Assert.Equal(replies, follower.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload.WrittenMemory)), entry));
            if (restored is not null)
                Assert.Equal(replies, restored.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload.WrittenMemory)), entry));
            refusedForMemory += replies.Count(static r => r.Equals(Oom));
            for (var i = 0; i < replies.Length; i++)
            {
                if (batch.Commands[i] is SessionOpenCommand && replies[i].Kind == ReplyKind.Integer)
                    commands.Sessions.Add(replies[i].Integer);
            }

            foreach (var replica in restored is null ? [leader, follower] : new[] { leader, follower, restored })
                Assert.True(replica.UsedMemory == replica.ComputeUsedMemory(), $"seed {seed}, entry {entry}: {replica.UsedMemory} kept, {replica.ComputeUsedMemory()} recomputed");
            Assert.Equal(leader.UsedMemory, follower.UsedMemory);
            Assert.Equal(leader.ComputeDigest(), follower.ComputeDigest());

            if (entry == 1_000)
            {
                var snapshot = new ArrayBufferWriter<byte>();
                leader.WriteSnapshot(snapshot);
                restored = new KeyValueStore();
                restored.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot.WrittenMemory));
                Assert.Equal(leader.UsedMemory, restored.UsedMemory);
            }
        }

        Assert.Equal(leader.ComputeDigest(), restored!.ComputeDigest());
        Assert.True(refusedForMemory > 10, $"seed {seed}: only {refusedForMemory} writes refused for memory");
    }

    // ---- What maxmemory refuses and what it lets through ----

    [Fact]
    public void Without_a_limit_nothing_is_refused_for_memory()
    {
        Assert.Null(redis.Store.MaxMemorySetting);
        Assert.Equal(0, redis.Store.MaxMemory);
        Assert.True(redis.Store.Admits(long.MaxValue));
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", Text(100_000)));
    }

    [Fact]
    public void Over_the_limit_writes_that_grow_memory_are_refused_while_deletes_expiry_flushes_and_reads_go_on()
    {
        const string setFromScript = "return redis.call('set', KEYS[1], 'v')";
        Assert.Equal(ReplyKind.Integer, redis.Exec(T, "LOCK.ACQUIRE", "lock", "token", "60000").Kind);
        Assert.Equal(ReplyKind.Bulk, redis.Exec(T, "SCRIPT", "LOAD", setFromScript).Kind);
        Assert.Equal(ReplyKind.Bulk, redis.Exec(T, "SCRIPT", "LOAD", ReleaseScript).Kind);
        Assert.Equal(Ok, SetMaxMemory(50_000));
        var stored = FillUntilRefused();
        Assert.True(stored is > 30 and < 50, $"{stored} keys of 1,000 bytes under 50,000 bytes");
        Assert.True(redis.Store.UsedMemory <= 50_000);

        Assert.Equal(Ok, SetMaxMemory(1_000)); // now far over: every growing write is refused, even a tiny one
        string[][] refused =
        [
            ["SET", "fill:0", "y"], ["SETNX", "new", "v"], ["SETEX", "new", "10", "v"], ["PSETEX", "new", "10", "v"], ["GETSET", "fill:0", "v"],
            ["MSET", "a", "1"], ["MSETNX", "a", "1"], ["APPEND", "fill:0", "x"], ["SETRANGE", "fill:0", "0", "x"], ["INCR", "n"],
            ["DECRBY", "n", "2"], ["INCRBYFLOAT", "n", "1.5"], ["COPY", "fill:0", "copy"], ["LOCK.ACQUIRE", "other", "t", "1000"],
            ["SESSION.OPEN", "60000"], ["SCRIPT", "LOAD", "return 'new'"], ["EVAL", "return 'new'", "0"],
            ["EVAL", setFromScript, "1", "s"], // cached, so it runs, and its SET is refused
        ];
        var digest = redis.Store.ComputeDigest();
        foreach (var argv in refused)
        {
            var reply = redis.Exec(T, argv);
            Assert.True(reply.IsError && reply.Text!.Contains("OOM command not allowed when used memory > 'maxmemory'.", StringComparison.Ordinal),
                $"{string.Join(' ', argv)}: {reply}");
        }

        Assert.Equal(digest, redis.Store.ComputeDigest());

        // Reads, deletes, expiry, the lock release and its script, and the setting itself keep working.
        Assert.Equal(Bulk(Text(1_000)), redis.Exec(T, "GET", "fill:0"));
        Assert.Equal(Int(1), redis.Exec(T, "DEL", "fill:0"));
        Assert.Equal(Bulk(Text(1_000)), redis.Exec(T, "GETDEL", "fill:1"));
        Assert.Equal(Int(1), redis.Exec(T, "PEXPIRE", "fill:2", "1"));
        Assert.Equal(Int(1), redis.Exec(T, "PERSIST", "fill:2"));
        Assert.Equal(Ok, redis.Exec(T, "RENAME", "fill:3", "moved"));
        Assert.Equal(Int(1), redis.Exec(T, "LOCK.RELEASE", "lock", "token"));
        Assert.Equal(Oom, redis.Exec(T, "SET", "ignored", "v"));
        Assert.Equal(Int(0), redis.Exec(T, "EVAL", ReleaseScript, "1", "lock", "token"));
        Assert.Equal(Oom, redis.Exec(T, "EVAL", ReleaseScript + " ", "1", "lock", "token")); // a new script is not cached

        Assert.Equal(Ok, redis.Exec(T, "FLUSHDB"));
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v"));
    }

    [Fact]
    public void The_seed_s_lock_release_script_runs_on_a_full_store_once_cached()
    {
        Assert.Equal(Int(0), redis.Exec(T, "EVAL", ReleaseScript, "1", "lock", "token"));
        Assert.Equal(Ok, redis.Exec(T, "SET", "lock", "token", "NX", "PX", "30000"));
        Assert.Equal(Ok, SetMaxMemory(1));

        Assert.Equal(Int(1), redis.Exec(T, "EVAL", ReleaseScript, "1", "lock", "token"));
        Assert.Equal(Reply.NullBulk, redis.Exec(T, "GET", "lock"));
    }

    [Fact]
    public void A_write_that_would_take_used_memory_past_the_limit_is_refused_even_under_it()
    {
        Assert.Equal(Ok, SetMaxMemory(10_000));
        redis.Exec(T, "SET", "k", Text(1_000));
        var used = redis.Store.UsedMemory;

        Assert.Equal(Oom, redis.Exec(T, "APPEND", "k", Text(10_000 - (int)used + 1)));
        Assert.Equal(Oom, redis.Exec(T, "SET", "other", Text(10_000)));
        Assert.Equal(Int(10_000 - used + 1_000), redis.Exec(T, "APPEND", "k", Text(10_000 - (int)used)));
        Assert.Equal(10_000, redis.Store.UsedMemory);

        // Replacing a value by one no longer frees what it holds: only the difference counts.
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "short"));
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", Text(2_000)));
    }

    [Fact]
    public void SETRANGE_to_two_GiB_under_a_100_MB_limit_is_refused_before_it_allocates()
    {
        Assert.Equal(Ok, SetMaxMemory(100L * 1024 * 1024));
        var huge = new SetRangeCommand { Key = "k"u8.ToArray(), Offset = IStringLengthLimited.MaxLengthCeiling - 1, Value = [1], MaxLength = IStringLengthLimited.MaxLengthCeiling };
        var append = new AppendCommand { Key = "k"u8.ToArray(), Value = new byte[16], MaxLength = IStringLengthLimited.MaxLengthCeiling };

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var replies = redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [huge, append, huge] }, redis.NextLogIndex);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.Equal([Oom, Int(16), Oom], replies);
        Assert.True(allocated < 1024 * 1024, $"{allocated} bytes allocated");
    }

    [Fact]
    public void INCR_and_INCRBYFLOAT_check_the_exact_growth_of_the_value_they_format()
    {
        redis.Exec(T, "SET", "n", "9");
        Assert.Equal(Ok, SetMaxMemory(redis.Store.UsedMemory));

        Assert.Equal(Int(8), redis.Exec(T, "DECR", "n"));  // same length: nothing grows
        Assert.Equal(Oom, redis.Exec(T, "INCRBY", "n", "2")); // "10": one byte more
        Assert.Equal(Bulk("9"), redis.Exec(T, "INCRBYFLOAT", "n", "1"));
        Assert.Equal(Oom, redis.Exec(T, "INCRBYFLOAT", "n", "0.5"));
    }

    [Fact]
    public void EXEC_over_the_limit_is_refused_whole_when_it_holds_a_growing_write_and_runs_when_it_only_shrinks()
    {
        redis.Exec(T, "SET", "a", Text(100));
        Assert.Equal(Ok, SetMaxMemory(1));
        TransactionCommand Exec(params string[][] queued) => new() { Commands = [.. queued.Select(static c => Redis.Args(c))] };

        var replies = redis.Store.Apply(new CommandBatch
        {
            Timestamp = T,
            Commands = [Exec(["DEL", "a"], ["SET", "b", "1"]), Exec(["GET", "a"], ["DEL", "a"], ["PING"])],
        }, redis.NextLogIndex);

        Assert.Equal(Oom, replies[0]);
        Assert.Equal(Reply.FromArray([Bulk(Text(100)), Int(1), Reply.Status("PONG")]), replies[1]);

        // Under the limit each queued write is judged as it runs.
        Assert.Equal(Ok, SetMaxMemory(MemoryCosts.Entry(1, 1, expiring: false)));
        var mixed = redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [Exec(["SET", "b", "1"], ["SET", "c", "1"], ["DEL", "b"])] }, redis.NextLogIndex).Single();
        Assert.Equal(Reply.FromArray([Ok, Oom, Int(1)]), mixed);
    }

    [Fact]
    public void A_session_write_refused_for_memory_is_not_remembered_and_a_retry_of_an_applied_one_is_answered()
    {
        var id = redis.Exec(T, "SESSION.OPEN", "60000").Integer.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(Ok, redis.Exec(T, "SESSION.EXEC", id, "1", "0", "SET", "k", "v"));
        Assert.Equal(Ok, SetMaxMemory(1));

        Assert.Equal(Ok, redis.Exec(T, "SESSION.EXEC", id, "1", "0", "SET", "k", "v")); // the retry: remembered
        Assert.Equal(Oom, redis.Exec(T, "SESSION.EXEC", id, "2", "0", "SET", "k", "w"));
        Assert.Equal(Int(1), redis.Exec(T, "SESSION.EXEC", id, "3", "0", "DEL", "k"));

        Assert.Equal(Ok, SetMaxMemory(0));
        Assert.Equal(Ok, redis.Exec(T, "SESSION.EXEC", id, "2", "0", "SET", "k", "w")); // not remembered: applies now
        Assert.Equal(Bulk("w"), redis.Exec(T, "GET", "k"));
    }

    // ---- Limits on sessions and scripts ----

    [Fact]
    public void SESSION_OPEN_is_refused_once_the_table_holds_the_most_sessions_and_works_again_when_some_expire()
    {
        var store = redis.Store;
        for (var opened = 0; opened < SessionTable.MaxSessions; opened += 50_000)
        {
            var batch = Enumerable.Range(0, 50_000).Select(static _ => (WriteCommand)new SessionOpenCommand { Ttl = 1_000 }).ToArray();
            Assert.All(store.Apply(new CommandBatch { Timestamp = T, Commands = batch }, redis.NextLogIndex + opened), static r => Assert.Equal(ReplyKind.Integer, r.Kind));
        }

        Assert.Equal(SessionTable.MaxSessions, store.Sessions.Count);
        Assert.Equal(Err("ERR SESSION too many open sessions (at most 100000); close idle sessions or wait for them to expire"),
            store.Apply(new CommandBatch { Timestamp = T, Commands = [new SessionOpenCommand { Ttl = 1_000 }] }, 1_000_000).Single());
        Assert.Equal(ReplyKind.Integer, store.Apply(new CommandBatch { Timestamp = T + 1_000, Commands = [new SessionOpenCommand { Ttl = 1_000 }] }, 1_000_001).Single().Kind);
        Assert.Equal(store.ComputeUsedMemory(), store.UsedMemory);
    }

    [Fact]
    public void A_new_script_is_refused_once_the_cache_holds_the_most_scripts_while_cached_ones_still_run()
    {
        var load = Enumerable.Range(0, ScriptCacheLimit.MaxScripts)
            .Select(static i => (WriteCommand)new ScriptLoadCommand { Script = Encoding.ASCII.GetBytes("return " + i.ToString(CultureInfo.InvariantCulture)) })
            .ToArray();
        redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = load }, redis.NextLogIndex);
        Assert.Equal(ScriptCacheLimit.MaxScripts, redis.Store.Scripts.Count);

        var full = Err("ERR the script cache is full (at most 10000 scripts); run cached scripts with EVALSHA, or SCRIPT FLUSH");
        Assert.Equal(full, redis.Exec(T, "SCRIPT", "LOAD", "return 'new'"));
        Assert.Equal(full, redis.Exec(T, "EVAL", "return 'new'", "0"));
        Assert.Equal(Int(7), redis.Exec(T, "EVAL", "return 7", "0"));
        Assert.Equal(Bulk(ScriptCache.Sha1Hex("return 7"u8)), redis.Exec(T, "SCRIPT", "LOAD", "return 7"));
        Assert.Equal(redis.Store.ComputeUsedMemory(), redis.Store.UsedMemory);

        Assert.Equal(Ok, redis.Exec(T, "SCRIPT", "FLUSH"));
        Assert.Equal(Reply.Status("new"), redis.Exec(T, "EVAL", "return {ok='new'}", "0"));
    }

    // ---- maxmemory as replicated state ----

    [Fact]
    public void A_configured_value_sets_maxmemory_only_while_it_was_never_set()
    {
        Assert.Equal(Int(1), SetMaxMemory(1_000, onlyIfUnset: true));
        Assert.Equal(Int(0), SetMaxMemory(2_000, onlyIfUnset: true));
        Assert.Equal(1_000, redis.Store.MaxMemory);
        Assert.Equal(Ok, SetMaxMemory(0));
        Assert.Equal(Int(0), SetMaxMemory(3_000, onlyIfUnset: true));
        Assert.Equal((0L, 0L), (redis.Store.MaxMemorySetting, redis.Store.MaxMemory));
    }

    [Fact]
    public void Maxmemory_is_in_the_digest_and_survives_a_snapshot_and_an_older_snapshot_restores_as_never_set()
    {
        redis.Exec(T, "SET", "k", "v");
        var unset = redis.Store.ComputeDigest();
        SetMaxMemory(0);
        var zero = redis.Store.ComputeDigest();
        SetMaxMemory(123_456);
        var set = redis.Store.ComputeDigest();
        Assert.Equal(3, new[] { unset, zero, set }.Distinct().Count());

        var snapshot = new ArrayBufferWriter<byte>();
        redis.Store.WriteSnapshot(snapshot);
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot.WrittenMemory));
        Assert.Equal((123_456L, set, redis.Store.UsedMemory), (restored.MaxMemory, restored.ComputeDigest(), restored.UsedMemory));

        // Format 2 (no settings) as written before maxmemory existed: [2, time, [[0, [[k, v, noexpiry]]]], [], []].
        var old = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(old);
        writer.WriteArrayHeader(5);
        writer.Write(2);
        writer.Write(T);
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(2);
        writer.Write(0);
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(3);
        writer.Write("k"u8);
        writer.Write("v"u8);
        writer.Write(ClusterTime.NoExpiry);
        writer.WriteArrayHeader(0);
        writer.WriteArrayHeader(0);
        writer.Flush();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(old.WrittenMemory));
        Assert.Null(restored.MaxMemorySetting);
        Assert.Equal(unset, restored.ComputeDigest());
        Assert.Equal(MemoryCosts.Entry(1, 1, expiring: false), restored.UsedMemory);
    }

    [Theory]
    [InlineData("maxmemory", -1L)]
    [InlineData("maxmemory-policy", 1L)]
    public void A_snapshot_with_an_unknown_or_invalid_setting_is_refused(string name, long value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(6);
        writer.Write(3);
        writer.Write(T);
        writer.WriteArrayHeader(0);
        writer.WriteArrayHeader(0);
        writer.WriteArrayHeader(0);
        writer.WriteMapHeader(1);
        writer.Write(name);
        writer.Write(value);
        writer.Flush();

        Assert.Throws<InvalidDataException>(() => new KeyValueStore().RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory)));
    }

    // Captured from MessagePack 2.5.307 when CONFIG SET maxmemory was added.
    private const string PinnedHex =
        "93" + "01" + "91" // CommandBatch [Timestamp 1, one command, ...]
        + "9270" + "93" + "00" + "CE06400000" + "C3" // union tag 112: ConfigSetCommand [Setting MaxMemory, Value 100 MB, OnlyIfUnset]
        + "C0"; // Databases: nil

    [Fact]
    public void The_configuration_write_s_union_tag_enum_values_and_bytes_are_pinned()
    {
        var tags = typeof(WriteCommand).GetCustomAttributes<UnionAttribute>().ToDictionary(static u => u.Key, static u => u.SubType);
        Assert.Equal(typeof(ConfigSetCommand), tags[112]);
        Assert.Equal([0], Enum.GetValues<ReplicatedSetting>().Select(static v => (int)v));

        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, new CommandBatch
        {
            Timestamp = 1,
            Commands = [new ConfigSetCommand { Setting = ReplicatedSetting.MaxMemory, Value = 100L * 1024 * 1024, OnlyIfUnset = true }],
        }, checksum: false);
        Assert.Equal(PinnedHex, Convert.ToHexString(buffer.WrittenSpan));
        var decoded = Assert.IsType<ConfigSetCommand>(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(Convert.FromHexString(PinnedHex))).Commands.Single());
        Assert.Equal((ReplicatedSetting.MaxMemory, 100L * 1024 * 1024, true), (decoded.Setting, decoded.Value, decoded.OnlyIfUnset));
    }
}
