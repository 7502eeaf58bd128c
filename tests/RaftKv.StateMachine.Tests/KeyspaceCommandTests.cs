using System.Buffers;
using System.Globalization;
using System.Text;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// The string and keyspace commands' replicated-state properties: what Redis cannot show (SCAN cursors across writes
/// and replicas, deterministic RANDOMKEY, immutable stored values, limits carried in the log). Their replies are
/// checked against a real Redis by the differential suite in RaftKv.Node.Tests.
/// </summary>
public sealed class KeyspaceCommandTests
{
    private const long T = 1_700_000_000_000;

    private readonly Redis redis = new();

    private static string S(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static List<string> ScanAll(KeyValueStore store, long now, int count, Action<int>? betweenSteps = null)
    {
        var keys = new List<string>();
        var cursor = "0";
        for (var step = 0; ; step++)
        {
            var reply = store.Read(Redis.Parse("SCAN", cursor, "COUNT", S(count)).Read!, now);
            keys.AddRange(reply.Items![1].Items!.Select(static k => Encoding.UTF8.GetString(k.Bulk!)));
            cursor = Encoding.ASCII.GetString(reply.Items[0].Bulk!);
            if (cursor == "0")
                return keys;
            betweenSteps?.Invoke(step);
        }
    }

    [Fact]
    public void A_full_scan_returns_every_key_present_throughout_exactly_once_while_others_come_and_go()
    {
        for (var i = 0; i < 500; i++)
            redis.Exec(T, "SET", "stable:" + S(i), "v");

        var keys = ScanAll(redis.Store, T, count: 7, betweenSteps: step =>
        {
            redis.Exec(T, "SET", "new:" + S(step), "v");
            redis.Exec(T, "DEL", "new:" + S(step / 2));
        });

        var stable = keys.Where(static k => k.StartsWith("stable:", StringComparison.Ordinal)).ToList();
        Assert.Equal(500, stable.Count);
        Assert.Equal(500, stable.Distinct().Count());
    }

    [Fact]
    public void A_scan_cursor_from_one_replica_continues_on_another_restored_from_a_snapshot()
    {
        for (var i = 0; i < 100; i++)
            redis.Exec(T, "SET", "k" + S(i), "v");
        var buffer = new ArrayBufferWriter<byte>();
        redis.Store.WriteSnapshot(buffer);
        var replica = new KeyValueStore();
        replica.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory));

        var first = redis.Store.Read(Redis.Parse("SCAN", "0", "COUNT", "30").Read!, T);
        var cursor = Encoding.ASCII.GetString(first.Items![0].Bulk!);
        var onLeader = redis.Store.Read(Redis.Parse("SCAN", cursor, "COUNT", "30").Read!, T);
        var onReplica = replica.Read(Redis.Parse("SCAN", cursor, "COUNT", "30").Read!, T);

