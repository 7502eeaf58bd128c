using System.Diagnostics;
using Medallion.Threading.Redis;
using RaftKv.StateMachine;
using RaftKv.Testing;
using StackExchange.Redis;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Real Redis clients, unmodified, pointed at a follower only: every write they send is forwarded to the leader, so
/// they work without knowing there is a cluster.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ThirdPartyClientTests(SharedClusterFixture fixture) : IClassFixture<SharedClusterFixture>
{
    private TestCluster Cluster => fixture.Cluster;

    private static Task<ConnectionMultiplexer> ConnectAsync(int port) => StackExchangeRedis.ConnectAsync(port);

    [Fact]
    public async Task StackExchange_Redis_reads_and_writes_through_a_follower()
    {
        var follower = await fixture.FollowerAsync();
        await using var redis = await ConnectAsync(Cluster.RespPort(follower));
        var db = redis.GetDatabase();

        Assert.True(await db.StringSetAsync("se:key", "value", TimeSpan.FromMinutes(1)));
        Assert.Equal("value", (string?)await db.StringGetAsync("se:key"));
        Assert.False(await db.StringSetAsync("se:key", "other", when: When.NotExists));
        Assert.Equal(3, await db.StringIncrementAsync("se:counter", 3));
        Assert.True(await db.KeyDeleteAsync("se:key"));
        Assert.Equal(1, (int)await db.ScriptEvaluateAsync("return redis.call('incr', KEYS[1]) - 3", ["se:counter"]));

        // Given one follower, StackExchange.Redis asks CLUSTER NODES, finds the single shard and sends writes to the
        // Raft leader directly (clients that know nothing of clusters get theirs forwarded).
        var leaderPort = Cluster.RespPort(await Cluster.WaitForLeaderAsync());
        var primary = Assert.Single(redis.GetEndPoints(), e => !redis.GetServer(e).IsReplica);
        Assert.EndsWith($":{leaderPort}", primary.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_cluster_view_StackExchange_Redis_given_every_node_writes_to_the_leader_with_databases()
    {
        await using var cluster = await TestCluster.StartAsync(settings: new Dictionary<string, string?> { ["RaftKv:ClusterCommands"] = "false" });
        var leader = await cluster.WaitForLeaderAsync();
        await using var redis = await StackExchangeRedis.ConnectAsync([.. Enumerable.Range(0, cluster.Size).Select(cluster.RespPort)]);

        var primary = Assert.Single(redis.GetEndPoints(), e => !redis.GetServer(e).IsReplica);
        Assert.EndsWith($":{cluster.RespPort(leader)}", primary.ToString(), StringComparison.Ordinal);
        Assert.Equal(ServerType.Standalone, redis.GetServer(primary).ServerType);

        var db3 = redis.GetDatabase(3);
        Assert.True(await db3.StringSetAsync([new("a", "1"), new("b", "2")]));
        Assert.Equal(["1", "2"], (await db3.StringGetAsync(["a", "b"])).Select(static v => (string?)v));
    }

    [Fact]
    public async Task StackExchange_Redis_locks_through_a_follower()
    {
        var follower = await fixture.FollowerAsync();
        await using var redis = await ConnectAsync(Cluster.RespPort(follower));
        var db = redis.GetDatabase();

        Assert.True(await db.LockTakeAsync("se:lock", "owner-1", TimeSpan.FromSeconds(30)));
        Assert.False(await db.LockTakeAsync("se:lock", "owner-2", TimeSpan.FromSeconds(30)));
        Assert.Equal("owner-1", (string?)await db.LockQueryAsync("se:lock"));
        Assert.True(await db.LockExtendAsync("se:lock", "owner-1", TimeSpan.FromSeconds(60)));
        Assert.False(await db.LockReleaseAsync("se:lock", "owner-2"));
        Assert.True(await db.LockReleaseAsync("se:lock", "owner-1"));
        Assert.True(await db.LockTakeAsync("se:lock", "owner-2", TimeSpan.FromSeconds(30)));
        Assert.True(await db.LockReleaseAsync("se:lock", "owner-2"));
    }

    [Fact]
    public async Task DistributedLock_Redis_acquires_and_releases_through_a_follower()
    {
        var follower = await fixture.FollowerAsync();
        await using var redis = await ConnectAsync(Cluster.RespPort(follower));
        var db = redis.GetDatabase();
        var first = new RedisDistributedLock("dl:resource", db);
        var second = new RedisDistributedLock("dl:resource", db);

        await using (var handle = await first.TryAcquireAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.NotNull(handle);
            await using var contender = await second.TryAcquireAsync(TimeSpan.Zero);
            Assert.Null(contender);
        }

        // Released on dispose: the other lock takes it at once.
        await using var next = await second.TryAcquireAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(next);
    }

    [Fact]
    public async Task Redis_cli_works_against_a_follower()
    {
        var follower = await fixture.FollowerAsync();
        var port = Cluster.RespPort(follower);

        Assert.Equal("OK", await RedisCliAsync(port, "SET", "cli:lock", "token", "NX", "PX", "30000"));
        Assert.Equal("token", await RedisCliAsync(port, "GET", "cli:lock"));
        Assert.Equal("1", await RedisCliAsync(port, "EVAL", "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end", "1", "cli:lock", "token"));
        Assert.Equal("", await RedisCliAsync(port, "GET", "cli:lock"));
        Assert.Matches("^[0-9]+$", await RedisCliAsync(port, "LOCK.ACQUIRE", "cli:fenced", "token", "30000"));
    }

    [Fact]
    public async Task CLUSTER_describes_one_shard_led_by_the_raft_leader()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % Cluster.Size;
        await using var client = await Cluster.ConnectAsync(follower);

        var slots = await client.CallAsync("CLUSTER", "SLOTS");
        var shard = Assert.Single(slots.Items!);
        Assert.Equal(Reply.FromInteger(0), shard.Items![0]);
        Assert.Equal(Reply.FromInteger(16383), shard.Items[1]);
        Assert.Equal(Reply.FromInteger(Cluster.RespPort(leader)), shard.Items[2].Items![1]);
        Assert.Equal(2 + Cluster.Size, shard.Items.Count);

        var nodes = System.Text.Encoding.UTF8.GetString((await client.CallAsync("CLUSTER", "NODES")).Bulk!).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Cluster.Size, nodes.Length);
        Assert.Contains(nodes, line => line.Contains($":{Cluster.RespPort(leader)}@", StringComparison.Ordinal) && line.Contains(" master - ", StringComparison.Ordinal) && line.EndsWith(" 0-16383", StringComparison.Ordinal));
        Assert.Contains(nodes, line => line.Contains($":{Cluster.RespPort(follower)}@", StringComparison.Ordinal) && line.Contains("myself,slave", StringComparison.Ordinal));
        // The examples of Redis's CLUSTER KEYSLOT page.
        Assert.Equal(Reply.FromInteger(11058), await client.CallAsync("CLUSTER", "KEYSLOT", "somekey"));
        Assert.Equal(Reply.FromInteger(2515), await client.CallAsync("CLUSTER", "KEYSLOT", "foo{hash_tag}"));
    }

    private static async Task<string> RedisCliAsync(int port, params string[] args)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, process.ExitCode);
        return output.TrimEnd('\n');
    }
}
