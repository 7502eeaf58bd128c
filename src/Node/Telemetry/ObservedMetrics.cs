using System.Diagnostics.Metrics;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using RaftKv.Node.Raft;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;

namespace RaftKv.Node.Telemetry;

/// <summary>
/// The numbers <c>INFO</c> already computes, as observable instruments of <see cref="NodeMetrics.Meter"/>: read when a
/// reader collects (a scrape, an OTLP export), never bookkept again on the request path. Also counts leader changes.
/// </summary>
/// <remarks>
/// Registered when the host starts, after the state machine was restored: an observation resolves the Raft member,
/// which must not be built earlier (see <see cref="Hosting.RaftKvNode.StartAsync"/>).
/// </remarks>
internal sealed class ObservedMetrics(NodeMetrics metrics, IServiceProvider services) : IHostedService
{
    private static readonly KeyValuePair<string, object?> Leader = new("role", "leader");
    private static readonly KeyValuePair<string, object?> Follower = new("role", "follower");
    private static readonly KeyValuePair<string, object?> Candidate = new("role", "candidate");

    private IRaftCluster? cluster;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var view = services.GetRequiredService<ClusterView>();
        var state = services.GetRequiredService<RaftStateMachine>();
        var proposer = services.GetRequiredService<Proposer>();
        var barrier = services.GetRequiredService<ReadBarrier>();
        var resp = services.GetRequiredService<RespServer>();
        var log = view.Raft.AuditTrail;
        var durable = log as DurableWriteAheadLog;
        var meter = metrics.Meter;

        cluster = view.Raft;
        cluster.LeaderChanged += OnLeaderChanged;

        meter.CreateObservableGauge("raftkv.raft.role", () => Role(view), "{role}",
            "1 for this node's current role (leader: live leadership; follower: a leader is known; candidate: none), 0 for the others");
        meter.CreateObservableGauge("raftkv.raft.term", () => view.Term, "{term}", "The current Raft term");
        meter.CreateObservableGauge("raftkv.raft.commit_index", () => log.LastCommittedEntryIndex, "{entry}", "The last committed log index this node knows");
        meter.CreateObservableGauge("raftkv.raft.applied_index", () => state.AppliedIndex, "{entry}", "The last log index applied to this node's state");
        meter.CreateObservableGauge("raftkv.raft.last_log_index", () => log.LastEntryIndex, "{entry}", "The last index in this node's log");
        meter.CreateObservableGauge("raftkv.raft.apply_lag", () => Math.Max(0, log.LastCommittedEntryIndex - state.AppliedIndex), "{entry}",
            "Committed entries not yet applied here");
        meter.CreateObservableGauge("raftkv.raft.applier_stopped", () => state.Stopped is null ? 0 : 1, "{stopped}",
            "1 once this node's applier stopped (INFO raft applier_stopped)");
        meter.CreateObservableGauge("raftkv.locks.held", () => state.Inspect(static store => store.Databases.Sum(static d => d.Locks.HolderCount)), "{holder}",
            "Holders of the locks taken with LOCK/RWLOCK/SEMAPHORE.ACQUIRE, in every database (replicated state)");
        meter.CreateObservableGauge("raftkv.locks.waiting", () => state.Inspect(static store => store.Databases.Sum(static d => d.Locks.WaiterCount)), "{waiter}",
            "Waiters queued on locks, in every database (replicated state)");
        var waits = services.GetRequiredService<Locks.LockWaits>();
        meter.CreateObservableGauge("raftkv.locks.blocked_clients", () => waits.Waiting, "{client}",
            "Clients of this node blocked in a lock wait");
        meter.CreateObservableGauge("raftkv.clock.offset", () => state.ClockOffsetMs, "ms",
            "This node's clock minus the cluster time of the last applied entry (INFO raft clock_offset_ms)");