        Assert.Equal(onLeader, onReplica);
        Assert.Equal(redis.Store.Read(Redis.Parse("KEYS", "*").Read!, T), replica.Read(Redis.Parse("KEYS", "*").Read!, T));
    }

    [Fact]
    public void Scan_skips_expired_keys_and_filters_by_match_and_type()
    {
        redis.Exec(T, "MSET", "a1", "v", "a2", "v", "b1", "v");
        redis.Exec(T, "SET", "a3", "v", "PX", "10");

        Assert.Equal(["a1", "a2"], ScanAll(redis.Store, T + 10, count: 100).Where(static k => k.StartsWith('a')).Order().ToList());
        Assert.Equal(
            Reply.FromArray([Bulk("0"), Reply.FromArray([Bulk("b1")])]),
            redis.Read(T + 10, "SCAN", "0", "MATCH", "b*", "COUNT", "100"));
        Assert.Equal(Reply.FromArray([Bulk("0"), Reply.EmptyArray]), redis.Read(T + 10, "SCAN", "0", "TYPE", "hash", "COUNT", "100"));
    }

    [Fact]
    public void Randomkey_is_a_function_of_state_and_time_and_never_names_an_expired_key()
    {
        for (var i = 0; i < 50; i++)
            redis.Exec(T, "SET", "k" + S(i), "v", "PX", i < 49 ? "10" : "1000");

        var picks = Enumerable.Range(0, 20).Select(i => redis.Read(T + 10 + i, "RANDOMKEY")).ToList();

        Assert.All(picks, static p => Assert.Equal(Bulk("k49"), p));
        Assert.Equal(redis.Read(T, "RANDOMKEY"), redis.Read(T, "RANDOMKEY"));
        Assert.True(Enumerable.Range(0, 50).Select(i => redis.Read(T + i, "RANDOMKEY")).Distinct().Count() > 5, "RANDOMKEY hardly moves");
        Assert.Equal(Nil, redis.Read(T + 2000, "RANDOMKEY"));
    }

    [Fact]
    public void Reads_of_expired_keys_change_nothing()
    {
        redis.AddSweepFillers(T, expireAt: T + 1);
        redis.Exec(T, "SET", "k", "v", "PX", "5");
        var before = redis.Store.ComputeDigest();

        foreach (var read in new[]
                 {
                     new[] { "GET", "k" }, ["MGET", "k"], ["STRLEN", "k"], ["GETRANGE", "k", "0", "-1"], ["EXISTS", "k"], ["TYPE", "k"],
                     ["TTL", "k"], ["PTTL", "k"], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"], ["KEYS", "*"], ["SCAN", "0"],
                     ["RANDOMKEY"], ["DBSIZE"], ["GETEX", "k"],
                 })
        {
            redis.Read(T + 100, read);
        }

        Assert.Equal(before, redis.Store.ComputeDigest());
        Assert.Equal(Int(0), redis.Read(T + 100, "DBSIZE"));
        Assert.Equal(201, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void Writes_store_new_arrays_so_a_reply_sharing_the_old_one_never_changes()
    {
        redis.Exec(T, "SET", "k", "abc");
        redis.Exec(T, "SET", "n", "41");
        var value = redis.Exec(T, "GET", "k").Bulk!;
        var number = redis.Exec(T, "GET", "n").Bulk!;

        redis.Exec(T, "APPEND", "k", "def");
        redis.Exec(T, "SETRANGE", "k", "0", "X");
        redis.Exec(T, "INCR", "n");
        redis.Exec(T, "INCRBYFLOAT", "n", "0.5");

        Assert.Equal("abc"u8.ToArray(), value);
        Assert.Equal("41"u8.ToArray(), number);
        Assert.Equal(Bulk("Xbcdef"), redis.Exec(T, "GET", "k"));
        Assert.Equal(Bulk("42.5"), redis.Exec(T, "GET", "n"));
    }

    [Fact]
    public void The_string_length_limit_travels_with_the_command_through_the_log()
    {
        redis.Exec(T, "SET", "k", "12345");
        var append = (IStringLengthLimited)Redis.Parse("APPEND", "k", "678").Write!;
        var setRange = (IStringLengthLimited)Redis.Parse("SETRANGE", "k", "7", "x").Write!;
        Assert.Equal(512L * 1024 * 1024, append.MaxLength);

        var limited = new CommandBatch { Timestamp = T, Commands = [append.WithMaxLength(7), setRange.WithMaxLength(7)] };
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, limited);
        var replies = redis.Store.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(buffer.WrittenMemory)));

        Assert.Equal([Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"), Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")], replies);
        Assert.Equal(Bulk("12345"), redis.Exec(T, "GET", "k"));
        Assert.Equal(Int(8), redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [append.WithMaxLength(8)] }).Single());
    }

    [Fact]
    public void An_expiry_at_the_last_millisecond_of_time_is_kept_as_a_ttl()
    {
        redis.Exec(T, "SET", "k", "v");

        Assert.Equal(Int(1), redis.Exec(T, "PEXPIREAT", "k", S(long.MaxValue)));

        Assert.Equal(long.MaxValue - 1, redis.ExpireAtOf("k"));
        Assert.Equal(Int(1), redis.Exec(T, "PERSIST", "k"));
    }

    [Fact]
    public void Swapdb_exchanges_contents_including_expiries_and_survives_a_snapshot()
    {
        redis.Exec(T, "SET", "zero", "0", "PX", "100");
        redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [Redis.Parse("SET", "one", "1").Write!], Databases = [1] });

        redis.Exec(T, "SWAPDB", "0", "1");

        Assert.Equal(Bulk("1"), redis.Exec(T, "GET", "one"));
        Assert.Equal(Bulk("0"), redis.Store.Read(Redis.Parse("GET", "zero").Read!, 1, T));
        Assert.Equal(Int(100), redis.Store.Read(Redis.Parse("PTTL", "zero").Read!, 1, T));
        var buffer = new ArrayBufferWriter<byte>();
        redis.Store.WriteSnapshot(buffer);
        var replica = new KeyValueStore();
        replica.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory));
        Assert.Equal(redis.Store.ComputeDigest(), replica.ComputeDigest());
    }

    [Fact]
    public void Flushall_empties_every_database_alike_on_a_replica_fed_from_the_log()
    {
        var follower = new KeyValueStore();
        string[][] writes = [["SET", "a", "1"], ["SET", "b", "2", "PX", "100"], ["SET", "c", "3"], ["FLUSHDB"], ["SET", "d", "4"], ["FLUSHALL", "ASYNC"], ["SET", "e", "5"]];
        var batch = new CommandBatch { Timestamp = T, Commands = [.. writes.Select(static w => Redis.Parse(w).Write!)], Databases = [0, 1, 2, 2, 3, 4, 5] };
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch);

        var replies = redis.Store.Apply(batch);

        Assert.Equal(replies, follower.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(buffer.WrittenMemory))));
        Assert.Equal(redis.Store.ComputeDigest(), follower.ComputeDigest());
        Assert.Equal([0, 0, 0, 0, 0, 1], redis.Store.Databases.Take(6).Select(static d => d.Count));
        Assert.Equal(0, redis.Store.Databases.Sum(static d => d.ExpiringCount));
    }

    [Fact]
    public void The_store_knows_when_a_sweep_would_reclaim_something()
    {
        Assert.False(redis.Store.HasExpiredKeysAt(T));
        redis.Exec(T, "SET", "k", "v", "PX", "10");
        redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [Redis.Parse("SET", "j", "v", "PX", "5").Write!], Databases = [9] });

        Assert.False(redis.Store.HasExpiredKeysAt(T + 4));
        Assert.True(redis.Store.HasExpiredKeysAt(T + 5));

        redis.Store.Apply(new CommandBatch { Timestamp = T + 10 });
        Assert.False(redis.Store.HasExpiredKeysAt(T + 1000));
        Assert.Equal(0, redis.Store.Databases.Sum(static d => d.Count));
    }

    [Fact]
    public void Getex_without_options_is_a_read_and_with_options_a_write()
    {
        Assert.Equal(ParseOutcome.Read, Redis.Parse("GETEX", "k").Outcome);
        Assert.Equal(ParseOutcome.Write, Redis.Parse("GETEX", "k", "PERSIST").Outcome);
        Assert.Equal(ParseOutcome.Write, Redis.Parse("GETEX", "k", "EX", "abc").Outcome); // judged once the key is found
    }
}
