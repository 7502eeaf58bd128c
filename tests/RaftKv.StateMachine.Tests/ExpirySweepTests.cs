using System.Globalization;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Expired keys are reclaimed by a sweep driven by cluster time, with bounded work per log entry; until then they
/// are invisible to every command.
/// </summary>
public sealed class ExpirySweepTests
{
    private const long T = 1_700_000_000_000;

    // Mirrors KeyValueStore's budget: a floor per entry plus a share per command.
    private const int SweepFloorPerEntry = 32;
    private const int SweepPerCommand = 2;

    private static int Budget(int commands) => SweepFloorPerEntry + (SweepPerCommand * commands);

    private static WriteCommand Write(params string[] argv) => Redis.Parse(argv).Write!;

    private static string Key(int i) => "k" + i.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void Ten_thousand_expired_keys_are_reclaimed_over_successive_batches_within_the_budget()
    {
        const int shortLived = 10_000;
        var store = new KeyValueStore();
        for (var start = 0; start < shortLived; start += 500)
        {
            var commands = Enumerable.Range(start, 500).Select(i => Write("SET", Key(i), "v", "PX", "10")).ToArray();
            store.Apply(new CommandBatch { Timestamp = T, Commands = commands });
        }

        store.Apply(new CommandBatch
        {
            Timestamp = T,
            Commands = [Write("SET", "live", "v"), Write("SET", "later", "v", "PX", "1000000")],
        });
        Assert.Equal(shortLived + 2, store.Keyspace.Count);

        // Batches of varying size (DELs of a missing key change nothing but the budget), after everything expired.
        var now = T + 10;
        var batches = 0;
        while (store.Keyspace.Count > 2)
        {
            var size = batches % 4;
            var commands = Enumerable.Range(0, size).Select(_ => Write("DEL", "missing")).ToArray();
            var before = store.Keyspace.Count;

            store.Apply(new CommandBatch { Timestamp = now++, Commands = commands });

            var reclaimed = before - store.Keyspace.Count;
            Assert.True(reclaimed <= Budget(size), $"batch {batches} of {size} commands reclaimed {reclaimed}");
            Assert.Equal(Math.Min(Budget(size), before - 2), reclaimed);
            batches++;
        }

        Assert.True(batches > shortLived / Budget(3), $"only {batches} batches");
        Assert.Equal(shortLived, store.ExpiredKeysReclaimed);
        Assert.Equal(1, store.Keyspace.ExpiringCount);
        Assert.Equal(Bulk("v"), store.Read(Redis.Parse("GET", "live").Read!, now));
        Assert.Equal(Bulk("v"), store.Read(Redis.Parse("GET", "later").Read!, now));
    }

    [Fact]
    public void The_sweep_reclaims_nothing_before_expiry()
    {
        var redis = new Redis();
        for (var i = 0; i < 100; i++)
            redis.Exec(T, "SET", Key(i), "v", "PX", "100");

        redis.Exec(T + 99, "DEL", "missing");

        Assert.Equal(100, redis.Store.Keyspace.Count);
        Assert.Equal(0, redis.Store.ExpiredKeysReclaimed);
    }

    [Fact]
    public void The_sweep_takes_the_soonest_expiry_first_and_stops_at_keys_not_yet_due()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "third", "v", "PX", "30");
        redis.Exec(T, "SET", "first", "v", "PX", "10");
        redis.Exec(T, "SET", "second", "v", "PX", "20");
        redis.Exec(T, "SET", "forever", "v");

        redis.Exec(T + 25, "DEL", "missing");

        Assert.Null(redis.StoredEntry("first"));
        Assert.Null(redis.StoredEntry("second"));
        Assert.NotNull(redis.StoredEntry("third"));
        Assert.NotNull(redis.StoredEntry("forever"));
        Assert.Equal(2, redis.Store.ExpiredKeysReclaimed);
    }

    [Fact]
    public void A_key_rewritten_with_a_later_ttl_is_not_swept_at_its_old_expiry()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "k", "v1", "PX", "10");
        redis.Exec(T + 5, "SET", "k", "v2", "PX", "100");

        redis.Exec(T + 50, "DEL", "missing");

        Assert.Equal(Bulk("v2"), redis.Exec(T + 50, "GET", "k"));
        Assert.Equal(1, redis.Store.Keyspace.ExpiringCount);
        Assert.Equal(0, redis.Store.ExpiredKeysReclaimed);
    }

    [Fact]
    public void A_key_whose_ttl_was_removed_is_never_swept()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "k", "v1", "PX", "10");
        redis.Exec(T + 5, "SET", "k", "v2");

        redis.Exec(T + 50, "DEL", "missing");

        Assert.Equal(Bulk("v2"), redis.Exec(T + 50, "GET", "k"));
        Assert.Equal(0, redis.Store.Keyspace.ExpiringCount);
    }

    // More keys expire before "target" than a few single-command batches may sweep, so "target" is still stored
    // (expired) when the command under test runs.
    private static Redis WithUnsweptExpiredTarget(out long now)
    {
        var redis = new Redis();
        redis.AddSweepFillers(T, expireAt: T + 10);
        redis.Exec(T, "SET", "target", "old", "PX", "20");
        now = T + 100;
        return redis;
    }

    [Fact]
    public void An_expired_but_unswept_key_is_invisible_to_get()
    {
        var redis = WithUnsweptExpiredTarget(out var now);

        Assert.Equal(Nil, redis.Exec(now, "GET", "target"));
        Assert.NotNull(redis.StoredEntry("target"));
    }

    [Fact]
    public void An_expired_but_unswept_key_counts_zero_in_del_and_is_removed()
    {
        var redis = WithUnsweptExpiredTarget(out var now);

        Assert.Equal(Int(0), redis.Exec(now, "DEL", "target"));
        Assert.Null(redis.StoredEntry("target"));
    }

    [Fact]
    public void An_expired_but_unswept_key_lets_set_nx_succeed()
    {
        var redis = WithUnsweptExpiredTarget(out var now);

        Assert.Equal(Ok, redis.Exec(now, "SET", "target", "new", "NX", "PX", "50"));
        Assert.Equal(Bulk("new"), redis.Exec(now, "GET", "target"));
        Assert.Equal(now + 50, redis.ExpireAtOf("target"));
    }

    [Fact]
    public void An_expired_but_unswept_key_makes_set_xx_fail()
    {
        var redis = WithUnsweptExpiredTarget(out var now);

        Assert.Equal(Nil, redis.Exec(now, "SET", "target", "new", "XX"));
        Assert.Equal(Nil, redis.Exec(now, "GET", "target"));
    }

    [Fact]
    public void An_expired_but_unswept_key_gives_set_get_nil_and_keepttl_no_ttl()
    {
        var redis = WithUnsweptExpiredTarget(out var now);

        Assert.Equal(Nil, redis.Exec(now, "SET", "target", "new", "GET", "KEEPTTL"));
        Assert.Equal(ClusterTime.NoExpiry, redis.ExpireAtOf("target"));
    }

    [Fact]
    public void An_expired_but_unswept_key_overwritten_is_not_swept_later()
    {
        var redis = WithUnsweptExpiredTarget(out var now);
        redis.Exec(now, "SET", "target", "new");

        for (var i = 0; i < 20; i++)
            redis.Exec(now + i, "DEL", "missing");

        Assert.Equal(1, redis.Store.Keyspace.Count);
        Assert.Equal(Bulk("new"), redis.Exec(now + 20, "GET", "target"));
    }
}
