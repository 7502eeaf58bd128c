using System.Text;
using RaftKv.Client.Tests.Fakes;
using RaftKv.Testing;
using static RaftKv.Client.Tests.Cluster.ClusterClients;

namespace RaftKv.Client.Tests.Cluster;

/// <summary>The client against a real three-node cluster in this process: discovery, failover, exactly-once retries.</summary>
[Collection(ClientClusterCollection.Name)]
public sealed class ClientClusterTests
{
    private const string ReleaseScript = "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

    [Fact]
    public async Task Connecting_through_one_follower_finds_the_leader_and_learns_every_member()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;

        await using var client = await RaftKvConnection.ConnectAsync(Options(Endpoint(cluster, follower)));

        Assert.Equal(Endpoint(cluster, leader), client.Leader);
        Assert.Equal(Endpoints(cluster).Order(), client.Members.Order());
        Assert.True(await client.StringSetAsync("greeting", "hello"));
        Assert.Equal("hello", await client.StringGetAsync("greeting"));
    }

    [Fact]
    public async Task The_typed_commands_answer_as_Redis_does()
    {
        await using var cluster = await TestCluster.StartAsync();
        await cluster.WaitForLeaderAsync();
        await using var client = await ConnectAsync(cluster);

        Assert.True(await client.StringSetAsync("k", "v", TimeSpan.FromMinutes(1)));
        Assert.InRange(await client.KeyTimeToLiveAsync("k") ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        Assert.True(await client.KeyExpireAsync("k", null));
        Assert.Null(await client.KeyTimeToLiveAsync("k"));
        Assert.False(await client.StringSetAsync("k", "other", when: When.NotExists));
        Assert.True(await client.StringSetAsync("k", "other", when: When.Exists));
        Assert.False(await client.StringSetAsync("missing", "x", when: When.Exists));
        Assert.Equal("other"u8.ToArray(), await client.StringGetBytesAsync("k"));
        Assert.True(await client.StringSetAsync("bytes", new byte[] { 0, 255, 13, 10 }));
        Assert.Equal(new byte[] { 0, 255, 13, 10 }, await client.StringGetBytesAsync("bytes"));

        Assert.Equal(1, await client.StringIncrementAsync("n"));
        Assert.Equal(6, await client.StringIncrementAsync("n", 5));
        Assert.Equal(0, (await client.ScriptEvaluateAsync(ReleaseScript, ["k"], ["not-the-owner"])).AsInt64());
        Assert.Equal(1, (await client.ScriptEvaluateAsync(ReleaseScript, ["k"], ["other"])).AsInt64());
        Assert.False(await client.KeyDeleteAsync("k"));
        Assert.Equal(2, await client.KeyDeleteAsync(["n", "bytes", "missing"]));

        Assert.Equal("OK", (await client.ExecuteAsync("MSET", "a", 1, "b", 2.5)).AsString());
        var values = await client.ExecuteAsync("MGET", "a", "b", "c");
        Assert.Equal(["1", "2.5", null], values.Elements.Select(static v => v.AsString()));
        var error = await Assert.ThrowsAsync<RaftKvServerException>(() => client.StringIncrementAsync("b"));
        Assert.Equal("ERR", error.Prefix);
    }

    [Theory]
    [InlineData("Forward")]
    [InlineData("Redirect")]
    public async Task A_workload_keeps_running_without_errors_while_the_leader_is_stopped(string followerWrites)
    {
        await using var cluster = await TestCluster.StartAsync(settings: new Dictionary<string, string?> { ["RaftKv:FollowerWrites"] = followerWrites });
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await ConnectAsync(cluster);

        using var stop = new CancellationTokenSource();
        var leaderStopped = 0;
        var increments = new long[2];
        var afterFailover = new long[2];
        var workers = Enumerable.Range(0, 2).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await client.StringIncrementAsync("counter");
                increments[worker]++;
                var key = $"worker:{worker}:{i % 50}";
                Assert.True(await client.StringSetAsync(key, $"value {i}"));
                Assert.Equal($"value {i}", await client.StringGetAsync(key));
                if (Volatile.Read(ref leaderStopped) == 1)
                    afterFailover[worker]++;
            }
        })).ToArray();

        // A worker that failed ends early: stop waiting then, and let WhenAll report its exception.
        await Eventually.TrueAsync(() => increments.Sum() >= 50 || workers.Any(static w => w.IsCompleted), "the workload gets going");
        await cluster.StopNodeAsync(leader);
        Volatile.Write(ref leaderStopped, 1);
        await Eventually.TrueAsync(
            () => afterFailover.All(static n => n >= 50) || workers.Any(static w => w.IsCompleted), "both workers make progress under the new leader");
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        Assert.NotEqual(Endpoint(cluster, leader), client.Leader);
        Assert.Equal(increments.Sum().ToString(System.Globalization.CultureInfo.InvariantCulture), await client.StringGetAsync("counter"));
    }

    [Fact]
    public async Task A_SET_NX_whose_reply_was_lost_after_it_committed_answers_OK_when_retried()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var proxy = TcpProxy.Start(cluster.RespPort(leader));
        var options = Options(proxy.Endpoint);
        options.DiscoverMembers = false;
        await using var client = await RaftKvConnection.ConnectAsync(options);
        const string key = "lock:lost-reply";

        var lost = proxy.LoseReplyTo(Encoding.UTF8.GetBytes(key));
        var acquired = await client.StringSetAsync(key, "owner", TimeSpan.FromMinutes(1), When.NotExists);

        Assert.True(lost.IsCompleted, "the proxy never lost the reply");
        Assert.True(acquired, "the retry of a committed SET NX must answer from the session's record, not nil");
        Assert.Equal("owner", await client.StringGetAsync(key));
        Assert.False(await client.StringSetAsync(key, "someone else", when: When.NotExists));
    }
}
