using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Raft;

/// <summary>
/// A node whose snapshot file was cut short or changed on disk refuses to start with one line naming the file, rather
/// than a stack trace or a state restored in part.
/// </summary>
[Collection(Cluster.ClusterCollection.Name)]
public sealed class UnreadableSnapshotTests
{
    [Theory]
    [InlineData("truncated")]
    [InlineData("garbage")]
    public async Task A_node_whose_snapshot_does_not_decode_refuses_to_start_and_names_the_file(string damage)
    {
        await using var cluster = await TestCluster.StartAsync(size: 1, snapshotEvery: 10);
        await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(0))
        {
            for (var i = 0; i < 30; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"s{i}", new string('v', 200)));
        }

        await cluster.StopNodeAsync(0);
        // The snapshot the node restores from: the newest (an older one stays until the log's next flush compacts it).
        var snapshot = Directory.EnumerateFiles(Path.Combine(cluster.DataPath(0), "snapshots"))
            .Where(static f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .MaxBy(static f => long.Parse(Path.GetFileName(f).Split('-')[0], System.Globalization.CultureInfo.InvariantCulture))!;
        var bytes = await File.ReadAllBytesAsync(snapshot);
        await File.WriteAllBytesAsync(snapshot, damage == "truncated" ? bytes[..(bytes.Length / 2)] : [0xC1, .. bytes[1..]]);

        var refused = await Assert.ThrowsAsync<NodeStartupException>(() => cluster.StartNodeAsync(0));
        Assert.Contains(snapshot, refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
    }
}
