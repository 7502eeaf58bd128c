using RaftKv.Node.Membership;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Node.Tests.Cluster;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Membership;

[Collection(ClusterCollection.Name)]
public sealed class MembershipSmokeTests
{
    [Fact]
    public async Task A_joining_node_is_added_through_a_follower_serves_and_is_listed_everywhere()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "before", "1"));

        var joined = await cluster.StartJoiningNodeAsync();
        await using (var fresh = await cluster.ConnectAsync(joined))
            Assert.StartsWith("CLUSTERDOWN this node is not a member yet", (await fresh.CallAsync("GET", "before")).Text);

        var follower = (leader + 1) % 3;
        await using (var admin = await cluster.ConnectAsync(follower))
        {
            var reply = await admin.CallAsync("MEMBER.ADD", cluster.RaftAddress(joined), $"127.0.0.1:{cluster.RespPort(joined)}", $"127.0.0.1:{cluster.PeerPort(joined)}");
            Assert.Equal(Reply.Ok, reply);
        }

        await MembershipTests.WaitForMembersAsync(cluster, [0, 1, 2, joined], 4);
        await using (var client = await cluster.ConnectAsync(joined))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after", "2"));
            Assert.Equal(Reply.FromBulk("1"), await client.CallAsync("GET", "before"));
            var list = await client.CallAsync("MEMBER.LIST");
            Assert.Equal(4, list.Items!.Count);

            // What RaftKv.Client and cluster-aware clients learn the members from.
            var info = System.Text.Encoding.UTF8.GetString((await client.CallAsync("INFO", "raft")).Bulk!);
            Assert.Contains($"127.0.0.1:{cluster.RespPort(joined)}", info.Split("\r\n").Single(l => l.StartsWith("members:", StringComparison.Ordinal)));
            var nodes = System.Text.Encoding.UTF8.GetString((await client.CallAsync("CLUSTER", "NODES")).Bulk!);
            Assert.Equal(4, nodes.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }

        for (var node = 0; node < 4; node++)
            Assert.Equal(4, cluster.Service<ClusterView>(node).Members.Count);
    }

    [Fact]
    public async Task A_single_node_with_a_cluster_secret_grows_to_two_and_both_serve()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1);
        await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(0))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));

        var joined = await cluster.StartJoiningNodeAsync();
        await using (var admin = await cluster.ConnectAsync(0))
            Assert.Equal(Reply.Ok, await admin.CallAsync("MEMBER.ADD", cluster.RaftAddress(joined), $"127.0.0.1:{cluster.RespPort(joined)}", $"127.0.0.1:{cluster.PeerPort(joined)}"));
        await MembershipTests.WaitForMembersAsync(cluster, [0, joined], 2);
        await using var second = await cluster.ConnectAsync(joined);
        Assert.Equal(Reply.FromBulk("v"), await second.CallAsync("GET", "k"));
        Assert.Equal(Reply.Ok, await second.CallAsync("SET", "k2", "v2"));
    }
}
