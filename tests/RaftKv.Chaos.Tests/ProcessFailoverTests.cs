using System.Diagnostics;
using System.Text;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Chaos.Tests;

/// <summary>The whole product as a user runs it: three processes, a kill -9 of the leader, a restart.</summary>
[Collection(ProcessCollection.Name)]
public sealed class ProcessFailoverTests
{
    [Fact]
    public async Task Killing_the_leader_process_keeps_the_cluster_writable_and_the_restarted_node_catches_up()
    {
        await using var cluster = await LocalCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(30));

        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "before-kill", "1"));

        // redis-cli, unmodified, against a follower: the follower forwards writes to the leader.
        var followerPort = LocalCluster.RespPort(leader % 3 + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var leaderPort = LocalCluster.RespPort(leader).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("OK", await RedisCliAsync("-p", followerPort, "SET", "via-cli", "yes"));
        Assert.Equal("", await RedisCliAsync("-p", followerPort, "SET", "via-cli", "no", "NX"));
        Assert.Equal("yes", await RedisCliAsync("-p", followerPort, "GET", "via-cli"));
        Assert.Equal("1", await RedisCliAsync("-p", leaderPort,
            "EVAL", "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end", "1", "via-cli", "yes"));

        await cluster.RunAsync("kill", leader.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var failover = Stopwatch.StartNew();
        var newLeader = await WriteOnNewLeaderAsync(cluster, "after-kill", "2", within: TimeSpan.FromSeconds(15));
        Assert.NotEqual(leader, newLeader);

        await cluster.RunAsync("restart", leader.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Every node, the restarted one included, serves both writes (reads go through a read barrier).
        foreach (var node in LocalCluster.Nodes)
        {
            await using var client = await cluster.ConnectAsync(node);
            Assert.Equal("1", await EventuallyGetAsync(client, "before-kill"));
            Assert.Equal("2", await EventuallyGetAsync(client, "after-kill"));
        }

        Console.WriteLine($"kill -9 of node{leader} -> write acknowledged by node{newLeader} after {failover.ElapsedMilliseconds} ms");
    }

    private static async Task<string> RedisCliAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli is not installed (run-tests.sh installs redis-tools).");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Trim();
    }

    private static async Task<int> WriteOnNewLeaderAsync(LocalCluster cluster, string key, string value, TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var leader = await cluster.WaitForLeaderAsync(within);
            try
            {
                await using var client = await cluster.ConnectAsync(leader);
                var reply = await client.CallAsync("SET", key, value);
                if (reply.Equals(Reply.Ok))
                    return leader;
                if (reply.Text?.StartsWith("UNCERTAIN", StringComparison.Ordinal) == true)
                    continue; // unknown outcome: SET is idempotent here, so try again.
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException && deadline.Elapsed < within)
            {
            }

            Assert.True(deadline.Elapsed < within, $"no write acknowledged within {within}");
            await Task.Delay(50);
        }
    }

    // A restarted node answers reads with CLUSTERDOWN until it hears from the leader; keep asking while it errs.
    // A nil is returned at once: reads are linearizable, so a stale nil is a bug, not something to wait out.
    private static async Task<string?> EventuallyGetAsync(RespTestClient client, string key)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var reply = await client.CallAsync("GET", key);
            if (reply.Kind == ReplyKind.Bulk)
                return Encoding.UTF8.GetString(reply.Bulk!);
            if (!reply.IsError || deadline.Elapsed > TimeSpan.FromSeconds(20))
                return reply.ToString();
            await Task.Delay(100);
        }
    }
}
