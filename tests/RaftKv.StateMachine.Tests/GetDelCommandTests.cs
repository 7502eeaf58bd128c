using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

public sealed class GetDelCommandTests
{
    private const long T = 1_700_000_000_000;

    private readonly Redis redis = new();

    [Fact]
    public void Get_on_a_missing_key_is_nil()
    {
        Assert.Equal(Nil, redis.Exec(T, "GET", "nope"));
    }

    [Fact]
    public void Get_is_a_read_and_set_and_del_are_writes()
    {
        Assert.Equal(ParseOutcome.Read, Redis.Parse("GET", "k").Outcome);
        Assert.Equal(ParseOutcome.Write, Redis.Parse("SET", "k", "v").Outcome);
        Assert.Equal(ParseOutcome.Write, Redis.Parse("DEL", "k").Outcome);
    }

    [Theory]
    [InlineData("PING")]
    [InlineData("GETX", "k")]
    [InlineData("SE", "k", "v")]
    [InlineData("")]
    public void Commands_the_state_machine_does_not_know_are_unknown(params string[] argv)
    {
        Assert.Equal(ParseOutcome.Unknown, Redis.Parse(argv).Outcome);
    }

    [Fact]
    public void An_empty_request_is_unknown()
    {
        Assert.Equal(ParseOutcome.Unknown, CommandParser.Parse([]).Outcome);
    }

    [Theory]
    [InlineData("get", "GET")]
    [InlineData("get", "GET", "a", "b")]
    [InlineData("del", "DEL")]
    [InlineData("del", "dEl")]
    public void Wrong_arity_is_answered_with_the_lowercase_command_name(string name, params string[] argv)
    {
        var parsed = Redis.Parse(argv);

        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
        Assert.Equal(WrongArity(name), parsed.Error);
    }

    [Fact]
    public void Del_of_a_missing_key_is_zero()
    {
        Assert.Equal(Int(0), redis.Exec(T, "DEL", "nope"));
    }

    [Fact]
    public void Del_removes_the_key_and_counts_it()
    {
        redis.Exec(T, "SET", "k", "v", "PX", "100");

        Assert.Equal(Int(1), redis.Exec(T, "DEL", "k"));

        Assert.Equal(Nil, redis.Exec(T, "GET", "k"));
        Assert.Equal(0, redis.Store.Keyspace.Count);
        Assert.Equal(0, redis.Store.Keyspace.ExpiringCount);
    }

    [Fact]
    public void Del_counts_only_the_keys_that_existed()
    {
        redis.Exec(T, "SET", "a", "1");
        redis.Exec(T, "SET", "b", "2");
        redis.Exec(T, "SET", "c", "3");

        Assert.Equal(Int(2), redis.Exec(T, "DEL", "a", "missing", "c"));

        Assert.Equal(Nil, redis.Exec(T, "GET", "a"));
        Assert.Equal(Bulk("2"), redis.Exec(T, "GET", "b"));
        Assert.Equal(Nil, redis.Exec(T, "GET", "c"));
    }

    [Fact]
    public void Del_with_a_key_repeated_counts_it_once()
    {
        redis.Exec(T, "SET", "a", "1");

        Assert.Equal(Int(1), redis.Exec(T, "DEL", "a", "a", "a"));
    }

    [Fact]
    public void Del_of_an_expired_key_counts_zero_and_still_reclaims_it()
    {
        redis.Exec(T, "SET", "gone", "v", "PX", "10");
        redis.Exec(T, "SET", "live", "v");

        Assert.Equal(Int(1), redis.Exec(T + 10, "DEL", "gone", "live"));
        Assert.Equal(0, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void Set_after_del_starts_without_the_old_ttl()
    {
        redis.Exec(T, "SET", "k", "v", "PX", "100");
        redis.Exec(T, "DEL", "k");

        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v2", "KEEPTTL"));
        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void A_write_reply_array_has_one_reply_per_command_in_order()
    {
        var batch = new CommandBatch
        {
            Timestamp = T,
            Commands =
            [
                Redis.Parse("SET", "k", "1").Write!,
                Redis.Parse("SET", "k", "2", "GET").Write!,
                Redis.Parse("SET", "k", "3", "NX").Write!,
                Redis.Parse("DEL", "k", "k").Write!,
                Redis.Parse("DEL", "k").Write!,
            ],
        };

        var replies = redis.Store.Apply(batch);

        Reply[] expected = [Ok, Bulk("1"), Nil, Int(1), Int(0)];
        Assert.Equal(expected, replies);
        Assert.Equal(T, redis.Store.ClusterTime);
    }

    [Fact]
    public void Binary_keys_and_values_hold_every_byte()
    {
        var key = Enumerable.Range(0, 256).Select(static b => (byte)b).ToArray();
        var value = key.Reverse().ToArray();

        Assert.Equal(Ok, redis.Exec(T, "SET"u8.ToArray(), key, value));

        Assert.Equal(Bulk(value), redis.Exec(T, "GET"u8.ToArray(), key));
        Assert.Equal(Nil, redis.Exec(T, "GET"u8.ToArray(), key[..255]));
        Assert.Equal(Int(1), redis.Exec(T, "DEL"u8.ToArray(), key));
    }

    [Fact]
    public void Keys_that_differ_only_after_a_zero_byte_are_distinct()
    {
        redis.Exec(T, Redis.Args("SET", "a", "plain"));
        redis.Exec(T, "SET"u8.ToArray(), [(byte)'a', 0], "nul"u8.ToArray());

        Assert.Equal(Bulk("plain"), redis.Exec(T, "GET", "a"));
        Assert.Equal(Bulk("nul"), redis.Exec(T, "GET"u8.ToArray(), [(byte)'a', 0]));
        Assert.Equal(2, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void Keys_are_case_sensitive()
    {
        redis.Exec(T, "SET", "Key", "upper");

        Assert.Equal(Nil, redis.Exec(T, "GET", "key"));
        Assert.Equal(Bulk("upper"), redis.Exec(T, "GET", "Key"));
    }

    [Fact]
    public void An_empty_key_and_an_empty_value_are_ordinary()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "", ""));

        // An empty string is a value, not a missing key.
        Assert.Equal(Bulk(""), redis.Exec(T, "GET", ""));
        Assert.NotEqual(Nil, redis.Exec(T, "GET", ""));
        Assert.Equal(Nil, redis.Exec(T, "SET", "", "x", "NX"));
        Assert.Equal(Int(1), redis.Exec(T, "DEL", ""));
        Assert.Equal(Nil, redis.Exec(T, "GET", ""));
    }

    [Fact]
    public void A_stored_value_does_not_alias_the_request_buffer()
    {
        // The node parses out of its receive buffer and reuses that buffer for the next request.
        var buffer = "SETkeyvalue"u8.ToArray();
        ReadOnlyMemory<byte>[] argv = [buffer.AsMemory(0, 3), buffer.AsMemory(3, 3), buffer.AsMemory(6, 5)];
        var parsed = CommandParser.Parse(argv);
        redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [parsed.Write!] });

        buffer.AsSpan().Fill((byte)'X');

        Assert.Equal(Bulk("value"), redis.Exec(T, "GET", "key"));
    }
}
