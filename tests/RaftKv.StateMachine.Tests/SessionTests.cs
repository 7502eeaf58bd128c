using System.Buffers;
using System.Reflection;
using MessagePack;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>Sessions: each numbered write applies once, a retry gets the remembered reply, expiry follows cluster time.</summary>
public sealed class SessionTests
{
    private const long T0 = 1_700_000_000_000;

    private static long Open(Redis redis, long now, long ttl = 10_000)
    {
        var reply = redis.Exec(now, "SESSION.OPEN", ttl.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ReplyKind.Integer, reply.Kind);
        return reply.Integer;
    }

    private static Reply Exec(Redis redis, long now, long session, long seq, long ack, params string[] command)
        => redis.Exec(now, ["SESSION.EXEC", session.ToString(System.Globalization.CultureInfo.InvariantCulture), seq.ToString(System.Globalization.CultureInfo.InvariantCulture), ack.ToString(System.Globalization.CultureInfo.InvariantCulture), .. command]);

    [Fact]
    public void A_session_id_is_the_log_position_of_its_open()
    {
        var redis = new Redis();
        redis.Exec(T0, "SET", "a", "1");
        var expected = CommandContext.ToLogPosition(redis.NextLogIndex, 0);
        Assert.Equal(expected, Open(redis, T0));
    }

    [Fact]
    public void A_retried_write_is_answered_from_the_session_and_not_applied_again()
    {
        var redis = new Redis();
        var session = Open(redis, T0);

        Assert.Equal(Reply.Ok, Exec(redis, T0, session, 1, 1, "SET", "lock", "me", "NX", "PX", "5000"));
        // The reply was lost; the retry of the same number gets the same answer, not the nil a second SET NX would give.
        Assert.Equal(Reply.Ok, Exec(redis, T0 + 10, session, 1, 1, "SET", "lock", "me", "NX", "PX", "5000"));
        Assert.Equal(Reply.NullBulk, Exec(redis, T0 + 20, session, 2, 1, "SET", "lock", "me", "NX", "PX", "5000"));

        Assert.Equal(Reply.FromInteger(1), Exec(redis, T0, session, 3, 3, "INCR", "n"));
        Assert.Equal(Reply.FromInteger(1), Exec(redis, T0, session, 3, 3, "INCR", "n"));
        Assert.Equal(Reply.FromBulk("1"), redis.Exec(T0, "GET", "n"));
    }

    [Fact]
    public void Acknowledged_replies_are_forgotten_and_their_numbers_refused()
    {
        var redis = new Redis();
        var session = Open(redis, T0);
        Exec(redis, T0, session, 1, 1, "INCR", "n");
        Exec(redis, T0, session, 2, 1, "INCR", "n");
        Assert.Equal(2, redis.Store.Sessions.All.Single().Replies.Count);

        Exec(redis, T0, session, 3, 3, "INCR", "n");
        Assert.Equal([3L], redis.Store.Sessions.All.Single().Replies.Keys);
        Assert.Equal("ERR SESSION sequence number already acknowledged", Exec(redis, T0, session, 1, 3, "INCR", "n").Text);
        Assert.Equal(Reply.FromBulk("3"), redis.Exec(T0, "GET", "n"));
    }

    [Fact]
    public void Pipelined_writes_keep_every_unacknowledged_reply()
    {
        var redis = new Redis();
        var session = Open(redis, T0);
        for (var seq = 1; seq <= 5; seq++)
            Exec(redis, T0, session, seq, 1, "INCR", "n");

        // Replies 2 and 4 were lost: both retries are answered from the session.
        Assert.Equal(Reply.FromInteger(2), Exec(redis, T0, session, 2, 2, "INCR", "n"));
        Assert.Equal(Reply.FromInteger(4), Exec(redis, T0, session, 4, 2, "INCR", "n"));
        Assert.Equal(Reply.FromBulk("5"), redis.Exec(T0, "GET", "n"));
    }

