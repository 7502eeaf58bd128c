using System.Text;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Raft;

/// <summary>
/// Log entry checksums on a running cluster: a node whose copy of a committed entry was damaged on disk refuses to
/// start with one line naming the entry and the log, while the other members go on alike; entries written before
/// checksums (or with them off) still apply.
/// </summary>
[Collection(Cluster.ClusterCollection.Name)]
public sealed class CorruptLogEntryTests
{
    [Fact]
    public async Task A_node_whose_committed_entry_was_damaged_on_disk_refuses_to_start_and_names_the_entry()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await cluster.WaitForConvergenceAsync();
        var victim = (leader + 1) % cluster.Size;
        long lastApplied = 0;
        cluster.Service<RaftStateMachine>(victim).BeforeApplyForTesting = index => Volatile.Write(ref lastApplied, index);

        var value = "damage-me-" + Guid.NewGuid().ToString("N");
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "target", value));
        await cluster.WaitForConvergenceAsync();
        var entry = Volatile.Read(ref lastApplied);
        Assert.True(entry > 0);

        await cluster.StopNodeAsync(victim);
        Assert.True(FlipAByteOf(Encoding.UTF8.GetBytes(value), cluster.DataPath(victim)) > 0, "the value is in none of the node's files");

        var refused = await Assert.ThrowsAsync<NodeStartupException>(() => cluster.StartNodeAsync(victim));
        var wal = Path.GetFullPath(Path.Combine(cluster.DataPath(victim), "wal"));
        Assert.StartsWith($"WAL entry {entry} in {wal} fails its checksum (", refused.Message, StringComparison.Ordinal);
        Assert.Contains("docs/storage.md", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);

        // The other two are a majority with good copies: they go on, and agree.
        await cluster.WaitForLeaderAsync();
        var survivor = (victim + 1) % cluster.Size;
        await using (var client = await cluster.ConnectAsync(survivor))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after", "1"));
            Assert.Equal(Reply.FromBulk(value), await client.CallAsync("GET", "target"));
        }

        await cluster.WaitForConvergenceAsync();
    }

    [Fact]
    public async Task Entries_written_without_checksums_apply_after_a_restart_with_them_and_both_forms_mix()
    {
        var off = new Dictionary<string, string?> { ["RaftKv:LogChecksums"] = "false" };
        var on = new Dictionary<string, string?> { ["RaftKv:LogChecksums"] = "true" };
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: off);
        await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(0))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "old", "bare"));
        var before = cluster.Digest(0);

        // A node upgraded onto a log of bare entries replays them from the log (no snapshot was taken).
        await cluster.StopNodeAsync(0);
        var snapshots = Path.Combine(cluster.DataPath(0), "snapshots");
        Assert.False(Directory.Exists(snapshots) && Directory.EnumerateFiles(snapshots, "*", SearchOption.AllDirectories).Any());
        await cluster.StartNodeAsync(0, on);
        await cluster.WaitForLeaderAsync();
        Assert.Equal(before, cluster.Digest(0));
        await using (var client = await cluster.ConnectAsync(0))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "new", "enveloped"));

        await cluster.StopNodeAsync(0);
        await cluster.StartNodeAsync(0, on);
        await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(0))
        {
            Assert.Equal(Reply.FromBulk("bare"), await client.CallAsync("GET", "old"));
            Assert.Equal(Reply.FromBulk("enveloped"), await client.CallAsync("GET", "new"));
        }
    }

    // Flips one bit in the middle of every copy of the bytes in the node's files; returns how many it changed.
    private static int FlipAByteOf(byte[] needle, string dataPath)
    {
        var changed = 0;
        foreach (var file in Directory.EnumerateFiles(dataPath, "*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(file);
            var found = false;
            for (var at = bytes.AsSpan().IndexOf(needle); at >= 0;)
            {
                bytes[at + (needle.Length / 2)] ^= 0x04;
                changed++;
                found = true;
                var next = bytes.AsSpan(at + 1).IndexOf(needle);
                at = next < 0 ? -1 : at + 1 + next;
            }

            if (found)
                File.WriteAllBytes(file, bytes);
        }

        return changed;
    }
}
