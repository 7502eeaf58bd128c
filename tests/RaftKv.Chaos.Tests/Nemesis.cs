using System.Globalization;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests;

/// <summary>The faults the nemesis can inject; each is healed before the next one starts.</summary>
internal enum FaultKind
{
    KillLeader,
    KillRandom,
    PauseLeader,
    PartitionLeader,
    PartitionRandom,
    SkewClock,
    KillAll,
    WipeNode,
    ReplaceNode,
}

/// <summary>
/// A seeded nemesis over a <see cref="LocalCluster"/> with isolated networks: between quiet periods it kills
/// (<c>kill -9</c>) the leader or a random node and restarts it, pauses the leader longer than an election timeout
/// (SIGSTOP/SIGCONT), partitions the leader or a random node away, restarts a node with its clock skewed, kills every
/// node and restarts them all, or replaces a random node's data by the documented procedure (<c>local-cluster.sh
/// recover N</c>: stop, delete the data, start with <c>--recover</c>), or replaces a node through membership changes
/// (<c>local-cluster.sh replace N</c>: MEMBER.REMOVE, delete its data, start with <c>--join</c>, MEMBER.ADD). Every fault it injects is recorded in the history and healed before the next one, and
/// <see cref="HealAllAsync"/> undoes whatever is left.
/// </summary>
internal sealed class Nemesis(LocalCluster cluster, HistoryRecorder history, Random rng, TimeSpan maxClockSkew, IReadOnlyList<FaultKind> kinds)
{
    private static readonly TimeSpan ElectionTimeout = TimeSpan.FromMilliseconds(600);
    private readonly HashSet<int> skewed = [];

    public async Task RunAsync(CancellationToken stop)
    {
        // Every kind once per cycle, in a seeded order, so even a short run meets most of them.
        var cycle = new Queue<FaultKind>();
        while (!stop.IsCancellationRequested)
        {
            // A quiet period lets the workload make progress between faults.
            if (!await DelayAsync(TimeSpan.FromMilliseconds(rng.Next(1_500, 3_500)), stop))
                return;

            if (cycle.Count == 0)
            {
                var order = kinds.ToArray();
                rng.Shuffle(order);
                foreach (var kind in order)
                    cycle.Enqueue(kind);
            }

            await InjectAsync(cycle.Dequeue());
        }
    }

    private async Task InjectAsync(FaultKind kind)
    {
        switch (kind)
        {
            case FaultKind.KillLeader or FaultKind.KillRandom:
            {
                var node = kind == FaultKind.KillLeader ? await LeaderOrRandomAsync() : RandomNode();
                await FaultAsync("kill", node, () => cluster.RunAsync("kill", node));
                await Task.Delay(rng.Next(500, 2_500));
                await FaultAsync("restart", node, () => RestartAsync(node));
                break;
            }

            case FaultKind.PauseLeader:
            {
                var node = await LeaderOrRandomAsync();
                await FaultAsync("pause", node, () => cluster.RunAsync("pause", node));
                await Task.Delay(ElectionTimeout * 2 + TimeSpan.FromMilliseconds(rng.Next(0, 1_500)));
                await FaultAsync("resume", node, () => cluster.RunAsync("resume", node));
                break;
            }

            case FaultKind.PartitionLeader or FaultKind.PartitionRandom:
            {
                var node = kind == FaultKind.PartitionLeader ? await LeaderOrRandomAsync() : RandomNode();
                await FaultAsync("partition", node, () => cluster.RunAsync("partition", node));
                await Task.Delay(ElectionTimeout * 2 + TimeSpan.FromMilliseconds(rng.Next(0, 2_000)));
                await FaultAsync("heal", node, () => cluster.RunAsync("heal", node));
                break;
            }

            case FaultKind.SkewClock:
            {
                // Within the skew lock users are told to allow for; it lasts until the final heal.
                var node = RandomNode();
                var skew = TimeSpan.FromMilliseconds(rng.Next(-(int)maxClockSkew.TotalMilliseconds, (int)maxClockSkew.TotalMilliseconds + 1));
                skewed.Add(node);
                await FaultAsync($"skew {skew.TotalMilliseconds:+0;-0} ms", node, () => RestartAsync(node, skew));
                break;
            }

            case FaultKind.WipeNode:
            {
                // Any node, the leader too: the two others hold every committed entry, and the wiped one votes again
                // only once it has them.
                var node = RandomNode();
                skewed.Remove(node);
                await FaultAsync("wipe-recover", node, () => cluster.RunAsync("recover", node));
                break;
            }

            case FaultKind.ReplaceNode:
            {
                // Runtime membership: remove a node (the leader too: it hands over), delete its data, start it as a new
                // node with the same addresses and add it again (local-cluster.sh replace N).
                var node = RandomNode();
                skewed.Remove(node);
                await FaultAsync("replace", node, () => cluster.RunAsync("replace", node));
                break;
            }

            case FaultKind.KillAll:
                foreach (var node in LocalCluster.Nodes)
                    await cluster.RunAsync("kill", node);
                history.RecordFault("kill-all", "node1,node2,node3");
                await Task.Delay(rng.Next(200, 1_000));
                await cluster.RunAsync("start");
                history.RecordFault("start-all", "node1,node2,node3");
                break;
        }
    }

    /// <summary>Undoes every fault: reconnects and resumes every node, starts stopped ones, removes clock skew.</summary>
    public async Task HealAllAsync()
    {
        await cluster.RunAsync("heal");
        foreach (var node in LocalCluster.Nodes)
        {
            try
            {
                await cluster.RunAsync("resume", node);
            }
            catch (InvalidOperationException)
            {
                // Not running: the start below takes care of it.
            }
        }

        foreach (var node in skewed.ToList())
            await RestartAsync(node);
        await cluster.RunAsync("start");
        history.RecordFault("heal-all", "node1,node2,node3");
    }

    private Task RestartAsync(int node, TimeSpan skew = default)
    {
        var environment = new Dictionary<string, string>
        {
            [$"RAFTKV_NODE{node}_ARGS"] = skew == TimeSpan.Zero ? "" : "--RaftKv:ClockOffset=" + skew.ToString("c", CultureInfo.InvariantCulture),
        };
        if (skew == TimeSpan.Zero)
            skewed.Remove(node);
        return cluster.RunAsync(["restart", node.ToString(CultureInfo.InvariantCulture)], environment);
    }

    private async Task FaultAsync(string kind, int node, Func<Task> inject)
    {
        await inject();
        history.RecordFault(kind, $"node{node}");
    }

    private int RandomNode() => LocalCluster.Nodes[rng.Next(LocalCluster.Nodes.Length)];

    private async Task<int> LeaderOrRandomAsync()
    {
        try
        {
            return int.Parse(await cluster.RunAsync("leader"), CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return RandomNode();
        }
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
