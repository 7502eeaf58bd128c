using System.Globalization;
using System.Text;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary><c>INFO persistence</c>: Redis's rdb_* fields for the snapshots, and RaftKv's own for the policy and the disk.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PersistenceInfoTests
{
    private static async Task<Dictionary<string, string>> PersistenceAsync(RespTestClient client)
    {
        var text = Encoding.UTF8.GetString((await client.CallAsync("INFO", "persistence")).Bulk!);
        Assert.StartsWith("# Persistence\r\n", text, StringComparison.Ordinal);
        return text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(static line => line.Split(':', 2)).ToDictionary(static p => p[0], static p => p[1]);
    }

    [Fact]
    public async Task INFO_persistence_counts_snapshots_their_size_and_the_changes_since_and_a_restarted_node_shows_what_it_restored()
    {
        await using var cluster = await TestCluster.StartAsync(snapshotEvery: 20);
        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
        {
            var fresh = await PersistenceAsync(client);
            Assert.Equal(("0", "0", "ok", "-1"), (fresh["loading"], fresh["rdb_bgsave_in_progress"], fresh["rdb_last_bgsave_status"], fresh["rdb_current_bgsave_time_sec"]));
            Assert.Equal("20", fresh["snapshot_every_entries"]);

            for (var i = 0; i < 50; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"p{i}", "value"));

            var after = await PersistenceAsync(client);
            Assert.True(long.Parse(after["rdb_saves"], CultureInfo.InvariantCulture) >= 2, after["rdb_saves"]);
            Assert.True(long.Parse(after["snapshot_last_bytes"], CultureInfo.InvariantCulture) > 0);
            Assert.InRange(long.Parse(after["rdb_changes_since_last_save"], CultureInfo.InvariantCulture), 0, 20);
            Assert.InRange(long.Parse(after["snapshot_entries_since"], CultureInfo.InvariantCulture), 0, 19);
            Assert.True(long.Parse(after["wal_disk_bytes"], CultureInfo.InvariantCulture) > 0);
            Assert.True(long.Parse(after["snapshot_disk_bytes"], CultureInfo.InvariantCulture) > 0);
            Assert.True(long.Parse(after["rdb_last_save_time"], CultureInfo.InvariantCulture) >= DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60);
            Assert.Contains("# Persistence", Encoding.UTF8.GetString((await client.CallAsync("INFO")).Bulk!), StringComparison.Ordinal);
        }

        await cluster.WaitForConvergenceAsync();
        var restarted = (leader + 1) % cluster.Size;
        await cluster.StopNodeAsync(restarted);
        await cluster.StartNodeAsync(restarted);
        await using (var client = await cluster.ConnectAsync(restarted))
        {
            var restored = await PersistenceAsync(client);
            Assert.Equal("0", restored["loading"]);
            Assert.True(long.Parse(restored["snapshot_last_bytes"], CultureInfo.InvariantCulture) > 0, "the restored snapshot's size");
        }
    }
}
