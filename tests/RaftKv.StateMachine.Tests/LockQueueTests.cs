using System.Text;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Locks;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Issue 17's lock service in apply: FIFO queues granted by the entry that frees the lock, reader-writer locks,
/// semaphores, leases and waits in cluster time, fencing tokens, and what LOCK.INFO/LOCK.LIST show.
/// </summary>
public sealed class LockQueueTests
{
    private const long T0 = 1_700_000_000_000;

    private static bool Queued(Reply reply) => LockReplies.IsQueued(reply, out _);

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [Fact]
    public void Waiters_are_granted_in_queue_order_by_the_release_that_frees_the_lock()
    {
        var redis = new Redis();
        var first = redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000", "WAIT", "5000", "OWNER", "client-a");
        Assert.Equal(ReplyKind.Integer, first.Kind);
        Assert.True(Queued(redis.Exec(T0 + 1, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000")));
        Assert.True(Queued(redis.Exec(T0 + 2, "LOCK.ACQUIRE", "res", "c", "10000", "WAIT", "5000")));
        Assert.Empty(redis.Store.TakeLockNotices());

        var releaseIndex = redis.NextLogIndex;
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 3, "LOCK.RELEASE", "res", "a"));
        var notice = Assert.Single(redis.Store.TakeLockNotices());
        Assert.Equal((LockNoticeKind.Granted, "b"), (notice.Kind, Text(notice.Token)));
        Assert.Equal(CommandContext.ToLogPosition(releaseIndex, 0), notice.Fencing);
        Assert.True(notice.Fencing > first.Integer);

        // The grant is the plain key, with the waiter's lease, in the same entry as the release.
        Assert.Equal(Reply.FromBulk("b"), redis.Exec(T0 + 3, "GET", "res"));
        Assert.Equal(Reply.FromInteger(10_000), redis.Exec(T0 + 3, "PTTL", "res"));

        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 4, "LOCK.RELEASE", "res", "b"));
        var next = Assert.Single(redis.Store.TakeLockNotices());
        Assert.Equal("c", Text(next.Token));
        Assert.True(next.Fencing > notice.Fencing);
    }

    [Fact]
    public void A_newcomer_never_overtakes_the_queue()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "100");
        Assert.True(Queued(redis.Exec(T0 + 1, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000")));

        // a's lease has ended but no entry has handed the lock on yet: the newcomer still comes after b.
        Assert.Equal(Reply.NullBulk, redis.Exec(T0 + 500, "LOCK.ACQUIRE", "res", "newcomer", "10000"));
        var notice = Assert.Single(redis.Store.TakeLockNotices());
        Assert.Equal((LockNoticeKind.Granted, "b"), (notice.Kind, Text(notice.Token)));
        Assert.Equal(Reply.FromBulk("b"), redis.Exec(T0 + 500, "GET", "res"));
    }

    [Fact]
    public void An_expired_lease_hands_the_lock_on_in_the_next_entry()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "100");
        Assert.True(Queued(redis.Exec(T0 + 1, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000")));
        Assert.False(redis.Store.HasExpiredKeysAt(T0 + 99));
        Assert.True(redis.Store.HasExpiredKeysAt(T0 + 100)); // what makes an idle leader propose an entry

        redis.Store.Apply(new CommandBatch { Timestamp = T0 + 150, Commands = [] }, 10);
        var notice = Assert.Single(redis.Store.TakeLockNotices());
        Assert.Equal((LockNoticeKind.Granted, "b"), (notice.Kind, Text(notice.Token)));
        Assert.Equal(Reply.FromBulk("b"), redis.Exec(T0 + 151, "GET", "res"));
    }

    [Fact]
    public void A_wait_ends_at_its_deadline_and_the_waiter_leaves_the_queue()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000");
        Assert.True(Queued(redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "50")));
        Assert.True(redis.Store.HasExpiredKeysAt(T0 + 50));

        redis.Store.Apply(new CommandBatch { Timestamp = T0 + 60, Commands = [] }, 10);
        var notice = Assert.Single(redis.Store.TakeLockNotices());
        Assert.Equal((LockNoticeKind.TimedOut, "b"), (notice.Kind, Text(notice.Token)));
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 70, "LOCK.RELEASE", "res", "a"));
        Assert.Empty(redis.Store.TakeLockNotices());
        Assert.Equal(Reply.NullBulk, redis.Exec(T0 + 70, "LOCK.INFO", "res"));
    }

    [Fact]
    public void A_dead_waiter_delays_the_next_by_at_most_its_lease()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "dead", "300", "WAIT", "60000");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "alive", "10000", "WAIT", "60000");
        redis.Exec(T0 + 10, "LOCK.RELEASE", "res", "a");
        Assert.Equal("dead", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));

        // Nobody extends dead's grant: it ends 300 ms later and alive gets the lock in that entry.
        redis.Store.Apply(new CommandBatch { Timestamp = T0 + 309, Commands = [] }, 10);
        Assert.Empty(redis.Store.TakeLockNotices());
        redis.Store.Apply(new CommandBatch { Timestamp = T0 + 310, Commands = [] }, 11);
        Assert.Equal("alive", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));
    }

    [Theory]
    [InlineData("DEL", "res")]
    [InlineData("EVAL", "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", "1", "res", "a")]
    [InlineData("FLUSHDB")]
    [InlineData("GETDEL", "res")]
    public void Any_command_that_removes_the_mutex_key_hands_it_on(params string[] removal)
    {
        var redis = new Redis();
        redis.Exec(T0, "SET", "res", "a", "NX", "PX", "10000"); // a plain Redis client holds it
        Assert.True(Queued(redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000")));
        Assert.False(redis.Exec(T0 + 1, removal).IsError);
        Assert.Equal("b", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));
        Assert.Equal(Reply.FromBulk("b"), redis.Exec(T0 + 2, "GET", "res"));
    }

    [Fact]
    public void A_restored_replica_hands_a_flushed_database_on_alike()
    {
        // FLUSHDB frees every mutex at once, in the lock table's dictionary order — which on a replica restored from a
        // snapshot differs from the one that lived the history (a restore fills no holes). The grants, and their
        // fencing tokens, must not follow it.
        static WriteCommand[] Queue(int from, int to) => [.. Enumerable.Range(from, to - from).SelectMany(i => new[]
        {
            Redis.Parse("LOCK.ACQUIRE", $"res:{i}", "holder", "100000").Write!,
            Redis.Parse("LOCK.ACQUIRE", $"res:{i}", $"waiter:{i}", "100000", "WAIT", "100000").Write!,
        })];

        var original = new KeyValueStore(keyHashSeed: 1);
        original.Apply(new CommandBatch { Timestamp = T0, Commands = Queue(0, 40) }, 1);
        var holes = Enumerable.Range(0, 40).Where(static i => i % 3 == 0)
            .SelectMany(i => new[] { Redis.Parse("LOCK.RELEASE", $"res:{i}", "holder").Write!, Redis.Parse("LOCK.RELEASE", $"res:{i}", $"waiter:{i}").Write! })
            .ToArray();
        original.Apply(new CommandBatch { Timestamp = T0, Commands = holes }, 2);
        var snapshot = new System.Buffers.ArrayBufferWriter<byte>();
        original.WriteSnapshot(snapshot);
        var restored = new KeyValueStore(keyHashSeed: UInt128.MaxValue / 3);
        restored.RestoreSnapshot(new System.Buffers.ReadOnlySequence<byte>(snapshot.WrittenMemory));
        original.TakeLockNotices();

        var notices = new List<string>[2];
        var replicas = new[] { original, restored };
        for (var r = 0; r < 2; r++)
        {
            replicas[r].Apply(new CommandBatch { Timestamp = T0 + 1, Commands = Queue(100, 120) }, 3);
            replicas[r].Apply(new CommandBatch { Timestamp = T0 + 2, Commands = [Redis.Parse("FLUSHDB").Write!] }, 4);
            notices[r] = [.. replicas[r].TakeLockNotices().Select(n => $"{Text(n.Name)}={Text(n.Token)}@{n.Fencing}")];
        }

        Assert.Equal(26 + 20, notices[0].Count);
        Assert.Equal(notices[0], notices[1]);
        Assert.Equal(original.ComputeDigest(), restored.ComputeDigest());
    }

    [Fact]
    public void A_key_overwritten_by_another_token_is_held_by_that_token()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000");
        redis.Exec(T0 + 1, "SET", "res", "intruder");
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 2, "LOCK.RELEASE", "res", "a"));
        Assert.Empty(redis.Store.TakeLockNotices());
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 3, "DEL", "res"));
        Assert.Equal("b", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));
    }

    [Fact]
    public void A_lease_that_would_pass_the_end_of_time_at_its_grant_saturates()
    {
        // Valid when queued (now + ttl fits); granted 50 ms later, now + ttl would wrap to the past.
        var redis = new Redis();
        var ttl = (long.MaxValue - T0 - 10).ToString(System.Globalization.CultureInfo.InvariantCulture);
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "1000");
        Assert.True(Queued(redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", ttl, "WAIT", "100")));
        redis.Exec(T0 + 50, "LOCK.RELEASE", "res", "a");
        Assert.Equal("b", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));
        Assert.Equal(Reply.FromBulk("b"), redis.Exec(T0 + 60, "GET", "res"));
        Assert.True(redis.Exec(T0 + 60, "PTTL", "res").Integer > 0);
    }

    [Fact]
    public void A_retried_acquire_keeps_its_place_in_the_queue()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "c", "10000", "WAIT", "5000");
        Assert.True(Queued(redis.Exec(T0 + 1, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000")));
        Assert.Equal(Reply.NullBulk, redis.Exec(T0 + 1, "LOCK.ACQUIRE", "res", "b", "10000")); // no WAIT: not now
        redis.Exec(T0 + 2, "LOCK.RELEASE", "res", "a");
        Assert.Equal("b", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));
    }

    [Fact]
    public void Releasing_a_waiter_takes_it_out_of_the_queue()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "c", "10000", "WAIT", "5000");
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 1, "LOCK.RELEASE", "res", "b"));
        Assert.Equal((LockNoticeKind.Released, "b"), Assert.Single(redis.Store.TakeLockNotices()) is var n ? (n.Kind, Text(n.Token)) : default);
        redis.Exec(T0 + 2, "LOCK.RELEASE", "res", "a");
        Assert.Equal("c", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 3, "LOCK.RELEASE", "res", "b"));
    }

    [Fact]
    public void Readers_share_a_writer_excludes_and_a_waiting_writer_blocks_new_readers()
    {
        var redis = new Redis();
        var r1 = redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "READ", "r1", "10000");
        var r2 = redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "READ", "r2", "10000");
        Assert.True(r2.Integer > r1.Integer);
        Assert.Equal(Reply.NullBulk, redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "WRITE", "w", "10000"));
        Assert.True(Queued(redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "WRITE", "w", "10000", "WAIT", "5000")));

        // A writer waits: a new reader may not join the readers that hold.
        Assert.Equal(Reply.NullBulk, redis.Exec(T0 + 1, "RWLOCK.ACQUIRE", "doc", "READ", "r3", "10000"));
        Assert.True(Queued(redis.Exec(T0 + 1, "RWLOCK.ACQUIRE", "doc", "READ", "r3", "10000", "WAIT", "5000")));
        Assert.True(Queued(redis.Exec(T0 + 1, "RWLOCK.ACQUIRE", "doc", "READ", "r4", "10000", "WAIT", "5000")));

        redis.Exec(T0 + 2, "RWLOCK.RELEASE", "doc", "r1");
        Assert.Empty(redis.Store.TakeLockNotices());
        redis.Exec(T0 + 3, "RWLOCK.RELEASE", "doc", "r2");
        Assert.Equal("w", Text(Assert.Single(redis.Store.TakeLockNotices()).Token));

        // The writer's release grants both queued readers at once, with distinct increasing fencing tokens.
        redis.Exec(T0 + 4, "RWLOCK.RELEASE", "doc", "w");
        var readers = redis.Store.TakeLockNotices();
        Assert.Equal(["r3", "r4"], readers.Select(n => Text(n.Token)));
        Assert.True(readers[1].Fencing > readers[0].Fencing);
        Assert.Equal(Reply.NullBulk, redis.Exec(T0 + 5, "GET", "doc")); // RW locks are not keys
    }

    [Fact]
    public void A_semaphore_admits_at_most_max_count_holders()
    {
        var redis = new Redis();
        var tokens = new List<long>
        {
            redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "2", "a", "10000").Integer,
            redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "2", "b", "10000").Integer,
        };
        Assert.Equal(Reply.NullBulk, redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "2", "c", "10000"));
        Assert.True(Queued(redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "2", "c", "10000", "WAIT", "1000")));
        Assert.Equal(
            Reply.Error("ERR semaphore 'pool' has max-count 2, not 3"),
            redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "3", "d", "10000"));

        redis.Exec(T0 + 1, "SEMAPHORE.RELEASE", "pool", "a");
        var granted = Assert.Single(redis.Store.TakeLockNotices());
        Assert.Equal("c", Text(granted.Token));
        tokens.Add(granted.Fencing);
        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 2, "SEMAPHORE.EXTEND", "pool", "c", "20000"));
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 2, "SEMAPHORE.EXTEND", "pool", "a", "20000"));
    }

    [Fact]
    public void Leases_of_rw_locks_and_semaphores_end_by_cluster_time()
    {
        var redis = new Redis();
        redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "1", "a", "100");
        redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "1", "b", "100", "WAIT", "10000");
        redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "WRITE", "w", "100");
        redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "READ", "r", "100", "WAIT", "10000");
        redis.Store.Apply(new CommandBatch { Timestamp = T0 + 100, Commands = [] }, 10);
        Assert.Equal(["b", "r"], redis.Store.TakeLockNotices().Select(n => Text(n.Token)).Order());
    }

    [Fact]
    public void Kinds_do_not_mix_and_modes_do_not_switch()
    {
        var redis = new Redis();
        redis.Exec(T0, "RWLOCK.ACQUIRE", "x", "READ", "t", "10000");
        Assert.Equal(LockReplies.WrongKind, redis.Exec(T0, "SEMAPHORE.ACQUIRE", "x", "1", "t", "10000"));
        Assert.Equal(LockReplies.WrongKind, redis.Exec(T0, "LOCK.ACQUIRE", "x", "t", "10000", "WAIT", "10"));
        Assert.Equal(
            Reply.Error("ERR LOCK token already holds or waits for 'x' in another mode"),
            redis.Exec(T0, "RWLOCK.ACQUIRE", "x", "WRITE", "t", "10000"));
        var renewed = redis.Exec(T0 + 5, "RWLOCK.ACQUIRE", "x", "READ", "t", "10000");
        Assert.Equal(ReplyKind.Integer, renewed.Kind);
    }

    [Theory]
    [InlineData("LOCK.ACQUIRE", "k", "t", "100", "WAIT")]
    [InlineData("LOCK.ACQUIRE", "k", "t", "100", "WAIT", "1", "WAIT", "2")]
    [InlineData("LOCK.ACQUIRE", "k", "t", "100", "LINGER", "1")]
    [InlineData("RWLOCK.ACQUIRE", "k", "BOTH", "t", "100")]
    public void Malformed_options_are_syntax_errors(params string[] argv)
        => Assert.Equal(Reply.SyntaxError, new Redis().Exec(T0, argv));

    [Fact]
    public void Bad_numbers_and_names_are_refused_before_apply()
    {
        var redis = new Redis();
        Assert.Equal(LockReplies.InvalidWait, redis.Exec(T0, "LOCK.ACQUIRE", "k", "t", "100", "WAIT", "-1"));
        Assert.Equal(Replies.NotAnInteger, redis.Exec(T0, "LOCK.ACQUIRE", "k", "t", "100", "WAIT", "soon"));
        Assert.Equal(LockReplies.InvalidMaxCount, redis.Exec(T0, "SEMAPHORE.ACQUIRE", "k", "0", "t", "100"));
        Assert.Equal(LockReplies.InvalidMaxCount, redis.Exec(T0, "SEMAPHORE.ACQUIRE", "k", "10001", "t", "100"));
        Assert.Equal(LockReplies.OwnerTooLong, redis.Exec(T0, "LOCK.ACQUIRE", "k", "t", "100", "OWNER", new string('o', 1025)));
        Assert.Equal(Reply.Error("ERR invalid expire time in 'rwlock.acquire' command"), redis.Exec(T0, "RWLOCK.ACQUIRE", "k", "READ", "t", "0"));
        Assert.Equal(LockReplies.InvalidWait, redis.Exec(T0, "LOCK.ACQUIRE", "k", "t", "100", "WAIT", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(0, redis.Store.Keyspace.Locks.Count);
    }

    [Fact]
    public void A_queue_is_bounded()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "holder", "100000");
        var waiters = Enumerable.Range(0, LockSpace.MaxWaiters)
            .Select(i => Redis.Parse("LOCK.ACQUIRE", "res", $"w{i}", "1000", "WAIT", "100000").Write!)
            .ToArray();
        redis.Store.Apply(new CommandBatch { Timestamp = T0, Commands = waiters }, 100);
        Assert.Equal(LockReplies.TooManyWaiters, redis.Exec(T0, "LOCK.ACQUIRE", "res", "one-more", "1000", "WAIT", "100000"));
        Assert.Equal(redis.Store.ComputeUsedMemory(), redis.Store.UsedMemory);
    }

    [Fact]
    public void Scripts_and_transactions_refuse_the_lock_commands()
    {
        var redis = new Redis();
        var reply = redis.Exec(T0, "EVAL", "return redis.call('rwlock.acquire', 'k', 'read', 't', '100')", "0");
        Assert.True(reply.IsError, reply.ToString());
        Assert.Contains("not allowed", reply.Text, StringComparison.OrdinalIgnoreCase);

        foreach (var name in new[] { "LOCK.ACQUIRE", "RWLOCK.ACQUIRE", "SEMAPHORE.ACQUIRE", "LOCK.INFO", "LOCK.LIST", "SEMAPHORE.RELEASE" })
        {
            var argv = name switch
            {
                "LOCK.ACQUIRE" => Redis.Args(name, "k", "t", "100", "WAIT", "100"),
                "RWLOCK.ACQUIRE" => Redis.Args(name, "k", "READ", "t", "100"),
                "SEMAPHORE.ACQUIRE" => Redis.Args(name, "k", "2", "t", "100"),
                "LOCK.INFO" => Redis.Args(name, "k"),
                "LOCK.LIST" => Redis.Args(name),
                _ => Redis.Args(name, "k", "t"),
            };
            Assert.Equal(QueueCheck.Refuse, TransactionCommand.CheckQueued([.. argv.Select(static a => (ReadOnlyMemory<byte>)a)], out var error));
            Assert.Equal(TransactionCommand.NotAllowed, error);
        }
    }

    [Fact]
    public void Lock_info_shows_holders_and_waiters_in_order()
    {
        var redis = new Redis();
        var fencing = redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000", "OWNER", "svc-1").Integer;
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "3000", "WAIT", "5000", "OWNER", "svc-2");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "c", "3000", "WAIT", "6000");
        var info = redis.Exec(T0 + 1000, "LOCK.INFO", "res");
        Assert.Equal(
            Reply.FromArray(
            [
                Reply.FromBulk("kind"), Reply.FromBulk("mutex"), Reply.FromBulk("max-count"), Reply.FromInteger(1),
                Reply.FromBulk("holders"),
                Reply.FromArray([Reply.FromArray([Reply.FromBulk("a"), Reply.FromBulk("svc-1"), Reply.FromInteger(fencing), Reply.FromInteger(9000), Reply.FromBulk("write")])]),
                Reply.FromBulk("waiters"),
                Reply.FromArray(
                [
                    Reply.FromArray([Reply.FromBulk("b"), Reply.FromBulk("svc-2"), Reply.FromBulk("write"), Reply.FromInteger(4000), Reply.FromInteger(3000)]),
                    Reply.FromArray([Reply.FromBulk("c"), Reply.FromBulk(""), Reply.FromBulk("write"), Reply.FromInteger(5000), Reply.FromInteger(3000)]),
                ]),
            ]),
            info);

        // A mutex a plain SET took shows its holder without owner or fencing token.
        redis.Exec(T0, "SET", "plain", "tok", "PX", "5000");
        var plain = redis.Exec(T0 + 1000, "LOCK.INFO", "plain");
        Assert.Equal(Reply.FromArray([Reply.FromBulk("tok"), Reply.FromBulk(""), Reply.NullBulk, Reply.FromInteger(4000), Reply.FromBulk("write")]), plain.Items![5].Items![0]);

        redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "3", "s", "10000");
        redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "READ", "r", "10000");
        Assert.Equal(
            Reply.FromArray(
            [
                Reply.FromArray([Reply.FromBulk("doc"), Reply.FromBulk("rwlock"), Reply.FromInteger(1), Reply.FromInteger(0)]),
                Reply.FromArray([Reply.FromBulk("pool"), Reply.FromBulk("semaphore"), Reply.FromInteger(1), Reply.FromInteger(0)]),
                Reply.FromArray([Reply.FromBulk("res"), Reply.FromBulk("mutex"), Reply.FromInteger(1), Reply.FromInteger(2)]),
            ]),
            redis.Exec(T0 + 1000, "LOCK.LIST"));
        Assert.Single(redis.Exec(T0 + 1000, "LOCK.LIST", "p*").Items!);
    }

    [Fact]
    public void Locks_survive_a_snapshot_and_the_restored_replica_decides_alike()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000", "OWNER", "o");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000");
        redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "WRITE", "w", "700");
        redis.Exec(T0, "RWLOCK.ACQUIRE", "doc", "READ", "r", "10000", "WAIT", "5000");
        redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "1", "s", "10000");

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        redis.Store.WriteSnapshot(buffer);
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new System.Buffers.ReadOnlySequence<byte>(buffer.WrittenMemory));
        Assert.Equal(redis.Store.ComputeDigest(), restored.ComputeDigest());
        Assert.Equal(redis.Store.UsedMemory, restored.UsedMemory);
        Assert.Equal(restored.ComputeUsedMemory(), restored.UsedMemory);

        var release = new CommandBatch { Timestamp = T0 + 800, Commands = [Redis.Parse("LOCK.RELEASE", "res", "a").Write!] };
        var original = redis.Store.Apply(release, 50);
        Assert.Equal(original, restored.Apply(release, 50));
        Assert.Equal(redis.Store.TakeLockNotices().Select(n => (Text(n.Token), n.Fencing)), restored.TakeLockNotices().Select(n => (Text(n.Token), n.Fencing)));
        Assert.Equal(redis.Store.ComputeDigest(), restored.ComputeDigest());
    }

    [Fact]
    public void A_digest_sees_the_queue()
    {
        var one = new Redis();
        var other = new Redis();
        foreach (var redis in new[] { one, other })
        {
            redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000");
        }

        one.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000");
        other.Exec(T0, "LOCK.ACQUIRE", "res", "c", "10000", "WAIT", "5000");
        Assert.NotEqual(one.Store.ComputeDigest(), other.Store.ComputeDigest());
    }

    [Fact]
    public void Used_memory_follows_the_lock_table()
    {
        var redis = new Redis();
        var before = redis.Store.UsedMemory;
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "a", "10000", "OWNER", "owner");
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "b", "10000", "WAIT", "5000");
        redis.Exec(T0, "SEMAPHORE.ACQUIRE", "pool", "2", "s", "10000");
        Assert.Equal(redis.Store.ComputeUsedMemory(), redis.Store.UsedMemory);
        redis.Exec(T0 + 1, "LOCK.RELEASE", "res", "a");
        redis.Exec(T0 + 1, "LOCK.RELEASE", "res", "b");
        redis.Exec(T0 + 1, "SEMAPHORE.RELEASE", "pool", "s");
        Assert.Equal(redis.Store.ComputeUsedMemory(), redis.Store.UsedMemory);
        Assert.Equal(before, redis.Store.UsedMemory);
        Assert.Equal(0, redis.Store.Keyspace.Locks.Count);
    }
}
