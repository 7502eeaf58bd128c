using System.Globalization;
using System.Text;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Replacing a node's data (docs/storage.md): a wiped node restarted in recovery catches up, votes only once it has,
/// and meanwhile keeps the two others from electing a leader without the member that holds the committed log.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RecoveryClusterTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_wiped_follower_started_with_Recover_catches_up_through_a_snapshot_and_leaves_recovery()
    {
        await using var cluster = await TestCluster.StartAsync(snapshotEvery: 20);
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await WriteAsync(cluster, leader, "k", 100);
        await cluster.WaitForConvergenceAsync();

        await cluster.StopNodeAsync(follower);
        Directory.Delete(cluster.DataPath(follower), recursive: true);
        await cluster.StartNodeAsync(follower, new Dictionary<string, string?> { ["RaftKv:Storage:Recover"] = "true" });

        // Left completes only for a node that was in recovery.
        var recovery = cluster.Service<NodeRecovery>(follower);
        await recovery.Left.WaitAsync(Patience);
        Assert.False(recovery.IsRecovering);
        Assert.False(File.Exists(Path.Combine(cluster.DataPath(follower), RecoveryMarker.FileName)));
        Assert.True(recovery.TargetIndex > 0, "the leader's commit index was the target");

        await using (var client = await cluster.ConnectAsync(follower))
        {
            var raft = await InfoRaftAsync(client);
            Assert.Equal("0", raft["recovering"]);
            Assert.True(long.Parse(raft["commit_index"], CultureInfo.InvariantCulture) >= long.Parse(raft["recovery_target_index"], CultureInfo.InvariantCulture));
            Assert.Equal(Reply.FromBulk("v99"), await client.CallAsync("GET", "k99"));
        }

        await WriteAsync(cluster, await cluster.WaitForLeaderAsync(), "after", 5);
        await cluster.WaitForConvergenceAsync(Patience);
    }

    [Fact]
    public async Task While_a_wiped_node_recovers_the_other_survivor_cannot_be_elected_with_its_vote_until_the_old_leader_returns()
    {
        await using var cluster = await TestCluster.StartAsync(snapshotEvery: 20);
        var leader = await cluster.WaitForLeaderAsync();
        var wiped = (leader + 1) % cluster.Size;
        var survivor = (leader + 2) % cluster.Size;
        await WriteAsync(cluster, leader, "k", 50);
        await cluster.WaitForConvergenceAsync();

        await cluster.StopNodeAsync(wiped);
        Directory.Delete(cluster.DataPath(wiped), recursive: true);
        await cluster.StopNodeAsync(leader);

        // No setting: the data directory is empty and the survivor answers the start-up probe with a committed log.
        await cluster.StartNodeAsync(wiped);
        var recovery = cluster.Service<NodeRecovery>(wiped);
        Assert.True(recovery.IsRecovering);
        Assert.True(File.Exists(Path.Combine(cluster.DataPath(wiped), RecoveryMarker.FileName)));
        Assert.True(recovery.TargetIndex > 0, "the survivor's commit index is known");

        // The survivor stands for election again and again; each time the recovering node refuses its vote.
        var deadline = DateTime.UtcNow + Patience;
        while (recovery.VotesRefused < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the survivor never asked for a vote");
            await Task.Delay(50);
        }

        Assert.False(cluster.Service<ClusterView>(survivor).IsLeader);
        Assert.False(cluster.Service<ClusterView>(wiped).IsLeader);
        Assert.True(recovery.IsRecovering);
        await using (var client = await cluster.ConnectAsync(wiped))
        {
            var raft = await InfoRaftAsync(client);
            Assert.Equal("1", raft["recovering"]);
            Assert.True(long.Parse(raft["recovery_votes_refused"], CultureInfo.InvariantCulture) >= 2);
        }

        await cluster.StartNodeAsync(leader);
        var newLeader = await cluster.WaitForLeaderAsync(Patience);
        Assert.NotEqual(wiped, newLeader);
        await recovery.Left.WaitAsync(Patience);
        Assert.False(File.Exists(Path.Combine(cluster.DataPath(wiped), RecoveryMarker.FileName)));
        await WriteAsync(cluster, newLeader, "after", 5);
        await cluster.WaitForConvergenceAsync(Patience);
        await using (var client = await cluster.ConnectAsync(wiped))
            Assert.Equal(Reply.FromBulk("v49"), await client.CallAsync("GET", "k49"));
    }

    [Fact]
    public async Task A_fresh_cluster_started_together_elects_a_leader_and_none_stays_in_recovery()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await WriteAsync(cluster, leader, "k", 3);
        await cluster.WaitForConvergenceAsync();
        for (var node = 0; node < cluster.Size; node++)
        {
            var recovery = cluster.Service<NodeRecovery>(node);
            if (recovery.IsRecovering)
                await recovery.Left.WaitAsync(Patience);
            Assert.False(File.Exists(Path.Combine(cluster.DataPath(node), RecoveryMarker.FileName)));
        }
    }

    private static async Task WriteAsync(TestCluster cluster, int node, string prefix, int count)
    {
        await using var client = await cluster.ConnectAsync(node);
        for (var i = 0; i < count; i++)
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", prefix + i.ToString(CultureInfo.InvariantCulture), "v" + i.ToString(CultureInfo.InvariantCulture)));
    }

    private static async Task<Dictionary<string, string>> InfoRaftAsync(RespTestClient client)
    {
        var text = Encoding.UTF8.GetString((await client.CallAsync("INFO", "raft")).Bulk!);
        return text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Where(static l => !l.StartsWith('#'))
            .Select(static line => line.Split(':', 2)).ToDictionary(static p => p[0], static p => p[1]);
    }
}