    [Fact]
    public void A_session_expires_after_its_ttl_of_cluster_time_unless_kept_alive()
    {
        var redis = new Redis();
        var session = Open(redis, T0, ttl: 1_000);
        Assert.Equal(Reply.Ok, redis.Exec(T0 + 900, "SESSION.KEEPALIVE", session.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(Reply.Ok, Exec(redis, T0 + 1_800, session, 1, 1, "SET", "k", "v"));

        var expired = Exec(redis, T0 + 2_800, session, 2, 1, "SET", "k", "w");
        Assert.Equal("NOSESSION Unknown or expired session", expired.Text);
        Assert.Equal(Reply.FromBulk("v"), redis.Exec(T0 + 2_800, "GET", "k"));

        // The sweep reclaims it with the next entries.
        redis.Exec(T0 + 2_900, "SET", "x", "1");
        Assert.Equal(0, redis.Store.Sessions.Count);
    }

    [Fact]
    public void Closing_a_session_forgets_it()
    {
        var redis = new Redis();
        var session = Open(redis, T0);
        var id = session.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0, "SESSION.CLOSE", id));
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0, "SESSION.CLOSE", id));
        Assert.Equal("NOSESSION Unknown or expired session", redis.Exec(T0, "SESSION.KEEPALIVE", id).Text);
    }

    [Fact]
    public void A_session_refuses_writes_beyond_its_unacknowledged_limit()
    {
        var redis = new Redis();
        var session = Open(redis, T0);
        for (var seq = 1; seq <= Sessions.SessionTable.MaxUnacknowledged; seq++)
            Exec(redis, T0, session, seq, 1, "INCR", "n");

        Assert.StartsWith("ERR SESSION too many unacknowledged writes", Exec(redis, T0, session, 5_000, 1, "INCR", "n").Text);
        Assert.Equal(Reply.FromBulk("4096"), redis.Exec(T0, "GET", "n"));
        Assert.Equal(Reply.FromInteger(4097), Exec(redis, T0, session, 5_000, 4_097, "INCR", "n"));
    }

    [Theory]
    [InlineData("SESSION.OPEN", "999")]
    [InlineData("SESSION.OPEN", "86400001")]
    [InlineData("SESSION.OPEN", "x")]
    [InlineData("SESSION.EXEC", "0", "1", "1", "GET", "k")]
    [InlineData("SESSION.EXEC", "1", "0", "1", "GET", "k")]
    [InlineData("SESSION.EXEC", "1", "1", "1", "PING")]
    [InlineData("SESSION.EXEC", "1", "1", "1", "session.exec", "1", "1", "1", "GET", "k")]
    [InlineData("SESSION.EXEC", "1", "1", "1", "SET", "k")]
    [InlineData("SESSION.KEEPALIVE", "-3")]
    public void Bad_session_requests_are_refused_before_the_log(params string[] argv)
    {
        var parsed = Redis.Parse(argv);
        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
    }

    [Fact]
    public void A_wrapped_read_is_simply_a_read()
    {
        var parsed = Redis.Parse(["SESSION.EXEC", "7", "1", "1", "GET", "k"]);
        Assert.Equal(ParseOutcome.Read, parsed.Outcome);
    }

    [Fact]
    public void Sessions_survive_a_snapshot_and_count_in_the_digest()
    {
        var redis = new Redis();
        var session = Open(redis, T0);
        Exec(redis, T0, session, 1, 1, "SET", "k", "v", "GET");
        Exec(redis, T0, session, 2, 1, "INCRBYFLOAT", "f", "1.5");
        var before = redis.Store.ComputeDigest();

        var buffer = new ArrayBufferWriter<byte>();
        redis.Store.WriteSnapshot(buffer);
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory));
        Assert.Equal(before, restored.ComputeDigest());

        // The restored replica answers the retry exactly as the original would.
        var retry = SessionExecCommand(session, 2, "INCRBYFLOAT", "f", "1.5");
        Assert.Equal(Reply.FromBulk("1.5"), restored.Apply(new CommandBatch { Timestamp = T0, Commands = [retry] }, 99).Single());

        // A session's remembered reply changes the digest.
        Exec(redis, T0, session, 3, 1, "DEL", "nothing");
        Assert.NotEqual(before, redis.Store.ComputeDigest());
    }

    [Fact]
    public void A_snapshot_without_sessions_from_format_1_still_restores()
    {
        // [1, clusterTime, [[0, [["k", "v", -1 as no-expiry]]]], []]
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(4);
        writer.Write(1);
        writer.Write(T0);
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(2);
        writer.Write(0);
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(3);
        writer.Write("k"u8);
        writer.Write("v"u8);
        writer.Write(ClusterTime.NoExpiry);
        writer.WriteArrayHeader(0);
        writer.Flush();

        var store = new KeyValueStore();
        store.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory));
        Assert.Equal(1, store.Keyspace.Count);
        Assert.Equal(0, store.Sessions.Count);
    }

    [Fact]
    public void Session_and_lock_union_tags_are_pinned()
    {
        var tags = typeof(WriteCommand).GetCustomAttributes<UnionAttribute>().ToDictionary(static u => u.Key, static u => u.SubType);
        Assert.Equal(typeof(SessionOpenCommand), tags[80]);
        Assert.Equal(typeof(SessionExecCommand), tags[81]);
        Assert.Equal(typeof(SessionKeepAliveCommand), tags[82]);
        Assert.Equal(typeof(SessionCloseCommand), tags[83]);
        Assert.Equal(typeof(LockAcquireCommand), tags[84]);
        Assert.Equal(typeof(LockExtendCommand), tags[85]);
        Assert.Equal(typeof(LockReleaseCommand), tags[86]);
    }

    [Fact]
    public void A_session_write_round_trips_through_the_log_encoding()
    {
        var batch = new CommandBatch { Timestamp = T0, Commands = [SessionExecCommand(42, 7, "SET", "k", "v", "NX")] };
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch);
        var decoded = (SessionExecCommand)KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(buffer.WrittenMemory)).Commands.Single();
        Assert.Equal((42L, 7L), (decoded.Session, decoded.Sequence));
        Assert.IsType<SetCommand>(decoded.Command);
    }

    private static WriteCommand SessionExecCommand(long session, long seq, params string[] command)
        => Redis.Parse(["SESSION.EXEC", session.ToString(System.Globalization.CultureInfo.InvariantCulture), seq.ToString(System.Globalization.CultureInfo.InvariantCulture), "1", .. command]).Write!;
}
