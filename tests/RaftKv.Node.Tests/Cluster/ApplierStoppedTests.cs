using System.Globalization;
using DotNext.Net.Cluster.Consensus.Raft.Extensions;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// A node whose applier stops (an exception out of apply: a real out-of-memory, a bug) says so and stops serving: INFO
/// raft shows where and why, reads and writes on it answer a clear CLUSTERDOWN instead of hanging or serving the
/// frozen state, and it steps down into standby so the members that still apply carry on. A restart applies the entry
/// again. The failure is injected with <see cref="RaftStateMachine.BeforeApplyForTesting"/>: a non-deterministic
/// exception on one replica only.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ApplierStoppedTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_follower_whose_apply_throws_reports_it_refuses_reads_and_writes_and_recovers_on_restart()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "before"));
        await cluster.WaitForConvergenceAsync();

        var failed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.Service<RaftStateMachine>(follower).BeforeApplyForTesting = index =>
        {
            failed.TrySetResult(index);
            throw new OutOfMemoryException("injected by the test");
        };

        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "after"));
        var index = await failed.Task.WaitAsync(Patience);

        // The hook runs before its exception reaches the applier, which records the stop after it: wait for that.
        await WaitUntilAsync(() => cluster.Service<RaftStateMachine>(follower).Stopped is not null);

        await using (var client = await cluster.ConnectAsync(follower))
        {
            var info = Fields(await client.CallAsync("INFO", "raft"));
            Assert.Equal("1", info["applier_stopped"]);
            Assert.Equal(index.ToString(CultureInfo.InvariantCulture), info["applier_stopped_index"]);
            Assert.Equal("OutOfMemoryException: injected by the test", info["applier_stopped_reason"]);

            var refusal = $"CLUSTERDOWN this node stopped applying the Raft log at entry {index} (OutOfMemoryException); it serves no reads or writes until restarted (INFO raft)";
            Assert.Equal(Reply.Error(refusal), await client.CallAsync("GET", "k"));
            Assert.Equal(Reply.Error(refusal), await client.CallAsync("SET", "k", "on the stopped node"));
            Assert.Equal(Reply.Error(refusal), await client.CallAsync("CONFIG", "SET", "maxmemory", "1mb"));
        }

        // The others carry on without it; in standby it is never elected.
        await using (var client = await cluster.ConnectAsync(leader))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "later"));
            Assert.Equal(Reply.FromBulk("later"), await client.CallAsync("GET", "k"));
        }

        await WaitUntilAsync(() => cluster.Service<ClusterView>(follower).Raft is IStandbyModeSupport { Standby: true });

        // A restart applies the entry again (the fault was this replica's alone) and the node rejoins.
        await cluster.StopNodeAsync(follower);
        await cluster.StartNodeAsync(follower);
        await cluster.WaitForConvergenceAsync();
        await using (var client = await cluster.ConnectAsync(follower))
        {
            Assert.Equal(Reply.FromBulk("later"), await client.CallAsync("GET", "k"));
            Assert.Equal("0", Fields(await client.CallAsync("INFO", "raft"))["applier_stopped"]);
        }
    }

    [Fact]
    public async Task A_leader_whose_apply_throws_steps_down_and_the_members_that_apply_elect_another()
    {
        await using var cluster = await TestCluster.StartAsync();
        var stopped = await cluster.WaitForLeaderAsync();
        cluster.Service<RaftStateMachine>(stopped).BeforeApplyForTesting = static _ => throw new InvalidOperationException("a bug outside the commands");

        await using (var client = await cluster.ConnectAsync(stopped))
        {
            // Committed, but its apply here threw: the outcome is unknown to this node.
            var reply = await client.CallAsync("SET", "k", "v");
            Assert.True(reply.IsError && reply.Text!.StartsWith("UNCERTAIN", StringComparison.Ordinal), reply.ToString());
        }

        // It resigns and stays in standby: another member leads, and the write it could not apply is applied there.
        await WaitUntilAsync(() => cluster.Service<ClusterView>(stopped).Raft is IStandbyModeSupport { Standby: true });
        var leader = await cluster.WaitForLeaderAsync(Patience);
        Assert.NotEqual(stopped, leader);
        var other = 3 - stopped - leader;
        await using (var client = await cluster.ConnectAsync(other))
        {
            Assert.Equal(Reply.FromBulk("v"), await client.CallAsync("GET", "k"));
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "w"));
        }

        await using (var client = await cluster.ConnectAsync(stopped))
        {
            Assert.Equal("1", Fields(await client.CallAsync("INFO", "raft"))["applier_stopped"]);
            var refused = await client.CallAsync("GET", "k");
            Assert.StartsWith("CLUSTERDOWN this node stopped applying the Raft log at entry", refused.Text, StringComparison.Ordinal);
        }

        await cluster.StopNodeAsync(stopped);
        await cluster.StartNodeAsync(stopped);
        await cluster.WaitForConvergenceAsync();
    }

    private static Dictionary<string, string> Fields(Reply info)
        => System.Text.Encoding.UTF8.GetString(info.Bulk!)
            .Split("\r\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(static line => !line.StartsWith('#'))
            .Select(static line => line.Split(':', 2))
            .ToDictionary(static p => p[0], static p => p[1], StringComparer.Ordinal);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within the deadline");
            await Task.Delay(20);
        }
    }
}
