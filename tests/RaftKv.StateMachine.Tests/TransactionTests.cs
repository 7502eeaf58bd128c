using System.Buffers;
using System.Text;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// MULTI/EXEC as the state machine applies it (<see cref="TransactionCommand"/>): queued commands run in order with one
/// reply each, errors stay per command, WATCH conditions abort the whole transaction, and replicas agree.
/// </summary>
public sealed class TransactionTests
{
    private const long T0 = 1_700_000_000_000;

    private readonly Redis redis = new();

    private static TransactionCommand Transaction(params string[][] commands) => new()
    {
        Commands = [.. commands.Select(static c => Redis.Args(c))],
    };

    private Reply Apply(long now, TransactionCommand transaction, int database = 0)
        => redis.Store.Apply(new CommandBatch { Timestamp = now, Commands = [transaction], Databases = [(byte)database] }).Single();

    private Reply Exec(long now, params string[][] commands) => Apply(now, Transaction(commands));

    // WATCH as the node does it: a read at the serving node's clock that records what each key is.
    private WatchedKey Watch(long clock, string key, int database = 0)
    {
        var watched = new WatchedKey { Database = database, Key = Encoding.UTF8.GetBytes(key) };
        Assert.Equal(Ok, redis.Store.Read(new WatchCommand([watched]), database, clock));
        return watched;
    }

    private static Reply Array(params Reply[] items) => Reply.FromArray(items);

    [Fact]
    public void Queued_writes_and_reads_run_in_order_with_one_reply_each()
    {
        var reply = Exec(T0, ["SET", "a", "1"], ["INCR", "a"], ["GET", "a"], ["MGET", "a", "missing"], ["DEL", "a"], ["GET", "a"], ["EXISTS", "a"]);

        Assert.Equal(Array(Ok, Int(2), Bulk("2"), Array(Bulk("2"), Nil), Int(1), Nil, Int(0)), reply);
    }

    [Fact]
    public void An_error_is_that_commands_reply_the_rest_still_run_and_nothing_rolls_back()
    {
        var reply = Exec(T0, ["SET", "k", "v"], ["INCR", "k"], ["SET", "k", "w", "BADOPT"], ["SET", "n", "1", "EX", "0"], ["APPEND", "k", "x"]);

        Assert.Equal(Array(Ok, NotAnInteger, SyntaxError, Err("ERR invalid expire time in 'set' command"), Int(2)), reply);
        Assert.Equal(Bulk("vx"), redis.Exec(T0, "GET", "k"));
        Assert.Equal(Int(0), redis.Exec(T0, "EXISTS", "n"));
    }

    [Fact]
    public void An_empty_transaction_answers_an_empty_array()
    {
        Assert.Equal(Reply.EmptyArray, Exec(T0));
    }

    [Fact]
    public void Expiry_inside_runs_at_the_entrys_cluster_time()
    {
        Assert.Equal(Array(Ok, Int(5_000)), Exec(T0, ["SET", "k", "v", "PX", "5000"], ["PTTL", "k"]));
        Assert.Equal(T0 + 5_000, redis.ExpireAtOf("k"));

        // At the entry's time a key whose time is up is gone for every command of the transaction.
        Assert.Equal(Array(Nil, Ok), Exec(T0 + 5_000, ["GET", "k"], ["SET", "k", "again", "NX"]));
    }

    [Fact]
    public void PING_ECHO_and_TIME_are_answered_by_the_transaction()
    {
        var reply = Exec(T0 + 1_234, ["PING"], ["PING", "hello"], ["PING", "a", "b"], ["ECHO", "text"], ["TIME"], ["UNWATCH"]);

        Assert.Equal(
            Array(Reply.Status("PONG"), Bulk("hello"), WrongArity("ping"), Bulk("text"), Array(Bulk("1700000001"), Bulk("234000")), Ok),
            reply);
    }

