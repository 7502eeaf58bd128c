using System.Text;
using RaftKv.Node.Raft;
using RaftKv.Node.Routing;
using RaftKv.Node.Tests.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>Replication, redirection, failover and restart on a three-node cluster in this process.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests
{
    [Fact]
    public async Task A_leader_is_elected_and_a_write_on_it_is_readable_on_every_node()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();

        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "greeting", "hello"));

        for (var node = 0; node < cluster.Size; node++)
        {
            await using var client = await cluster.ConnectAsync(node);
            Assert.Equal("hello", Text(await client.CallAsync("GET", "greeting")));
        }
    }

    [Fact]
    public async Task A_follower_read_waits_for_a_read_index_from_the_leader()
    {
        // Raft's ReadIndex: the follower asks the leader, which confirms its leadership before answering. DotNext's own
        // follower barrier took a new leader's commit index unconfirmed (a stale read the chaos soak caught).
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));

        await using (var client = await cluster.ConnectAsync(follower))
            Assert.Equal("v", Text(await client.CallAsync("GET", "k")));

        Assert.True(cluster.Service<ReadBarrier>(follower).ReadIndexesRequested >= 1);
        Assert.True(cluster.Service<ReadBarrier>(leader).ReadIndexesServed >= 1);
    }

    [Fact]
    public async Task Over_the_HTTP_transport_a_leader_is_elected_and_writes_replicate()
    {
        // TCP is the default transport; http:// member addresses select DotNext's HTTP/1.1 transport in Kestrel.
        await using var cluster = await TestCluster.StartAsync(transport: "http");
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;

        await using (var client = await cluster.ConnectAsync(follower))
        {
            // Right after start the HTTP links may still cost an election: a write then answers UNCERTAIN or
            // CLUSTERDOWN, and SET is safe to repeat.
            var reply = await client.CallAsync("SET", "over", "http");
            for (var attempt = 0; attempt < 20 && reply.IsError && (reply.Text!.StartsWith("UNCERTAIN", StringComparison.Ordinal) || reply.Text.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)); attempt++)
            {
                await Task.Delay(250);
                reply = await client.CallAsync("SET", "over", "http");
            }

            Assert.Equal(Reply.Ok, reply);
            Assert.Equal("http", Text(await client.CallAsync("GET", "over")));
        }

        await cluster.WaitForConvergenceAsync();
    }

    [Fact]
    public async Task In_redirect_mode_a_follower_answers_writes_with_MOVED_to_the_leader_and_still_serves_reads()
    {
        await using var cluster = await TestCluster.StartAsync(settings: new Dictionary<string, string?> { ["RaftKv:FollowerWrites"] = "Redirect" });
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;

        await using var client = await cluster.ConnectAsync(follower);
        var reply = await client.CallAsync("SET", "k", "v");

        Assert.Equal(Reply.Error($"MOVED 0 127.0.0.1:{cluster.RespPort(leader)}"), reply);
        Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "k"));
    }

    [Fact]
    public async Task A_follower_forwards_writes_to_the_leader_in_order_and_reads_its_own_writes()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;

        await using var client = await cluster.ConnectAsync(follower);
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));
        Assert.Equal(Reply.FromBulk("v"), await client.CallAsync("GET", "k"));

        // A pipeline of writes and reads through the follower keeps its order.
        const int count = 200;
        for (var i = 0; i < count; i++)
        {
            await client.SendAsync("APPEND", "log", $"{i},");
            await client.SendAsync("STRLEN", "log");
        }

        var expected = "";
        for (var i = 0; i < count; i++)
        {
            expected += $"{i},";
            Assert.Equal(Reply.FromInteger(expected.Length), await client.ReadReplyAsync());
            Assert.Equal(Reply.FromInteger(expected.Length), await client.ReadReplyAsync());
        }

        // Writes in another database come back as the leader computed them.
        Assert.Equal(Reply.Ok, await client.CallAsync("SELECT", "3"));
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "three"));
        Assert.Equal(Reply.FromBulk("three"), await client.CallAsync("GETDEL", "k"));
        await using var direct = await cluster.ConnectAsync(leader);
        Assert.Equal(Reply.FromBulk("v"), await direct.CallAsync("GET", "k"));
        Assert.True(cluster.Service<RaftKv.Node.Routing.LeaderForwarder>(follower).Forwarded >= count + 3);
        await cluster.WaitForConvergenceAsync();
    }

    [Fact]
    public async Task A_client_of_a_follower_rides_through_the_leader_stopping()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await using var client = await cluster.ConnectAsync(follower);
        Assert.Equal(Reply.FromInteger(1), await client.CallAsync("INCR", "n"));

        await cluster.StopNodeAsync(leader);

        // The follower's forward is refused or unanswerable while there is no leader; a write that was certainly not
        // taken is routed again once a leader is elected, so the client sees no error at all.
        Assert.Equal(Reply.FromInteger(2), await client.CallAsync("INCR", "n"));
        Assert.Equal(Reply.FromBulk("2"), await client.CallAsync("GET", "n"));
        await cluster.StartNodeAsync(leader);
        await cluster.WaitForConvergenceAsync();
    }

    [Fact]
    public async Task Stopping_the_leader_elects_another_that_keeps_every_acknowledged_write()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();

        await using (var client = await cluster.ConnectAsync(leader))
        {
            for (var i = 0; i < 50; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"key:{i}", $"value:{i}"));
        }

        await cluster.StopNodeAsync(leader);
        var newLeader = await cluster.WaitForLeaderAsync();
        Assert.NotEqual(leader, newLeader);

        await using (var client = await cluster.ConnectAsync(newLeader))
        {
            for (var i = 0; i < 50; i++)
                Assert.Equal($"value:{i}", Text(await client.CallAsync("GET", $"key:{i}")));
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after-failover", "yes"));
        }

        await cluster.StartNodeAsync(leader);
        await cluster.WaitForLeaderAsync();
        await cluster.WaitForConvergenceAsync();
        await using var old = await cluster.ConnectAsync(leader);
        Assert.Equal("yes", Text(await old.CallAsync("GET", "after-failover")));
    }

    [Fact]
    public async Task A_restarted_node_catches_up_from_its_log_and_snapshots()
    {
        // Snapshots every few entries, so the restart restores one and replays the log after it.
        await using var cluster = await TestCluster.StartAsync(snapshotEvery: 7);
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;

        await using (var client = await cluster.ConnectAsync(leader))
        {
            for (var i = 0; i < 30; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"before:{i}", "x"));
        }

        await cluster.StopNodeAsync(follower);
        leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
        {
            for (var i = 0; i < 30; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"during:{i}", "y"));
            Assert.Equal(Reply.FromInteger(1), await client.CallAsync("DEL", "before:0"));
        }

        await cluster.StartNodeAsync(follower);
        var digest = await cluster.WaitForConvergenceAsync();
        Assert.StartsWith("59:", digest, StringComparison.Ordinal);

        await using var restarted = await cluster.ConnectAsync(follower);
        Assert.Equal("y", Text(await restarted.CallAsync("GET", "during:29")));
        Assert.Equal(Reply.NullBulk, await restarted.CallAsync("GET", "before:0"));
    }

    [Fact]
    public async Task Pipelined_writes_are_group_committed_and_applied_in_order()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(leader);

        const int writes = 2000;
        for (var i = 0; i < writes; i++)
            await client.SendAsync("SET", "counter", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await client.SendAsync("GET", "counter");

        for (var i = 0; i < writes; i++)
            Assert.Equal(Reply.Ok, await client.ReadReplyAsync());
        Assert.Equal((writes - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), Text(await client.ReadReplyAsync()));

        // Group commit: far fewer log entries than commands.
        var proposer = cluster.Service<Proposer>(leader);
        Assert.Equal(writes, proposer.CommandsProposed);
        Assert.True(proposer.EntriesProposed < writes / 4, $"{proposer.EntriesProposed} entries for {writes} writes");
    }

    [Fact]
    public async Task A_write_is_acknowledged_only_once_a_majority_of_the_nodes_has_it_on_disk()
    {
        // What a node keeps across a crash is what its log checkpoint covers (wal/checkpoint: version, commit index,
        // last flushed index). DotNext's followers used to acknowledge entries before flushing them, so all three nodes
        // crashing together could lose acknowledged writes. The fencing token gives the exact log index of a write.
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(leader);

        for (var i = 0; i < 100; i++)
        {
            var reply = await client.CallAsync("LOCK.ACQUIRE", $"durable:{i}", "token", "60000");
            Assert.Equal(ReplyKind.Integer, reply.Kind);
            var index = reply.Integer >> 16;

            var onDisk = Enumerable.Range(0, cluster.Size).Where(n => WalCheckpoint.LastFlushedIndex(Path.Combine(cluster.DataPath(n), "wal")) >= index).ToList();
            Assert.True(onDisk.Count >= 2, $"entry {index} acknowledged while on disk only at nodes [{string.Join(", ", onDisk)}]");
        }
    }

    [Fact]
    public async Task A_node_cut_off_from_the_majority_never_acknowledges_a_write_nor_serves_a_read()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "before"));

        // Leave the old leader alone: without a majority it must refuse, whatever it believed a moment ago.
        foreach (var other in Enumerable.Range(0, cluster.Size).Where(n => n != leader))
            await cluster.StopNodeAsync(other);

        await using var lone = await cluster.ConnectAsync(leader);
        Reply write;
        do
        {
            write = await lone.CallAsync("SET", "k", "after");
            Assert.True(write.IsError, "a write was acknowledged without a majority: " + write);
            Assert.True(write.Text!.StartsWith("UNCERTAIN", StringComparison.Ordinal) || write.Text.StartsWith("CLUSTERDOWN", StringComparison.Ordinal), write.Text);
        }
        while (!write.Text.StartsWith("CLUSTERDOWN", StringComparison.Ordinal));

        Assert.Equal(RaftKv.Node.NodeReplies.NoLeader, await lone.CallAsync("GET", "k"));
    }

    [Fact]
    public async Task A_single_node_cluster_elects_itself_and_serves_reads_and_writes()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1);
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(leader);

        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "solo", "1"));
        Assert.Equal("1", Text(await client.CallAsync("GET", "solo")));
    }

    private static string? Text(Reply reply)
        => reply.Kind == ReplyKind.Bulk ? Encoding.UTF8.GetString(reply.Bulk!) : reply.Kind == ReplyKind.NullBulk ? null : reply.ToString();
}

/// <summary>Cluster tests run one at a time: each starts three nodes, and two cores are all there is.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster";
}