        // Commands by name (INFO commandstats' counters, never reset by CONFIG RESETSTAT: counters only grow).
        var commands = services.GetRequiredService<Commands.CommandStats>();
        meter.CreateObservableCounter("raftkv.commands.calls", () => CommandMeasurements(commands, static c => c.Calls), "{command}",
            "Commands run, by name (subcommands as name|sub), as INFO commandstats counts them");
        meter.CreateObservableCounter("raftkv.commands.failed", () => CommandMeasurements(commands, static c => c.FailedCalls), "{command}",
            "Commands that ran and answered an error, by name");
        meter.CreateObservableCounter("raftkv.commands.rejected", () => CommandMeasurements(commands, static c => c.RejectedCalls), "{command}",
            "Commands refused before they ran (arity, NOAUTH, NOPERM, OOM), by name");
        meter.CreateObservableCounter("raftkv.errors", () => commands.ErrorSnapshot(sinceReset: false).Select(static e => new Measurement<long>(e.Value, new KeyValuePair<string, object?>("error", e.Key))),
            "{reply}", "Error replies by their first word, as INFO errorstats counts them");
        meter.CreateObservableCounter("raftkv.apply.entries", () => state.BatchesApplied, "{entry}", "Log entries with a batch applied here");
        meter.CreateObservableCounter("raftkv.apply.commands", () => state.CommandsApplied, "{command}", "Commands applied here");
        meter.CreateObservableCounter("raftkv.write.entries_proposed", () => proposer.EntriesProposed, "{entry}", "Log entries this node proposed as leader");
        meter.CreateObservableCounter("raftkv.write.commands_proposed", () => proposer.CommandsProposed, "{command}", "Writes this node proposed as leader");
        meter.CreateObservableCounter("raftkv.write.refused_oom", () => proposer.RefusedForMemory, "{command}",
            "Writes answered -OOM before the log because the applied state is over maxmemory (INFO rejected_oom_before_log)");
        meter.CreateObservableCounter("raftkv.read.barriers", () => barrier.BarriersIssued, "{barrier}", "Read barriers issued (shared by concurrent reads)");
        meter.CreateObservableCounter("raftkv.read.read_indexes_requested", () => barrier.ReadIndexesRequested, "{request}",
            "Read indexes this node obtained from the leader as a follower");
        meter.CreateObservableCounter("raftkv.read.read_indexes_served", () => barrier.ReadIndexesServed, "{request}",
            "Read indexes this node gave followers as the leader");
        meter.CreateObservableCounter("raftkv.follower.flushes", () => durable?.FollowerFlushes ?? 0, "{flush}",
            "Flushes a follower made before acknowledging AppendEntries");

        meter.CreateObservableCounter("raftkv.snapshot.taken", () => state.Snapshots.Taken, "{snapshot}", "Snapshots written since start");
        meter.CreateObservableGauge("raftkv.snapshot.last.duration", () => state.Snapshots.LastDuration.TotalSeconds, "s",
            "How long writing the last snapshot took");
        meter.CreateObservableGauge("raftkv.snapshot.last.size", () => state.Snapshots.LastBytes, "By", "The last snapshot's size (written or restored)");
        meter.CreateObservableGauge("raftkv.snapshot.in_progress", () => state.Snapshots.InProgressSince is null ? 0 : 1, "{snapshot}",
            "1 while a snapshot is being written");

        meter.CreateObservableGauge("raftkv.clients.connected", () => resp.ConnectedClients, "{connection}", "RESP clients connected now");
        meter.CreateObservableCounter("raftkv.clients.received", () => resp.TotalConnectionsReceived, "{connection}", "RESP connections accepted");
        meter.CreateObservableCounter("raftkv.clients.rejected", () => resp.RejectedConnections, "{connection}", "RESP connections refused (maxclients)");
        meter.CreateObservableGauge("raftkv.sessions.open", () => state.Inspect(static s => s.Sessions.Count), "{session}", "Client sessions (SESSION.OPEN) held by the state");
        meter.CreateObservableGauge("raftkv.keys", () => state.Inspect(static s => s.Databases.Sum(static d => (long)d.Count)), "{key}", "Keys in all databases");
        meter.CreateObservableGauge("raftkv.memory.used", () => state.Inspect(static s => s.UsedMemory), "By",
            "The state's deterministic memory estimate maxmemory judges by (INFO used_memory)");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (cluster is not null)
            cluster.LeaderChanged -= OnLeaderChanged;
        return Task.CompletedTask;
    }

    private void OnLeaderChanged(ICluster sender, IClusterMember? leader) => metrics.LeaderChanged();

    private static IEnumerable<Measurement<long>> CommandMeasurements(Commands.CommandStats stats, Func<Commands.CommandStat, long> value)
    {
        foreach (var command in stats.Snapshot(sinceReset: false))
        {
            if (value(command) > 0)
                yield return new Measurement<long>(value(command), new KeyValuePair<string, object?>("command", command.Name));
        }
    }

    private static IEnumerable<Measurement<int>> Role(ClusterView view)
    {
        var leader = view.IsLeader;
        var follower = !leader && view.Raft.Leader is not null;
        return
        [
            new(leader ? 1 : 0, Leader),
            new(follower ? 1 : 0, Follower),
            new(leader || follower ? 0 : 1, Candidate),
        ];
    }
}