    [Fact]
    public void SELECT_changes_the_database_of_the_commands_after_it()
    {
        var reply = Exec(T0, ["SET", "k", "zero"], ["SELECT", "1"], ["SET", "k", "one"], ["SELECT", "16"], ["SELECT", "abc"],
            ["SELECT", "4294967296"], ["GET", "k"], ["SELECT", "0"], ["GET", "k"]);

        Assert.Equal(
            Array(Ok, Ok, Ok, Err("ERR DB index is out of range"), NotAnInteger,
                Err("ERR value is out of range, value must between -2147483648 and 2147483647"), Bulk("one"), Ok, Bulk("zero")),
            reply);
        Assert.Equal(Bulk("one"), redis.Store.Read(Redis.Parse("GET", "k").Read!, 1, T0));
    }

    [Fact]
    public void A_transaction_starts_in_the_database_the_connection_selected()
    {
        Assert.Equal(Array(Ok), Apply(T0, Transaction(["SET", "k", "three"]), database: 3));

        Assert.Equal(Bulk("three"), redis.Store.Read(Redis.Parse("GET", "k").Read!, 3, T0));
        Assert.Equal(Nil, redis.Exec(T0, "GET", "k"));
    }

    [Fact]
    public void The_database_after_EXEC_is_the_last_valid_SELECTs()
    {
        byte[][][] commands = [Redis.Args("SELECT", "4"), Redis.Args("SET", "k", "v"), Redis.Args("SELECT", "99"), Redis.Args("SELECT", "x")];

        Assert.Equal(4, TransactionCommand.DatabaseAfter(commands, 2));
        Assert.Equal(2, TransactionCommand.DatabaseAfter([Redis.Args("GET", "k")], 2));
    }

    [Fact]
    public void Scripts_SWAPDB_and_FLUSHALL_run_inside_like_any_command()
    {
        var reply = Exec(T0, ["EVAL", "return redis.call('incrby', KEYS[1], ARGV[1])", "1", "n", "5"], ["SWAPDB", "0", "1"],
            ["GET", "n"], ["SELECT", "1"], ["GET", "n"], ["FLUSHALL"], ["DBSIZE"]);

        Assert.Equal(Array(Int(5), Ok, Nil, Ok, Bulk("5"), Ok, Int(0)), reply);
    }

