using System.Diagnostics;
using System.Globalization;
using RaftKv.StateMachine;
using RaftKv.Testing;
using StackExchange.Redis;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// MULTI/EXEC on a three-node cluster: StackExchange.Redis's lock helpers and transactions with conditions (WATCH, a
/// read, MULTI, the writes, EXEC) against the leader, a transaction sent to a follower (forwarded as one write), and
/// replicas that agree on the result.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TransactionClusterTests(SharedClusterFixture fixture) : IClassFixture<SharedClusterFixture>
{
    private TestCluster Cluster => fixture.Cluster;

    private async Task<ConnectionMultiplexer> ConnectToLeaderAsync()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        return await StackExchangeRedis.ConnectAsync(Cluster.RespPort(leader));
    }

    [Fact]
    public async Task StackExchange_Redis_lock_helpers_work_against_the_leader()
    {
        await using var redis = await ConnectToLeaderAsync();
        var db = redis.GetDatabase();

        Assert.True(await db.LockTakeAsync("tx:lock", "owner-1", TimeSpan.FromSeconds(30)));
        Assert.False(await db.LockTakeAsync("tx:lock", "owner-2", TimeSpan.FromSeconds(30)));
        Assert.Equal("owner-1", (string?)await db.LockQueryAsync("tx:lock"));

        Assert.False(await db.LockExtendAsync("tx:lock", "owner-2", TimeSpan.FromMinutes(10)));
        Assert.True(await db.LockExtendAsync("tx:lock", "owner-1", TimeSpan.FromMinutes(10)));
        Assert.True(await db.KeyTimeToLiveAsync("tx:lock") > TimeSpan.FromMinutes(1));

        Assert.False(await db.LockReleaseAsync("tx:lock", "owner-2"));
        Assert.Equal("owner-1", (string?)await db.LockQueryAsync("tx:lock"));
        Assert.True(await db.LockReleaseAsync("tx:lock", "owner-1"));
        Assert.True((await db.LockQueryAsync("tx:lock")).IsNull);
        Assert.True(await db.LockTakeAsync("tx:lock", "owner-2", TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_StackExchange_Redis_transaction_commits_only_while_its_condition_holds()
    {
        await using var redis = await ConnectToLeaderAsync();
        var db = redis.GetDatabase();

        // The node describes itself as one cluster shard, so StackExchange.Redis wants a transaction's keys in one slot.
        await db.StringSetAsync("{tx}:version", "1");

        var first = db.CreateTransaction();
        first.AddCondition(Condition.StringEqual("{tx}:version", "1"));
        var bumped = first.StringIncrementAsync("{tx}:version");
        var written = first.StringSetAsync("{tx}:data", "written under version 1");
        Assert.True(await first.ExecuteAsync());
        Assert.Equal(2, await bumped);
        Assert.True(await written);

        // The same condition no longer holds: nothing of the transaction happens.
        var second = db.CreateTransaction();
        second.AddCondition(Condition.StringEqual("{tx}:version", "1"));
        _ = second.StringSetAsync("{tx}:data", "written under a stale version");
        Assert.False(await second.ExecuteAsync());
        Assert.Equal("written under version 1", (string?)await db.StringGetAsync("{tx}:data"));

        var third = db.CreateTransaction();
        third.AddCondition(Condition.KeyNotExists("{tx}:fresh"));
        third.AddCondition(Condition.StringEqual("{tx}:version", "2"));
        var created = third.StringSetAsync("{tx}:fresh", "yes", TimeSpan.FromMinutes(5));
        Assert.True(await third.ExecuteAsync());
        Assert.True(await created);
    }

    [Fact]
    public async Task Redis_cli_runs_a_transaction()
    {
        var port = Cluster.RespPort(await Cluster.WaitForLeaderAsync());

        var output = await RedisCliAsync(port, "MULTI\nSET cli:tx v\nINCR cli:tx-n\nGET cli:tx\nEXEC\n");

        Assert.Equal("OK\nQUEUED\nQUEUED\nQUEUED\nOK\n1\nv", output);
    }

    [Fact]
    public async Task A_transaction_sent_to_a_follower_is_forwarded_as_one_write_and_every_replica_agrees()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % Cluster.Size;
        await using var client = await Cluster.ConnectAsync(follower);
        await using var other = await Cluster.ConnectAsync(leader);
        await client.CallAsync("SET", "tx:f", "10");

        Assert.Equal(Reply.Ok, await client.CallAsync("WATCH", "tx:f"));
        Assert.Equal(Reply.Ok, await client.CallAsync("MULTI"));
        Assert.Equal(Reply.Status("QUEUED"), await client.CallAsync("INCRBY", "tx:f", "5"));
        Assert.Equal(Reply.Status("QUEUED"), await client.CallAsync("GET", "tx:f"));
        Assert.Equal(Reply.FromArray([Reply.FromInteger(15), Reply.FromBulk("15")]), await client.CallAsync("EXEC"));

        // Watched through the follower, changed through the leader: EXEC runs nothing.
        await client.CallAsync("WATCH", "tx:f");
        Assert.Equal(Reply.Ok, await other.CallAsync("SET", "tx:f", "changed"));
        await client.CallAsync("MULTI");
        await client.CallAsync("SET", "tx:f", "stale");
        Assert.Equal(Reply.NullArray, await client.CallAsync("EXEC"));
        Assert.Equal(Reply.FromBulk("changed"), await client.CallAsync("GET", "tx:f"));

        await Cluster.WaitForConvergenceAsync();
    }

    // redis-cli reading commands from its standard input, as a script would use it.
    private static async Task<string> RedisCliAsync(int port, string commands)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.StandardInput.WriteAsync(commands);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, process.ExitCode);
        return output.TrimEnd('\n');
    }
}
