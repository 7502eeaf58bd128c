using System.Globalization;
using System.Text;
using Xunit.Abstractions;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Raft;

/// <summary>
/// Snapshots written in the background while writes go on, of states of any size, and snapshots from the leader that
/// fail their checks refused without a trace.
/// </summary>
[Collection(LargeStateCollection.Name)]
public sealed class StreamedSnapshotTests(ITestOutputHelper output)
{
    // No snapshot unless a test asks for one (BGSAVE).
    private static readonly Dictionary<string, string?> OnRequestOnly = new() { ["RaftKv:SnapshotLogBytes"] = (1L << 50).ToString(CultureInfo.InvariantCulture) };

    [Fact]
    public async Task Writes_keep_completing_while_a_snapshot_of_a_million_keys_is_being_written()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1, snapshotEvery: int.MaxValue, settings: OnRequestOnly);
        await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(0);
        await LoadAsync(client, keys: 1_000_000);

        // The writer is held after its first chunk: the snapshot stays in progress for as long as the test wants.
        var machine = cluster.Service<RaftStateMachine>(0);
        var firstChunk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        machine.SnapshotChunkWrittenForTesting = () =>
        {
            firstChunk.TrySetResult();
            release.Wait(TimeSpan.FromMinutes(2));
        };
        var atSnapshot = cluster.Digest(0);
        Assert.Equal(Reply.Status("Background saving started"), await client.CallAsync("BGSAVE"));
        Assert.Equal(Reply.Error("ERR Background save already in progress"), await client.CallAsync("BGSAVE"));
        await firstChunk.Task.WaitAsync(TimeSpan.FromMinutes(1));

        // With the snapshot half written, writes of every kind complete (before, the next apply waited for the whole
        // snapshot: none of these would have been answered while it was held).
        for (var i = 0; i < 200; i++)
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", Key(i * 4999), "rewritten during the snapshot"));
        Assert.Equal(Reply.FromInteger(100), await client.CallAsync([.. Enumerable.Range(0, 100).Select(i => Key(500_000 + i)).Prepend("DEL")]));
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "new-during-snapshot", "x"));
        Assert.NotNull(machine.Snapshots.InProgressSince);
        Assert.Equal(0, machine.Snapshots.Taken);
        Assert.Contains("rdb_bgsave_in_progress:1", Info(await client.CallAsync("INFO", "persistence")), StringComparison.Ordinal);

        machine.SnapshotChunkWrittenForTesting = null;
        release.Set();
        await WaitUntilAsync(() => machine.Snapshots.Taken == 1);

        // The file holds the state of the moment BGSAVE was answered, not what was written while it was being written.
        var file = NewestSnapshot(cluster.DataPath(0));
        var restored = new KeyValueStore();
        using (var stream = File.OpenRead(file))
            restored.RestoreSnapshot(stream);
        Assert.Equal(atSnapshot, restored.ComputeDigest());
        Assert.NotEqual(atSnapshot, cluster.Digest(0));
        output.WriteLine($"1M keys: snapshot {new FileInfo(file).Length:N0} bytes, written in {machine.Snapshots.LastDuration.TotalMilliseconds:N0} ms (held for the test)");
    }

    [Fact]
    public async Task A_state_above_2_GiB_is_snapshotted_restored_at_restart_and_installed_on_a_wiped_node()
    {
        // Four 512 MB values and their keys: more than a byte array (and the old one-buffer snapshot) can hold. DotNext
        // bounds one InstallSnapshot exchange by the Raft request timeout, so it is raised here to let 2 GiB cross (see
        // docs/storage.md, "Snapshot transfer").
        var settings = new Dictionary<string, string?>(OnRequestOnly) { ["raft:rpcTimeout"] = "00:02:00", ["raft:requestTimeout"] = "00:02:00" };
        await using var cluster = await TestCluster.StartAsync(size: 3, snapshotEvery: int.MaxValue, settings: settings);
        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
        {
            for (var i = 0; i < 4; i++)
                Assert.Equal(Reply.FromInteger(512L << 20), await client.CallAsync("SETRANGE", "big" + i.ToString(CultureInfo.InvariantCulture), "536870911", "x"));
        }

        var digest = await cluster.WaitForConvergenceAsync(TimeSpan.FromMinutes(2));
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var client = await cluster.ConnectAsync(node);
            Assert.Equal(Reply.Status("Background saving started"), await client.CallAsync("BGSAVE"));
        }

        for (var node = 0; node < cluster.Size; node++)
        {
            var machine = cluster.Service<RaftStateMachine>(node);
            await WaitUntilAsync(() => machine.Snapshots.Taken == 1, TimeSpan.FromMinutes(3));
            Assert.False(machine.Snapshots.LastFailed);
            Assert.True(new FileInfo(NewestSnapshot(cluster.DataPath(node))).Length > int.MaxValue);
        }

        // One more entry after the snapshots: the leader's log is compacted up to them, so a wiped node can only get
        // the state by InstallSnapshot.
        leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after", "snapshot"));
        digest = await cluster.WaitForConvergenceAsync(TimeSpan.FromMinutes(2));

        var restarted = (leader + 1) % cluster.Size;
        await cluster.StopNodeAsync(restarted);
        await cluster.StartNodeAsync(restarted);
        Assert.Equal(digest, await cluster.WaitForConvergenceAsync(TimeSpan.FromMinutes(3)));

        var wiped = (leader + 2) % cluster.Size;
        await cluster.StopNodeAsync(wiped);
        Directory.Delete(cluster.DataPath(wiped), recursive: true);
        await cluster.StartNodeAsync(wiped);
        Assert.Equal(digest, await cluster.WaitForConvergenceAsync(TimeSpan.FromMinutes(5)));
        Assert.True(cluster.Service<RaftStateMachine>(wiped).AppliedIndex > 0);
        output.WriteLine($"2 GiB state: snapshot written in {cluster.Service<RaftStateMachine>(leader).Snapshots.LastDuration.TotalSeconds:N1} s");
    }

    [Fact]
    public async Task A_follower_refuses_a_damaged_snapshot_from_the_leader_and_installs_the_next_good_one()
    {
        await using var cluster = await TestCluster.StartAsync(size: 3, snapshotEvery: int.MaxValue, settings: OnRequestOnly);
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(leader);
        await LoadAsync(client, keys: 20_000);
        var follower = (leader + 1) % cluster.Size;
        await cluster.StopNodeAsync(follower);

        // The leader's snapshot, damaged in the middle after it was written (a bad disk, a bad copy).
        var machine = cluster.Service<RaftStateMachine>(leader);
        Assert.Equal(Reply.Status("Background saving started"), await client.CallAsync("BGSAVE"));
        await WaitUntilAsync(() => machine.Snapshots.Taken == 1);
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "compact", "the log"));
        var file = NewestSnapshot(cluster.DataPath(leader));
        await using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = stream.Length / 2;
            var b = stream.ReadByte();
            stream.Position--;
            stream.WriteByte((byte)(b ^ 0x20));
        }

        Directory.Delete(cluster.DataPath(follower), recursive: true);
        await cluster.StartNodeAsync(follower);
        var refusing = cluster.Service<RaftStateMachine>(follower);
        await WaitUntilAsync(() => refusing.SnapshotsRefused > 0, TimeSpan.FromMinutes(1));
        Assert.NotEqual(cluster.Digest(leader), cluster.Digest(follower));
        Assert.Equal(0, refusing.Inspect(static s => s.Databases.Sum(static d => d.Count)));

        // A new snapshot on the leader, then one more entry so the log compacts to it: the follower installs that one.
        leader = await cluster.WaitForLeaderAsync();
        await using var again = await cluster.ConnectAsync(leader);
        Assert.Equal(Reply.Status("Background saving started"), await again.CallAsync("BGSAVE"));
        await WaitUntilAsync(() => cluster.Service<RaftStateMachine>(leader).Snapshots.Taken >= 1 && cluster.Service<RaftStateMachine>(leader).Snapshots.InProgressSince is null);
        Assert.Equal(Reply.Ok, await again.CallAsync("SET", "compact", "again"));
        await cluster.WaitForConvergenceAsync(TimeSpan.FromMinutes(1));
    }

    private static async Task LoadAsync(RespTestClient client, int keys)
    {
        const int perCommand = 1000;
        var value = new string('v', 100);
        var commands = new List<byte[][]>();
        for (var start = 0; start < keys; start += perCommand)
        {
            var argv = new List<byte[]> { "MSET"u8.ToArray() };
            for (var i = start; i < Math.Min(keys, start + perCommand); i++)
            {
                argv.Add(Encoding.ASCII.GetBytes(Key(i)));
                argv.Add(Encoding.ASCII.GetBytes(value));
            }

            commands.Add([.. argv]);
        }

        // Pipelined in groups, so the load takes seconds, not a round trip per command.
        foreach (var group in commands.Chunk(50))
        {
            await client.SendAsync(group);
            foreach (var _ in group)
                Assert.Equal(Reply.Ok, await client.ReadReplyAsync());
        }
    }

    private static string Key(int i) => "key:" + i.ToString("D7", CultureInfo.InvariantCulture);

    private static string Info(Reply reply) => Encoding.UTF8.GetString(reply.Bulk!);

    private static string NewestSnapshot(string dataPath)
        => Directory.EnumerateFiles(Path.Combine(dataPath, "snapshots"))
            .Where(static f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .MaxBy(static f => long.Parse(Path.GetFileName(f).Split('-')[0], CultureInfo.InvariantCulture))
           ?? throw new InvalidOperationException("No snapshot in " + dataPath);

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromMinutes(1));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("The condition did not hold within the deadline.");
            await Task.Delay(50);
        }
    }
}

/// <summary>Tests that hold gigabytes or a million keys per node: one at a time, beside nothing else of their kind.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LargeStateCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "large state";
}
