using System.Globalization;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>SET as Redis 7.0 does it (seeds/SET.txt plus the options Redis added since).</summary>
public sealed class SetCommandTests
{
    // A whole second, so EXAT arithmetic stays readable.
    private const long T = 1_700_000_000_000;
    private const long TSeconds = T / 1000;

    private readonly Redis redis = new();

    private static string S(long value) => value.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void Set_replies_ok_and_get_returns_the_value()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "mykey", "Hello"));
        Assert.Equal(Bulk("Hello"), redis.Exec(T, "GET", "mykey"));
        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("mykey"));
    }

    [Fact]
    public void Set_overwrites_an_existing_value()
    {
        redis.Exec(T, "SET", "k", "old");

        Assert.Equal(Ok, redis.Exec(T + 1, "SET", "k", "new"));
        Assert.Equal(Bulk("new"), redis.Exec(T + 1, "GET", "k"));
        Assert.Equal(1, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void Plain_set_discards_a_previous_ttl()
    {
        redis.Exec(T, "SET", "k", "v1", "PX", "100");

        Assert.Equal(Ok, redis.Exec(T + 10, "SET", "k", "v2"));

        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("k"));
        Assert.Equal(0, redis.Store.Keyspace.ExpiringCount);
        Assert.Equal(Bulk("v2"), redis.Exec(T + 1_000_000, "GET", "k"));
    }

    [Fact]
    public void Set_nx_on_a_missing_key_sets_it()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "NX"));
        Assert.Equal(Bulk("v"), redis.Exec(T, "GET", "k"));
    }

    [Fact]
    public void Set_nx_on_a_present_key_replies_nil_and_keeps_value_and_ttl()
    {
        redis.Exec(T, "SET", "k", "owner", "PX", "500");

        Assert.Equal(Nil, redis.Exec(T + 1, "SET", "k", "intruder", "NX"));

        Assert.Equal(Bulk("owner"), redis.Exec(T + 1, "GET", "k"));
        Assert.Equal(T + 500, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Set_nx_on_an_expired_key_succeeds()
    {
        redis.Exec(T, "SET", "lock", "a", "NX", "PX", "100");

        Assert.Equal(Ok, redis.Exec(T + 100, "SET", "lock", "b", "NX", "PX", "100"));

        Assert.Equal(Bulk("b"), redis.Exec(T + 100, "GET", "lock"));
        Assert.Equal(T + 200, redis.ExpireAtOf("lock"));
    }

    [Fact]
    public void Set_nx_one_millisecond_before_expiry_fails()
    {
        redis.Exec(T, "SET", "lock", "a", "NX", "PX", "100");

        Assert.Equal(Nil, redis.Exec(T + 99, "SET", "lock", "b", "NX", "PX", "100"));
        Assert.Equal(Bulk("a"), redis.Exec(T + 99, "GET", "lock"));
    }

    [Fact]
    public void Set_xx_on_a_missing_key_replies_nil_and_creates_nothing()
    {
        Assert.Equal(Nil, redis.Exec(T, "SET", "k", "v", "XX"));

        Assert.Equal(Nil, redis.Exec(T, "GET", "k"));
        Assert.Equal(0, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void Set_xx_on_a_present_key_sets_it()
    {
        redis.Exec(T, "SET", "k", "old", "EX", "10");

        Assert.Equal(Ok, redis.Exec(T + 1, "SET", "k", "new", "XX"));

        Assert.Equal(Bulk("new"), redis.Exec(T + 1, "GET", "k"));
        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Set_xx_on_an_expired_key_replies_nil()
    {
        redis.Exec(T, "SET", "k", "old", "PX", "10");

        Assert.Equal(Nil, redis.Exec(T + 10, "SET", "k", "new", "XX"));
        Assert.Equal(Nil, redis.Exec(T + 10, "GET", "k"));
    }

    [Fact]
    public void Repeating_nx_is_allowed()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "NX", "NX"));
        Assert.Equal(Nil, redis.Exec(T, "SET", "k", "v", "NX", "NX"));
    }

    [Fact]
    public void Set_get_returns_the_old_value_and_sets()
    {
        redis.Exec(T, "SET", "k", "old");

        Assert.Equal(Bulk("old"), redis.Exec(T, "SET", "k", "new", "GET"));
        Assert.Equal(Bulk("new"), redis.Exec(T, "GET", "k"));
    }

    [Fact]
    public void Set_get_on_a_missing_key_returns_nil_and_sets()
    {
        Assert.Equal(Nil, redis.Exec(T, "SET", "k", "new", "GET"));
        Assert.Equal(Bulk("new"), redis.Exec(T, "GET", "k"));
    }

    [Fact]
    public void Set_get_on_an_expired_key_returns_nil()
    {
        redis.Exec(T, "SET", "k", "old", "PX", "5");

        Assert.Equal(Nil, redis.Exec(T + 5, "SET", "k", "new", "GET"));
        Assert.Equal(Bulk("new"), redis.Exec(T + 5, "GET", "k"));
    }

    [Fact]
    public void Set_nx_get_on_a_present_key_returns_the_old_value_without_setting()
    {
        redis.Exec(T, "SET", "k", "old");

        Assert.Equal(Bulk("old"), redis.Exec(T, "SET", "k", "new", "NX", "GET"));
        Assert.Equal(Bulk("old"), redis.Exec(T, "GET", "k"));
    }

    [Fact]
    public void Set_nx_get_on_a_missing_key_returns_nil_and_sets()
    {
        Assert.Equal(Nil, redis.Exec(T, "SET", "k", "new", "GET", "NX"));
        Assert.Equal(Bulk("new"), redis.Exec(T, "GET", "k"));
    }

    [Fact]
    public void Set_xx_get_on_a_missing_key_returns_nil_without_setting()
    {
        Assert.Equal(Nil, redis.Exec(T, "SET", "k", "new", "XX", "GET"));
        Assert.Equal(0, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void Set_xx_get_on_a_present_key_returns_the_old_value_and_sets()
    {
        redis.Exec(T, "SET", "k", "old");

        Assert.Equal(Bulk("old"), redis.Exec(T, "SET", "k", "new", "XX", "GET"));
        Assert.Equal(Bulk("new"), redis.Exec(T, "GET", "k"));
    }

    [Fact]
    public void Set_keepttl_keeps_the_existing_expiry()
    {
        redis.Exec(T, "SET", "k", "v1", "PX", "1000");

        Assert.Equal(Ok, redis.Exec(T + 10, "SET", "k", "v2", "KEEPTTL"));

        Assert.Equal(T + 1000, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v2"), redis.Exec(T + 999, "GET", "k"));
        Assert.Equal(Nil, redis.Exec(T + 1000, "GET", "k"));
    }

    [Fact]
    public void Set_keepttl_on_a_key_without_ttl_stays_without_ttl()
    {
        redis.Exec(T, "SET", "k", "v1");

        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v2", "KEEPTTL"));
        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Set_keepttl_on_a_missing_key_sets_without_ttl()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "KEEPTTL"));
        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Set_keepttl_on_an_expired_key_does_not_resurrect_the_old_ttl()
    {
        redis.Exec(T, "SET", "k", "v1", "PX", "10");

        Assert.Equal(Ok, redis.Exec(T + 20, "SET", "k", "v2", "KEEPTTL"));

        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v2"), redis.Exec(T + 20, "GET", "k"));
    }

    [Fact]
    public void Set_ex_expires_relative_to_the_batch_timestamp()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "EX", "10"));

        Assert.Equal(T + 10_000, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v"), redis.Exec(T + 9_999, "GET", "k"));
        Assert.Equal(Nil, redis.Exec(T + 10_000, "GET", "k"));
    }

    [Fact]
    public void Set_px_expires_relative_to_the_batch_timestamp()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "PX", "250"));

        Assert.Equal(T + 250, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v"), redis.Exec(T + 249, "GET", "k"));
        Assert.Equal(Nil, redis.Exec(T + 250, "GET", "k"));
    }

    [Fact]
    public void Set_exat_expires_at_the_absolute_second()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "EXAT", S(TSeconds + 3)));

        Assert.Equal(T + 3_000, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v"), redis.Exec(T + 2_999, "GET", "k"));
        Assert.Equal(Nil, redis.Exec(T + 3_000, "GET", "k"));
    }

    [Fact]
    public void Set_pxat_expires_at_the_absolute_millisecond()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "PXAT", S(T + 42)));

        Assert.Equal(T + 42, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v"), redis.Exec(T + 41, "GET", "k"));
        Assert.Equal(Nil, redis.Exec(T + 42, "GET", "k"));
    }

    [Theory]
    [InlineData("EXAT", TSeconds - 1)]
    [InlineData("EXAT", 1)]
    [InlineData("PXAT", T - 1)]
    [InlineData("PXAT", T)]
    [InlineData("PXAT", 1)]
    public void Set_with_an_absolute_expiry_in_the_past_replies_ok_and_leaves_the_key_absent(string option, long at)
    {
        redis.Exec(T, "SET", "k", "old");

        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "new", option, S(at)));

        Assert.Equal(Nil, redis.Exec(T, "GET", "k"));
        Assert.Null(redis.StoredEntry("k"));
        Assert.Equal(0, redis.Store.Keyspace.ExpiringCount);
    }

    [Fact]
    public void Set_get_with_an_absolute_expiry_in_the_past_returns_the_old_value_and_removes_the_key()
    {
        redis.Exec(T, "SET", "k", "old");

        Assert.Equal(Bulk("old"), redis.Exec(T, "SET", "k", "new", "PXAT", S(T - 1), "GET"));
        Assert.Null(redis.StoredEntry("k"));
    }

    [Fact]
    public void Set_nx_with_an_absolute_expiry_in_the_past_on_a_present_key_replies_nil_and_keeps_it()
    {
        redis.Exec(T, "SET", "k", "old");

        Assert.Equal(Nil, redis.Exec(T, "SET", "k", "new", "NX", "PXAT", S(T - 1)));
        Assert.Equal(Bulk("old"), redis.Exec(T, "GET", "k"));
    }

    [Theory]
    [InlineData("EX", "0")]
    [InlineData("PX", "0")]
    [InlineData("EXAT", "0")]
    [InlineData("PXAT", "0")]
    [InlineData("EX", "-1")]
    [InlineData("PX", "-100")]
    [InlineData("EXAT", "-5")]
    [InlineData("PXAT", "-9223372036854775808")]
    [InlineData("EX", "9223372036854776")] // above long.MaxValue / 1000: the multiplication would overflow
    [InlineData("EXAT", "9223372036854776")]
    [InlineData("EX", "9223372036854775807")]
    public void Set_with_a_non_positive_or_overflowing_expire_time_is_rejected_before_the_log(string option, string value)
    {
        var parsed = Redis.Parse("SET", "k", "v", option, value);

        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
        Assert.Equal(InvalidExpireTime, parsed.Error);
        Assert.Equal(InvalidExpireTime, redis.Exec(T, "SET", "k", "v", option, value));
        Assert.Equal(0, redis.Store.Keyspace.Count);
    }

    [Theory]
    [InlineData("EX", "1.5")]
    [InlineData("EX", "abc")]
    [InlineData("EX", "+5")]
    [InlineData("EX", "05")]
    [InlineData("EX", " 5")]
    [InlineData("EX", "5 ")]
    [InlineData("EX", "")]
    [InlineData("EX", "-0")]
    [InlineData("PX", "1e3")]
    [InlineData("PX", "0x10")]
    [InlineData("PX", "9223372036854775808")]
    [InlineData("PXAT", "99999999999999999999")]
    [InlineData("EXAT", "1700000000.5")]
    public void Set_with_a_non_integer_expire_time_replies_not_an_integer(string option, string value)
    {
        var parsed = Redis.Parse("SET", "k", "v", option, value);

        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
        Assert.Equal(NotAnInteger, parsed.Error);
    }

    [Fact]
    public void Set_ex_at_the_largest_parsable_value_overflows_at_apply_and_changes_nothing()
    {
        // long.MaxValue / 1000 seconds passes the parser, but added to the batch timestamp it overflows.
        redis.Exec(T, "SET", "k", "old", "PX", "500");
        var before = redis.Store.ComputeDigest();

        Assert.Equal(ParseOutcome.Write, Redis.Parse("SET", "k", "v", "EX", "9223372036854775").Outcome);
        Assert.Equal(InvalidExpireTime, redis.Exec(T, "SET", "k", "new", "EX", "9223372036854775"));

        Assert.Equal(before, redis.Store.ComputeDigest());
        Assert.Equal(T + 500, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("old"), redis.Exec(T, "GET", "k"));
    }

    [Theory]
    [InlineData("SET", "k", "new", "PX", "REPLACED")]
    [InlineData("SET", "k", "new", "NX", "GET", "PX", "REPLACED")]
    [InlineData("SET", "k", "new", "XX", "GET", "PX", "REPLACED")]
    [InlineData("SET", "k", "new", "GET", "PX", "REPLACED")]
    public void Set_px_whose_sum_with_the_timestamp_overflows_is_invalid_at_apply_and_changes_nothing(params string[] argv)
    {
        // Redis computes the absolute time (and rejects an overflow) before it looks at the key or the condition.
        argv = [.. argv];
        argv[Array.IndexOf(argv, "REPLACED")] = S(long.MaxValue - T + 1);
        redis.Exec(T, "SET", "k", "old", "PX", "500");
        var before = redis.Store.ComputeDigest();

        Assert.Equal(ParseOutcome.Write, Redis.Parse(argv).Outcome);
        Assert.Equal(InvalidExpireTime, redis.Exec(T, argv));

        Assert.Equal(before, redis.Store.ComputeDigest());
        Assert.Equal(T + 500, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Set_px_that_just_fits_beside_the_timestamp_is_accepted()
    {
        var px = long.MaxValue - T - 1;

        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "PX", S(px)));
        Assert.Equal(long.MaxValue - 1, redis.ExpireAtOf("k"));
    }

    [Theory]
    [InlineData("NX", "XX")]
    [InlineData("XX", "NX")]
    [InlineData("NX", "GET", "XX")]
    [InlineData("EX", "1", "PX", "2")]
    [InlineData("PX", "1", "EX", "2")]
    [InlineData("EX", "1", "EXAT", "2")]
    [InlineData("PXAT", "1", "PX", "2")]
    [InlineData("EXAT", "1", "PXAT", "2")]
    [InlineData("KEEPTTL", "EX", "1")]
    [InlineData("EX", "1", "KEEPTTL")]
    [InlineData("PXAT", "1", "KEEPTTL")]
    [InlineData("EX")]
    [InlineData("PX")]
    [InlineData("NX", "EXAT")]
    [InlineData("FOO")]
    [InlineData("NXX")]
    [InlineData("EX", "1", "2")]
    [InlineData("EX", "abc", "PX", "1")] // the option syntax is checked before any number
    [InlineData("PERSIST")] // GETEX's option, not SET's
    public void Set_with_conflicting_missing_or_unknown_options_is_a_syntax_error(params string[] options)
    {
        var parsed = Redis.Parse(["SET", "k", "v", .. options]);

        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
        Assert.Equal(SyntaxError, parsed.Error);
    }

    [Fact]
    public void Repeated_ex_is_allowed_and_the_last_value_wins()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v", "EX", "1", "EX", "2"));
        Assert.Equal(T + 2_000, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Repeated_keepttl_is_allowed()
    {
        redis.Exec(T, "SET", "k", "v", "PX", "70");

        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v2", "KEEPTTL", "KEEPTTL"));
        Assert.Equal(T + 70, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Options_and_the_command_name_are_case_insensitive()
    {
        Assert.Equal(Nil, redis.Exec(T, "sEt", "k", "v1", "nx", "Get", "pX", "100"));
        Assert.Equal(T + 100, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v1"), redis.Exec(T, "set", "k", "v2", "xX", "gEt", "keepttl"));
        Assert.Equal(T + 100, redis.ExpireAtOf("k"));
        Assert.Equal(Ok, redis.Exec(T, "Set", "k", "v3", "exat", S(TSeconds + 1)));
        Assert.Equal(T + 1_000, redis.ExpireAtOf("k"));
        Assert.Equal(Ok, redis.Exec(T, "SET", "k", "v4", "Ex", "1"));
        Assert.Equal(T + 1_000, redis.ExpireAtOf("k"));
        Assert.Equal(Bulk("v4"), redis.Exec(T, "gEt", "k"));
    }

    [Fact]
    public void Options_may_come_in_any_order()
    {
        Assert.Equal(Nil, redis.Exec(T, "SET", "k", "v", "PX", "100", "GET", "NX"));
        Assert.Equal(T + 100, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void Option_words_are_not_options_in_key_or_value_position()
    {
        Assert.Equal(Ok, redis.Exec(T, "SET", "NX", "XX"));
        Assert.Equal(Bulk("XX"), redis.Exec(T, "GET", "NX"));
    }

    [Theory]
    [InlineData("SET")]
    [InlineData("SET", "k")]
    [InlineData("set", "k")]
    public void Set_with_too_few_arguments_is_a_wrong_arity_error(params string[] argv)
    {
        var parsed = Redis.Parse(argv);

        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
        Assert.Equal(WrongArity("set"), parsed.Error);
    }

    [Fact]
    public void A_parsed_set_carries_milliseconds_for_ex_and_exat()
    {
        var relative = Assert.IsType<SetCommand>(Redis.Parse("SET", "k", "v", "EX", "3").Write);
        var absolute = Assert.IsType<SetCommand>(Redis.Parse("SET", "k", "v", "EXAT", "5").Write);

        Assert.Equal((SetExpiry.RelativeMilliseconds, 3_000L), (relative.Expiry, relative.ExpiryValue));
        Assert.Equal((SetExpiry.AbsoluteMilliseconds, 5_000L), (absolute.Expiry, absolute.ExpiryValue));
    }
}
