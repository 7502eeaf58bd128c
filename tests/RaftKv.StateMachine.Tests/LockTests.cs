using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests;

/// <summary>LOCK.ACQUIRE/EXTEND/RELEASE: the seed's lock semantics, with a fencing token from the log position.</summary>
public sealed class LockTests
{
    private const long T0 = 1_700_000_000_000;

    [Fact]
    public void Acquire_returns_a_fencing_token_and_refuses_another_holder()
    {
        var redis = new Redis();
        var expected = CommandContext.ToLogPosition(redis.NextLogIndex, 0);
        Assert.Equal(Reply.FromInteger(expected), redis.Exec(T0, "LOCK.ACQUIRE", "res", "alice", "10000"));
        Assert.Equal(Reply.NullBulk, redis.Exec(T0 + 1, "LOCK.ACQUIRE", "res", "bob", "10000"));

        // The lock is the plain key SET NX PX would have made.
        Assert.Equal(Reply.FromBulk("alice"), redis.Exec(T0 + 2, "GET", "res"));
        Assert.Equal(Reply.FromInteger(9_998), redis.Exec(T0 + 2, "PTTL", "res"));
    }

    [Fact]
    public void Fencing_tokens_strictly_increase_across_holders_and_renewals()
    {
        var redis = new Redis();
        var tokens = new List<long>
        {
            redis.Exec(T0, "LOCK.ACQUIRE", "res", "alice", "1000").Integer,
            redis.Exec(T0 + 10, "LOCK.ACQUIRE", "res", "alice", "1000").Integer, // the holder renews: a new, larger token
        };
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 20, "LOCK.RELEASE", "res", "alice"));
        tokens.Add(redis.Exec(T0 + 30, "LOCK.ACQUIRE", "res", "bob", "1000").Integer);
        tokens.Add(redis.Exec(T0 + 2_000, "LOCK.ACQUIRE", "res", "carol", "1000").Integer); // bob's lease ran out

        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    [Fact]
    public void Two_acquisitions_in_one_entry_get_different_tokens()
    {
        var store = new KeyValueStore();
        var replies = store.Apply(
            new CommandBatch
            {
                Timestamp = T0,
                Commands = [Redis.Parse("LOCK.ACQUIRE", "a", "x", "1000").Write!, Redis.Parse("LOCK.ACQUIRE", "b", "y", "1000").Write!],
            },
            index: 7);
        Assert.Equal([CommandContext.ToLogPosition(7, 0), CommandContext.ToLogPosition(7, 1)], replies.Select(static r => r.Integer));
        Assert.True(CommandContext.ToLogPosition(7, CommandContext.MaxCommandsPerEntry) < CommandContext.ToLogPosition(8, 0));
    }

    [Fact]
    public void Extend_and_release_compare_the_token()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "alice", "1000");

        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 500, "LOCK.EXTEND", "res", "bob", "5000"));
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 500, "LOCK.EXTEND", "res", "alice", "5000"));
        Assert.Equal(Reply.FromInteger(5_000), redis.Exec(T0 + 500, "PTTL", "res"));

        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 600, "LOCK.RELEASE", "res", "bob"));
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 600, "LOCK.RELEASE", "res", "alice"));
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 600, "LOCK.RELEASE", "res", "alice"));
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 600, "EXISTS", "res"));
    }

    [Fact]
    public void An_expired_lock_can_neither_be_extended_nor_released_and_is_free_to_take()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "alice", "100");

        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 100, "LOCK.EXTEND", "res", "alice", "100"));
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0 + 100, "LOCK.RELEASE", "res", "alice"));
        Assert.Equal(ReplyKind.Integer, redis.Exec(T0 + 100, "LOCK.ACQUIRE", "res", "bob", "100").Kind);
    }

    [Fact]
    public void The_seed_release_script_releases_a_lock_taken_with_lock_acquire()
    {
        var redis = new Redis();
        redis.Exec(T0, "LOCK.ACQUIRE", "res", "alice", "1000");
        const string release = "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";
        Assert.Equal(Reply.FromInteger(1), redis.Exec(T0 + 1, "EVAL", release, "1", "res", "alice"));
    }

    [Theory]
    [InlineData("LOCK.ACQUIRE", "res", "t", "0", "ERR invalid expire time in 'lock.acquire' command")]
    [InlineData("LOCK.ACQUIRE", "res", "t", "-5", "ERR invalid expire time in 'lock.acquire' command")]
    [InlineData("LOCK.ACQUIRE", "res", "t", "ten", "ERR value is not an integer or out of range")]
    [InlineData("LOCK.EXTEND", "res", "t", "0", "ERR invalid expire time in 'lock.extend' command")]
    public void Bad_ttls_are_refused_before_the_log(string command, string key, string token, string ttl, string error)
    {
        var parsed = Redis.Parse(command, key, token, ttl);
        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
        Assert.Equal(error, parsed.Error!.Text);
    }

    [Fact]
    public void Scripts_may_not_take_locks_or_use_sessions()
    {
        var redis = new Redis();
        var reply = redis.Exec(T0, "EVAL", "return redis.call('lock.acquire', KEYS[1], 'me', 1000)", "1", "res");
        Assert.True(reply.IsError);
        Assert.Contains("not allowed from script", reply.Text, StringComparison.Ordinal);
        Assert.Equal(Reply.FromInteger(0), redis.Exec(T0, "EXISTS", "res"));
    }

    [Fact]
    public void Every_reply_kind_round_trips_through_the_reply_encoding()
    {
        Reply[] replies =
        [
            Reply.Ok, Reply.Status("QUEUED"), Reply.Error("ERR x"), Reply.FromInteger(-5), Reply.FromInteger(long.MaxValue),
            Reply.FromBulk([0, 255, 13, 10]), Reply.NullBulk, Reply.NullArray, Reply.EmptyArray,
            Reply.FromArray([Reply.FromInteger(1), Reply.FromArray([Reply.NullBulk, Reply.FromBulk("v")])]),
            Reply.FromMap([Reply.FromBulk("k"), Reply.FromInteger(2)]), Reply.FromVerbatim("text"),
        ];
        foreach (var reply in replies)
            Assert.Equal(reply, ReplySerializer.Deserialize(ReplySerializer.Serialize(reply)));

        Assert.Throws<InvalidDataException>(() => ReplySerializer.Deserialize(new byte[] { 0x92, 0x09, 0x01 }));
        Assert.Throws<InvalidDataException>(() => ReplySerializer.Deserialize(new byte[] { 0x92 }));
    }
}
