using RaftKv.Testing;
using System.Globalization;
using System.Text;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Expiry is decided by cluster time, which the log carries: a key's absolute expiry is fixed when the leader applies
/// the write, survives a change of leader, and every node drops the key at that same cluster time. Dead keys are
/// reclaimed even when no write arrives.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ExpiryFailoverTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Keys_set_with_a_ttl_expire_at_the_same_cluster_time_on_every_node_after_a_failover()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        const int locks = 20;
        var expiries = new long[locks];
        for (var i = 0; i < locks; i++)
            leader = await SetAsync(cluster, leader, "SET", $"lock:{i}", "token", "PX", "4000");
        leader = await SetAsync(cluster, leader, "SET", "forever", "v");
        await using (var client = await cluster.ConnectAsync(leader))
        {
            for (var i = 0; i < locks; i++)
                expiries[i] = (await client.CallAsync("PEXPIRETIME", $"lock:{i}")).Integer;
        }

        await cluster.WaitForConvergenceAsync();
        for (var node = 0; node < cluster.Size; node++)
        {
            for (var i = 0; i < locks; i++)
                Assert.Equal(expiries[i], StoredExpiry(cluster, node, $"lock:{i}"));
        }

        await cluster.StopNodeAsync(leader);
        var newLeader = await cluster.WaitForLeaderAsync();
        Assert.NotEqual(leader, newLeader);
        var survivors = Enumerable.Range(0, cluster.Size).Where(cluster.IsRunning).ToArray();

        // The new leader answers for the old one's expiries, to the millisecond.
        foreach (var node in survivors)
        {
            await using var client = await cluster.ConnectAsync(node);
            for (var i = 0; i < locks; i++)
                Assert.Equal(Reply.FromInteger(expiries[i]), await client.CallAsync("PEXPIRETIME", $"lock:{i}"));
        }

        // Once cluster time passes the expiry, every node sees the lock gone and it can be taken again.
        var deadline = DateTime.UtcNow + Patience;
        while (cluster.Service<RaftStateMachine>(newLeader).ClusterTime < expiries.Max() || DateTime.UtcNow < DateTimeOffset.FromUnixTimeMilliseconds(expiries.Max()).UtcDateTime)
        {
            Assert.True(DateTime.UtcNow < deadline, "cluster time never reached the expiry");
            await Task.Delay(100);
        }

        foreach (var node in survivors)
        {
            await using var client = await cluster.ConnectAsync(node);
            for (var i = 0; i < locks; i++)
                Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", $"lock:{i}"));
            Assert.Equal(Reply.FromBulk("v"u8.ToArray()), await client.CallAsync("GET", "forever"));
        }

        await using (var client = await cluster.ConnectAsync(newLeader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "lock:0", "next-owner", "NX", "PX", "600000"));

        // The old leader comes back, replays the log and agrees: expired locks gone, the new owner's lock present.
        await cluster.StartNodeAsync(leader);
        await cluster.WaitForLeaderAsync();
        await WaitUntilAsync(() => Enumerable.Range(0, cluster.Size).All(n => StoredLocks(cluster, n) == 1), "expired locks were not reclaimed on every node");
        await cluster.WaitForConvergenceAsync();
        await using var returned = await cluster.ConnectAsync(leader);
        Assert.Equal(Reply.FromBulk("next-owner"u8.ToArray()), await returned.CallAsync("GET", "lock:0"));
        Assert.Equal(Reply.NullBulk, await returned.CallAsync("GET", "lock:1"));
    }

    [Fact]
    public async Task Thousands_of_short_lived_keys_are_reclaimed_on_every_node_without_further_writes()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        const int shortLived = 3000;
        var writes = Enumerable.Range(0, shortLived).Select(static i => new[] { "SET", "session:" + N(i), "x", "PX", N(50 + (i % 100)) })
            .Concat(Enumerable.Range(0, 10).Select(static i => new[] { "SET", "kept:" + N(i), "x" }))
            .ToList();
        var failed = new List<string[]>();
        await using (var client = await cluster.ConnectAsync(leader))
        {
            foreach (var write in writes)
                await client.SendAsync(write);
            foreach (var write in writes)
            {
                if (!Equals(await client.ReadReplyAsync(), Reply.Ok))
                    failed.Add(write);
            }
        }

        // A busy machine may see an election in the middle; SET is idempotent, so what did not succeed is sent again.
        foreach (var write in failed)
            leader = await SetAsync(cluster, leader, write);

        // No client writes from here on: only the leader's idle sweep entries can reclaim the dead keys, on the leader
        // and, through the log, on the followers.
        await WaitUntilAsync(
            () => Enumerable.Range(0, cluster.Size).All(n => cluster.Service<RaftStateMachine>(n).Inspect(static s => s.Keyspace.Count) == 10),
            "dead keys stayed in memory");

        for (var node = 0; node < cluster.Size; node++)
        {
            // At least every short-lived key; more when a write had to be sent again after an unknown outcome.
            Assert.True(cluster.Service<RaftStateMachine>(node).Inspect(static s => s.ExpiredKeysReclaimed) >= shortLived);
            Assert.False(cluster.Service<RaftStateMachine>(node).Inspect(static s => s.HasExpiredKeysAt(s.ClusterTime)));
        }

        await using var reader = await cluster.ConnectAsync((leader + 1) % cluster.Size);
        Assert.Equal(Reply.FromInteger(10), await reader.CallAsync("DBSIZE"));
    }

    // Writes until the write is acknowledged, following the leader: a busy machine may change leaders under load, and
    // these tests are about expiry, not about unknown outcomes (SET without NX is safe to repeat).
    private static async Task<int> SetAsync(TestCluster cluster, int leader, params string[] argv)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            await using (var client = await cluster.ConnectAsync(leader))
            {
                var reply = await client.CallAsync(argv);
                if (Equals(reply, Reply.Ok))
                    return leader;
                Assert.True(DateTime.UtcNow < deadline, $"{string.Join(' ', argv)} never succeeded: {reply}");
            }

            leader = await cluster.WaitForLeaderAsync();
        }
    }

    private static long StoredExpiry(TestCluster cluster, int node, string key)
        => cluster.Service<RaftStateMachine>(node).Inspect(s => s.Keyspace.Entries.Single(e => Encoding.UTF8.GetString(e.Key) == key).Value.ExpireAt);

    private static int StoredLocks(TestCluster cluster, int node)
        => cluster.Service<RaftStateMachine>(node).Inspect(static s => s.Keyspace.Entries.Count(static e => e.Key.AsSpan().StartsWith("lock:"u8)));

    private static async Task WaitUntilAsync(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(50);
        }
    }
}
