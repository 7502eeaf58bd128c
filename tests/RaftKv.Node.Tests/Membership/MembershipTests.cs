using RaftKv.Node.Raft;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Membership;

/// <summary>Helpers shared by the membership tests.</summary>
public static class MembershipTests
{
    /// <summary>Waits until each of <paramref name="nodes"/> has applied a membership of <paramref name="count"/> members, itself among them.</summary>
    public static async Task WaitForMembersAsync(TestCluster cluster, int[] nodes, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!nodes.All(n => cluster.Service<ClusterView>(n) is { IsMember: true } view && view.Members.Count == count))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The nodes did not all apply a membership of {count}: "
                    + string.Join("; ", nodes.Select(n => $"node{n + 1}: {cluster.Service<ClusterView>(n).Members.Count} (member: {cluster.Service<ClusterView>(n).IsMember})")));
            await Task.Delay(50);
        }

        // Their refusal is lifted at the watch's next look (every 100 ms).
        await Task.Delay(250);
    }
}