    [Fact]
    public void A_queued_APPEND_enforces_the_proposing_nodes_string_limit()
    {
        var transaction = new TransactionCommand { Commands = [Redis.Args("SET", "k", "12345"), Redis.Args("APPEND", "k", "678")], MaxStringLength = 6 };

        Assert.Equal(Array(Ok, Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")), Apply(T0, transaction));
    }

    [Fact]
    public void An_unchanged_watched_key_lets_EXEC_run()
    {
        redis.Exec(T0, "SET", "k", "v", "PX", "60000");
        var watched = Watch(T0 + 1, "k");
        var absent = Watch(T0 + 1, "missing");

        var reply = Apply(T0 + 2, new TransactionCommand { Commands = [Redis.Args("SET", "k", "w")], Conditions = [watched, absent] });

        Assert.Equal(Array(Ok), reply);
        Assert.Equal((WatchedKeyState.Present, T0 + 60_000), (watched.State, watched.ExpireAt));
        Assert.Equal(WatchedKeyState.Absent, absent.State);
    }

    [Theory]
    [InlineData("SET", "k", "changed")]
    [InlineData("DEL", "k")]
    [InlineData("PEXPIRE", "k", "30000")]
    [InlineData("PERSIST", "k")]
    [InlineData("APPEND", "k", "")]
    public void A_watched_key_changed_in_value_or_expiry_aborts_EXEC_and_nothing_runs(params string[] change)
    {
        redis.Exec(T0, "SET", "k", "v", "PX", "60000");
        var watched = Watch(T0 + 1, "k");
        var changed = redis.Exec(T0 + 2, change);

        var reply = Apply(T0 + 3, new TransactionCommand { Commands = [Redis.Args("SET", "other", "x")], Conditions = [watched] });

        // APPEND of nothing changes neither value nor expiry: value-based WATCH lets EXEC run (Redis would abort).
        var unchanged = change is ["APPEND", _, ""];
        Assert.Equal(unchanged ? Array(Ok) : Reply.NullArray, reply);
        Assert.Equal(unchanged ? Int(1) : Int(0), redis.Exec(T0 + 3, "EXISTS", "other"));
        Assert.False(changed.IsError);
    }

    [Fact]
    public void A_watched_key_created_meanwhile_aborts_EXEC()
    {
        var watched = Watch(T0, "k");
        redis.Exec(T0 + 1, "SET", "k", "v");

        Assert.Equal(Reply.NullArray, Apply(T0 + 2, new TransactionCommand { Commands = [Redis.Args("DEL", "k")], Conditions = [watched] }));
        Assert.Equal(Bulk("v"), redis.Exec(T0 + 2, "GET", "k"));
    }

    [Fact]
    public void Rewriting_the_same_value_and_expiry_does_not_abort_EXEC()
    {
        redis.Exec(T0, "SET", "k", "v");
        var watched = Watch(T0 + 1, "k");
        redis.Exec(T0 + 2, "SET", "k", "v");

        Assert.Equal(Array(Bulk("v")), Apply(T0 + 3, new TransactionCommand { Commands = [Redis.Args("GET", "k")], Conditions = [watched] }));
    }

    [Fact]
    public void A_watched_key_that_expires_before_EXEC_aborts_it()
    {
        redis.Exec(T0, "SET", "k", "v", "PX", "100");
        var watched = Watch(T0 + 1, "k");

        Assert.Equal(Reply.NullArray, Apply(T0 + 100, new TransactionCommand { Commands = [Redis.Args("SET", "k", "mine", "NX")], Conditions = [watched] }));
    }

    [Fact]
    public void A_key_already_expired_when_watched_counts_as_absent()
    {
        redis.Exec(T0, "SET", "k", "v", "PX", "100");
        redis.AddSweepFillers(T0 + 1, T0 + 50);

        // Still stored, unswept, but its time is up at the read's clock: WATCH sees no key, and none is there at EXEC.
        var watched = Watch(T0 + 200, "k");
        Assert.NotNull(redis.StoredEntry("k"));
        Assert.Equal(WatchedKeyState.Absent, watched.State);
        Assert.Equal(Array(Ok), Apply(T0 + 201, new TransactionCommand { Commands = [Redis.Args("SET", "k", "new", "NX")], Conditions = [watched] }));
    }

    [Fact]
    public void Keys_are_watched_in_their_own_database()
    {
        redis.Exec(T0, "SET", "k", "db0");
        var inDatabase2 = Watch(T0, "k", database: 2);
        redis.Exec(T0 + 1, "SET", "k", "changed in db0");

        var transaction = new TransactionCommand { Commands = [Redis.Args("SET", "k", "db2")], Conditions = [inDatabase2] };
        Assert.Equal(Array(Ok), Apply(T0 + 2, transaction, database: 2));

        Assert.Equal(WatchedKeyState.Absent, inDatabase2.State);
        Assert.Equal(Reply.NullArray, Apply(T0 + 3, transaction, database: 2));
    }

    [Fact]
    public void A_watched_key_never_read_aborts_EXEC()
    {
        var unread = new WatchedKey { Database = 0, Key = "k"u8.ToArray() };

        Assert.Equal(Reply.NullArray, Apply(T0, new TransactionCommand { Commands = [Redis.Args("SET", "k", "v")], Conditions = [unread] }));
        Assert.Equal(Nil, redis.Exec(T0, "GET", "k"));
    }

    [Fact]
    public void Commands_are_checked_before_queuing_as_Redis_does()
    {
        Assert.Equal((QueueCheck.Queue, null), Check("GET", "k"));
        Assert.Equal((QueueCheck.Queue, null), Check("SET", "k", "v", "BADOPT")); // syntax: the command's own reply at EXEC
        Assert.Equal((QueueCheck.Queue, null), Check("PING", "a", "b")); // PING counts its arguments itself
        Assert.Equal((QueueCheck.Queue, null), Check("SCRIPT", "FLUSH", "BAD"));
        Assert.Equal((QueueCheck.Refuse, WrongArity("set")), Check("SET", "k"));
        Assert.Equal((QueueCheck.Refuse, WrongArity("select")), Check("SELECT"));
        Assert.Equal((QueueCheck.Refuse, WrongArity("script|load")), Check("SCRIPT", "LOAD"));
        Assert.Equal((QueueCheck.Refuse, Err("ERR unknown subcommand 'BOGUS'. Try SCRIPT HELP.")), Check("SCRIPT", "BOGUS"));
        Assert.Equal((QueueCheck.Refuse, Err("ERR Command not allowed inside a transaction")), Check("LOCK.ACQUIRE", "k", "t", "1000"));
        Assert.Equal((QueueCheck.Refuse, Err("ERR Command not allowed inside a transaction")), Check("SESSION.OPEN", "10000"));
        Assert.Equal((QueueCheck.NotTransactional, null), Check("INFO"));
        Assert.Equal((QueueCheck.NotTransactional, null), Check("NOSUCHCOMMAND"));

        static (QueueCheck, Reply?) Check(params string[] argv)
            => (TransactionCommand.CheckQueued(Redis.Args(argv).Select(static a => (ReadOnlyMemory<byte>)a).ToArray(), out var error), error);
    }

    [Fact]
    public void A_command_the_node_would_have_refused_is_refused_at_apply_too()
    {
        var reply = Exec(T0, ["LOCK.ACQUIRE", "k", "t", "1000"], ["INFO"], ["SET", "k"], ["SET", "k", "v"]);

        Assert.Equal(
            Array(Err("ERR Command not allowed inside a transaction"), Err("ERR unknown command 'INFO' in a transaction"), WrongArity("set"), Ok),
            reply);
    }

    [Fact]
    public void Replicas_agree_on_replies_and_state_also_through_the_log_and_a_snapshot()
    {
        var leader = new KeyValueStore();
        var follower = new KeyValueStore();
        var watchedAtLeader = new WatchedKey { Database = 0, Key = "counter"u8.ToArray() };
        leader.Apply(new CommandBatch { Timestamp = T0, Commands = [Redis.Parse("SET", "counter", "10").Write!] }, 1);
        follower.Apply(new CommandBatch { Timestamp = T0, Commands = [Redis.Parse("SET", "counter", "10").Write!] }, 1);
        leader.Read(new WatchCommand([watchedAtLeader]), 0, T0);

        var batches = new[]
        {
            new CommandBatch
            {
                Timestamp = T0 + 10,
                Commands =
                [
                    new TransactionCommand
                    {
                        Commands = [Redis.Args("INCRBY", "counter", "5"), Redis.Args("SET", "lock", "me", "NX", "PX", "1000"), Redis.Args("SELECT", "2"), Redis.Args("SET", "x", "y")],
                        Conditions = [watchedAtLeader],
                    },
                    Redis.Parse("SET", "after", "1").Write!,
                    new TransactionCommand { Commands = [Redis.Args("GET", "counter"), Redis.Args("TIME")], Conditions = [watchedAtLeader] },
                ],
                Databases = [0, 0, 1],
            },
            new CommandBatch { Timestamp = T0 + 2_000, Commands = [Transaction(["GET", "lock"], ["EVAL", "return redis.call('get', 'counter')", "0"])] },
        };

        var replies = new List<Reply[]>();
        for (var i = 0; i < batches.Length; i++)
        {
            var payload = new ArrayBufferWriter<byte>();
            KeyValueStore.WriteBatch(payload, batches[i]);
            var onLeader = leader.Apply(batches[i], i + 2);
            var onFollower = follower.Apply(KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload.WrittenMemory)), i + 2);
            Assert.Equal(onLeader, onFollower);
            replies.Add(onLeader);
        }

        // The first transaction ran (the counter was as watched); the second saw the counter changed by the first and
        // ran nothing; by the last entry the lock's time is up.
        Assert.Equal([Array(Int(15), Ok, Ok, Ok), Ok, Reply.NullArray], replies[0]);
        Assert.Equal([Array(Nil, Bulk("15"))], replies[1]);
        Assert.Equal(leader.ComputeDigest(), follower.ComputeDigest());

        var snapshot = new ArrayBufferWriter<byte>();
        leader.WriteSnapshot(snapshot);
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot.WrittenMemory));
        Assert.Equal(leader.ComputeDigest(), restored.ComputeDigest());
    }
}
