using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Reads judge expiry at max(serving node's clock, last applied cluster time); writes at the batch's cluster time.
/// </summary>
public sealed class ReadExpiryTests
{
    private readonly Redis redis = new();

    [Fact]
    public void A_read_judges_expiry_by_the_local_clock_when_it_is_ahead()
    {
        redis.Exec(1000, "SET", "k", "v", "PX", "100");

        Assert.Equal(Bulk("v"), redis.Read(1050, "GET", "k"));
        Assert.Equal(Bulk("v"), redis.Read(1099, "GET", "k"));
        Assert.Equal(Nil, redis.Read(1100, "GET", "k"));
        Assert.Equal(Nil, redis.Read(5000, "GET", "k"));
    }

    [Fact]
    public void A_read_on_a_node_whose_clock_lags_judges_expiry_by_cluster_time()
    {
        redis.AddSweepFillers(1000, expireAt: 1001);
        redis.Exec(1000, "SET", "k", "v", "PX", "100");
        redis.Exec(1100, "SET", "other", "x");

        Assert.Equal(1100, redis.Store.ClusterTime);
        Assert.NotNull(redis.StoredEntry("k")); // expired but not yet swept: the read itself must judge it
        Assert.Equal(Nil, redis.Read(0, "GET", "k"));
        Assert.Equal(Nil, redis.Read(1099, "GET", "k"));
    }

    [Fact]
    public void A_read_on_a_node_whose_clock_lags_still_sees_a_key_cluster_time_has_not_expired()
    {
        redis.Exec(1000, "SET", "k", "v", "PX", "100");
        redis.Exec(1099, "SET", "other", "x");

        Assert.Equal(Bulk("v"), redis.Read(0, "GET", "k"));
    }

    [Fact]
    public void Reads_never_remove_anything()
    {
        redis.AddSweepFillers(1000, expireAt: 1001);
        redis.Exec(1000, "SET", "k", "v", "PX", "100");
        var before = redis.Store.ComputeDigest();

        Assert.Equal(Nil, redis.Read(2000, "GET", "k"));

        Assert.Equal(before, redis.Store.ComputeDigest());
        Assert.NotNull(redis.StoredEntry("k"));
    }

    [Fact]
    public void Cluster_time_is_the_timestamp_of_the_last_batch()
    {
        Assert.Equal(0, redis.Store.ClusterTime);

        redis.Store.Apply(new CommandBatch { Timestamp = 1234 });

        Assert.Equal(1234, redis.Store.ClusterTime);
    }

    [Fact]
    public void A_batch_stamped_before_cluster_time_applies_at_cluster_time()
    {
        redis.Exec(2000, "SET", "a", "v");

        // Defensive: a leader never stamps backwards, but if one did, TTLs still count from cluster time.
        Assert.Equal(Ok, redis.Exec(1000, "SET", "k", "v", "PX", "10"));

        Assert.Equal(2000, redis.Store.ClusterTime);
        Assert.Equal(2010, redis.ExpireAtOf("k"));
    }

    [Fact]
    public void A_batch_stamped_before_cluster_time_judges_nx_at_cluster_time()
    {
        redis.Exec(1000, "SET", "lock", "a", "PX", "100");
        redis.Exec(1100, "SET", "other", "x");

        Assert.Equal(Ok, redis.Exec(1050, "SET", "lock", "b", "NX"));
    }

    [Theory]
    [InlineData(100, 50, 100)]
    [InlineData(50, 100, 100)]
    [InlineData(70, 70, 70)]
    public void The_next_stamp_never_goes_backwards(long localClock, long lastStamp, long expected)
    {
        Assert.Equal(expected, ClusterTime.NextStamp(localClock, lastStamp));
    }
}
