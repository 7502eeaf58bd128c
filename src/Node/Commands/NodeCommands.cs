using System.Globalization;
using System.Text;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Options;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;
using RaftKv.Node.Routing;
using RaftKv.Node.Resp;
using RaftKv.Node.Security;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// Commands the node answers itself, without the log: connection and introspection commands (<c>PING</c>,
/// <c>ECHO</c>, <c>QUIT</c>, <c>COMMAND</c>, <c>ROLE</c>, <c>INFO</c>, <c>TIME</c>) and the connection's own state
/// (<c>SELECT</c>, <c>HELLO</c>, <c>CLIENT</c>, <c>RESET</c>, <c>AUTH</c>).
/// </summary>
/// <remarks>
/// Adding a node command: a <see cref="CommandSpec"/> in <see cref="Specs"/> (so <c>COMMAND</c> lists it), a case in
/// <see cref="Execute"/>, a wire test. Data commands live in RaftKv.StateMachine's <see cref="CommandParser"/>.
/// </remarks>
public sealed class NodeCommands(
    ClusterView view,
    RaftStateMachine stateMachine,
    Proposer proposer,
    ReadBarrier barrier,
    IServiceProvider services,
    TimeProvider time,
    IOptions<NodeOptions> options)
{
    /// <summary>The Redis version we answer as: the one whose replies and error texts we follow.</summary>
    public const string RedisVersion = "7.0.15";

    /// <summary>The node commands, as <c>COMMAND</c> describes them.</summary>
    public static IReadOnlyList<CommandSpec> Specs { get; } =
    [
        // Their metadata (arity, ACL categories, subcommands) lives in RaftKv.StateMachine's NodeCommandTable: ACL rules
        // are applied there. MULTI, EXEC, DISCARD, WATCH, UNWATCH: handled by the dispatcher before this class sees a request.
        .. NodeCommandTable.Server,
        .. TransactionCommands.Specs,
    ];

    private readonly DateTimeOffset startedAt = time.GetUtcNow();

    private AccessControl Access => field ??= services.GetRequiredService<AccessControl>();

    private DiagnosticCommands Diagnostics => field ??= services.GetRequiredService<DiagnosticCommands>();

    /// <summary>Executes a node command, or answers Redis's unknown-command error.</summary>
    /// <remarks>
    /// <c>CONFIG SET</c> of a replicated parameter and <c>ACL LOAD</c> complete once the log applied them, a failed
    /// <c>AUTH</c> after a read barrier (<see cref="AccessControl.AuthenticateAfterBarrierAsync"/>); everything else at once.
    /// </remarks>
    public ValueTask<Reply> ExecuteAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        if (argv.IsEmpty)
            return new(UnknownCommand(argv));

        // The subcommands of ACL the state machine leaves to the node (its parser checked the arity).
        var name = argv[0].Span;
        if (Ascii.EqualsIgnoreCase(name, "acl"u8) && argv.Length >= 2)
            return services.GetRequiredService<AclCommands>().ExecuteAsync(argv, connection);

        CommandSpec? spec = null;
        foreach (var candidate in Specs)
        {
            if (Ascii.EqualsIgnoreCase(name, candidate.Name))
            {
                spec = candidate;
                break;
            }
        }

        if (spec is null)
            return new(UnknownCommand(argv));
        if (!CommandParser.HasValidArity(spec.Arity, argv.Length))
            return new(CommandParser.WrongArity(spec.Name));

        return spec.Name switch
        {
            "config" => services.GetRequiredService<ConfigCommands>().ExecuteAsync(argv, connection),
            "auth" => ConnectionCommands.AuthAsync(argv, connection, Access),
            "hello" => ConnectionCommands.HelloAsync(argv, connection, Access, view.IsLeader),
            "backup.start" or "backup.read" or "backup.end" => services.GetRequiredService<BackupCommands>().ExecuteAsync(spec.Name, argv.ToArray()),
            "member.add" or "member.remove" or "member.list" => new(MemberCommands.ExecuteAsync(spec.Name, argv.ToArray(), view, services.GetRequiredService<Membership.ClusterMembership>(), connection.Aborted)),
            _ => new(Execute(spec, argv, connection)),
        };
    }

    private Reply Execute(CommandSpec spec, ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        switch (spec.Name)
        {
            case "ping":
                return argv.Length switch
                {
                    1 => NodeReplies.Pong,
                    2 => Reply.FromBulk(argv[1].ToArray()),
                    _ => CommandParser.WrongArity("ping"),
                };
            case "echo":
                return Reply.FromBulk(argv[1].ToArray());
            case "quit":
                connection.CloseAfterReply();
                return Reply.Ok;
            case "command":
                return Command(argv);
            case "role":
                return Role();
            case "time":
                return Time();
            case "select":
                return ConnectionCommands.Select(argv, connection);
            case "client":
                return ConnectionCommands.Client(argv, connection, services.GetRequiredService<RespServer>().Connections, time.GetUtcNow());
            case "reset":
                return ConnectionCommands.Reset(connection, Access);
            case "cluster":
                return options.Value.ClusterCommands
                    ? new ClusterCommands(view, AppliedIndex).Execute(argv)
                    : NodeReplies.ClusterSupportDisabled;
            case "debug":
                return Debug(argv);
            case "bgsave":
                return BackgroundSave(argv);
            case "lastsave":
                return Reply.FromInteger((stateMachine.Snapshots.LastAt ?? stateMachine.StartedAt).ToUnixTimeSeconds());
            case "slowlog":
                return Diagnostics.SlowLog(argv);
            case "latency":
                return Diagnostics.Latency(argv);
            default:
                return argv.Length <= 2 ? Info(argv.Length == 2 ? Encoding.ASCII.GetString(argv[1].Span) : "default")
                    : Reply.SyntaxError;
        }
    }

    // BGSAVE [SCHEDULE]: a snapshot of this node's applied state, written in the background as the policy's are.
    private Reply BackgroundSave(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var schedule = argv.Length == 2 && Ascii.EqualsIgnoreCase(argv[1].Span, "SCHEDULE"u8);
        if (argv.Length > 2 || (argv.Length == 2 && !schedule))
            return Reply.SyntaxError;
        if (stateMachine.TryStartSnapshot())
            return NodeReplies.BackgroundSavingStarted;
        if (!schedule)
            return NodeReplies.BackgroundSaveInProgress;
        stateMachine.ScheduleSnapshot();
        return NodeReplies.BackgroundSavingScheduled;
    }

    /// <summary>Redis 7's unknown-command error (see <see cref="NodeReplies.UnknownCommand"/>).</summary>
    public static Reply UnknownCommand(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => NodeReplies.UnknownCommand(argv);

    private static IEnumerable<CommandSpec> AllSpecs => CommandParser.Commands.Concat(Specs);

    private static Reply Command(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv.Length == 1)
            return Reply.FromArray([.. AllSpecs.Select(Describe)]);

        var sub = argv[1].Span;
        if (Ascii.EqualsIgnoreCase(sub, "COUNT"u8))
            return Reply.FromInteger(AllSpecs.Count());
        if (Ascii.EqualsIgnoreCase(sub, "INFO"u8))
        {
            var items = new Reply[argv.Length - 2];
            for (var i = 2; i < argv.Length; i++)
            {
                var wanted = argv[i];
                items[i - 2] = AllSpecs.FirstOrDefault(s => Ascii.EqualsIgnoreCase(wanted.Span, s.Name)) is { } spec
                    ? Describe(spec)
                    : Reply.NullArray;
            }

            return Reply.FromArray(items);
        }

        // redis-cli asks for COMMAND DOCS at start to show hints; having none is a valid answer.
        if (Ascii.EqualsIgnoreCase(sub, "DOCS"u8))
            return Reply.EmptyArray;

        return NodeReplies.UnknownSubcommand(Encoding.UTF8.GetString(sub), "COMMAND");
    }

    // Redis 7's COMMAND entry: name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands.
    private static Reply Describe(CommandSpec spec) => Reply.FromArray(
    [
        Reply.FromBulk(spec.Name),
        Reply.FromInteger(spec.Arity),
        Reply.FromArray([Reply.Status(spec.IsWrite ? "write" : spec.FirstKey > 0 ? "readonly" : "fast")]),
        Reply.FromInteger(spec.FirstKey),
        Reply.FromInteger(spec.LastKey),
        Reply.FromInteger(spec.KeyStep),
        Reply.EmptyArray,
        Reply.EmptyArray,
        Reply.EmptyArray,
        Reply.EmptyArray,
    ]);

    // Redis's shape: ["master", offset, [[host, port, offset]...]] or ["slave", host, port, state, offset].
    private Reply Role()
    {
        var applied = AppliedIndex;
        if (view.IsLeader)
        {
            var replicas = view.Members
                .Where(m => m.Resp != view.LeaderRespAddress)
                .Select(m => ClusterView.SplitHostPort(m.Resp) is var (host, port)
                    ? Reply.FromArray([Reply.FromBulk(host), Reply.FromBulk(port.ToString(CultureInfo.InvariantCulture)), Reply.FromBulk("0")])
                    : Reply.NullArray);
            return Reply.FromArray([Reply.FromBulk("master"), Reply.FromInteger(applied), Reply.FromArray([.. replicas])]);
        }

        var (leaderHost, leaderPort) = view.LeaderRespAddress is { } leader ? ClusterView.SplitHostPort(leader) : ("", -1);
        return Reply.FromArray(
        [
            Reply.FromBulk("slave"),
            Reply.FromBulk(leaderHost),
            Reply.FromInteger(leaderPort),
            Reply.FromBulk(leaderPort >= 0 ? "connected" : "connect"),
            Reply.FromInteger(applied),
        ]);
    }

    // DEBUG DIGEST: a digest of the whole replicated state (not Redis's bytes: ours is order-independent and covers
    // scripts and sessions), with the applied index it belongs to, so replicas can be compared from outside.
    private Reply Debug(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv.Length == 2 && Ascii.EqualsIgnoreCase(argv[1].Span, "digest"u8))
        {
            var (digest, applied) = stateMachine.Inspect(s => (s.ComputeDigest(), AppliedIndex));
            return Reply.FromBulk($"{applied}:{digest}");
        }

        return NodeReplies.DebugDigestOnly;
    }

    // [seconds, microseconds] of cluster time as this node sees it: max(its clock, the last applied stamp), the time
    // reads judge expiry at, so TIME never runs behind a TTL's countdown.
    private Reply Time()
    {
        var microseconds = Math.Max(
            (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / (TimeSpan.TicksPerMillisecond / 1000),
            stateMachine.ClusterTime * 1000);
        var (seconds, fraction) = Math.DivRem(microseconds, 1_000_000);
        return Reply.FromArray(
        [
            Reply.FromBulk(seconds.ToString(CultureInfo.InvariantCulture)),
            Reply.FromBulk(fraction.ToString(CultureInfo.InvariantCulture)),
        ]);
    }

    private long AppliedIndex => (view.Raft.AuditTrail as WriteAheadLog)?.LastAppliedIndex ?? 0;

    private Reply Info(string section)
    {
        // Redis's default leaves commandstats out; "all" and "everything" have every section.
        var wanted = section.ToLowerInvariant();
        var all = wanted is "all" or "everything";
        var text = new StringBuilder();
        foreach (var (name, write) in Sections())
        {
            if (!all && wanted != name && (wanted != "default" || name == "commandstats"))
                continue;
            if (text.Length > 0)
                text.Append("\r\n");
            if (name == "cpu")
                text.Append("# CPU\r\n");
            else
                text.Append("# ").Append(char.ToUpperInvariant(name[0])).Append(name.AsSpan(1)).Append("\r\n");
            write(text);
        }

        return Reply.FromBulk(text.ToString());
    }

    private IEnumerable<(string Name, Action<StringBuilder> Write)> Sections()
    {
        yield return ("server", WriteServer);
        yield return ("clients", WriteClients);
        yield return ("memory", WriteMemory);
        yield return ("persistence", WritePersistence);
        yield return ("replication", WriteReplication);
        yield return ("stats", WriteStats);
        yield return ("cpu", static text => DiagnosticCommands.WriteCpu(text));
        yield return ("commandstats", Diagnostics.WriteCommandStats);
        yield return ("errorstats", Diagnostics.WriteErrorStats);
        yield return ("keyspace", WriteKeyspace);
        yield return ("locks", WriteLocks);
        yield return ("raft", WriteRaft);
    }

    private void WriteServer(StringBuilder text)
    {
        var uptime = (long)(time.GetUtcNow() - startedAt).TotalSeconds;
        Line(text, "redis_version", RedisVersion);
        Line(text, "raftkv_version", typeof(NodeCommands).Assembly.GetName().Version?.ToString() ?? "0");
        Line(text, "redis_mode", "standalone");
        Line(text, "os", System.Runtime.InteropServices.RuntimeInformation.OSDescription);
        Line(text, "process_id", Environment.ProcessId);
        var resp = services.GetRequiredService<RespServer>();
        Line(text, "tcp_port", resp.Port);
        if (resp.TlsPort != 0)
            Line(text, "tls_port", resp.TlsPort); // not in Redis's INFO; says where TLS clients connect
        Line(text, "uptime_in_seconds", uptime);
        Line(text, "uptime_in_days", uptime / 86400);
    }

    private void WriteClients(StringBuilder text)
    {
        var server = services.GetRequiredService<RespServer>();
        Line(text, "connected_clients", server.ConnectedClients);
        Line(text, "maxclients", server.Limits.MaxClients);
        Line(text, "client_recent_max_input_buffer", server.MaxInputBufferBytes);
        Line(text, "client_recent_max_output_buffer", server.MaxOutputBufferBytes);
        Line(text, "blocked_clients", services.GetRequiredService<Locks.LockWaits>().Waiting); // blocked in a lock wait
    }

    // Redis's fields, from the state machine's own deterministic estimate (MemoryCosts): the size maxmemory judges by,
    // equal on every replica at the same applied index. The process's own figures follow for the operator.
    private void WriteMemory(StringBuilder text)
    {
        var (used, keys, sessions, scripts, acl, maxMemory, set) = stateMachine.Inspect(static s =>
            (s.UsedMemory, s.Databases.Sum(static d => d.UsedMemory), s.Sessions.UsedMemory, s.ScriptMemory, s.Acl.UsedMemory, s.MaxMemory, s.MaxMemorySetting is not null));
        var rss = Environment.WorkingSet;
        Line(text, "used_memory", used);
        Line(text, "used_memory_human", MemoryConfigParameters.ToHuman(used));
        Line(text, "used_memory_rss", rss);
        Line(text, "used_memory_rss_human", MemoryConfigParameters.ToHuman(rss));
        Line(text, "used_memory_keys", keys);
        Line(text, "used_memory_sessions", sessions);
        Line(text, "used_memory_scripts", scripts);
        Line(text, "used_memory_acl", acl);
        Line(text, "used_memory_managed_heap", GC.GetGCMemoryInfo().HeapSizeBytes);
        Line(text, "maxmemory", maxMemory);
        Line(text, "maxmemory_human", MemoryConfigParameters.ToHuman(maxMemory));
        Line(text, "maxmemory_policy", MemoryConfigParameters.NoEviction);
        Line(text, "maxmemory_set", set ? 1 : 0);
    }

    private void WriteReplication(StringBuilder text)
    {
        Line(text, "role", view.IsLeader ? "master" : "slave");
        if (!view.IsLeader && view.LeaderRespAddress is { } leader && ClusterView.SplitHostPort(leader) is var (host, port))
        {
            Line(text, "master_host", host);
            Line(text, "master_port", port);
        }

        Line(text, "connected_slaves", view.IsLeader ? view.Members.Count - 1 : 0);
    }

    // Redis's rdb_* fields mean the snapshot here (the Raft log is the append-only file, flushed before every
    // acknowledgement); the snapshot_* and wal_* fields are RaftKv's own.
    private void WritePersistence(StringBuilder text)
    {
        var activity = stateMachine.Snapshots;
        var now = time.GetUtcNow();
        Line(text, "loading", activity.Restoring ? 1 : 0);
        Line(text, "rdb_changes_since_last_save", stateMachine.CommandsSinceSnapshot);
        Line(text, "rdb_bgsave_in_progress", activity.InProgressSince is null ? 0 : 1);
        Line(text, "rdb_last_save_time", (activity.LastAt ?? startedAt).ToUnixTimeSeconds());
        Line(text, "rdb_last_bgsave_status", activity.LastFailed ? "err" : "ok");
        Line(text, "rdb_last_bgsave_time_sec", activity.LastAt is null ? -1 : (long)activity.LastDuration.TotalSeconds);
        Line(text, "rdb_current_bgsave_time_sec", activity.InProgressSince is { } since ? (long)(now - since).TotalSeconds : -1);
        Line(text, "rdb_saves", activity.Taken);
        Line(text, "snapshot_last_bytes", activity.LastBytes);
        Line(text, "snapshot_last_duration_ms", (long)activity.LastDuration.TotalMilliseconds);
        Line(text, "snapshot_entries_since", stateMachine.EntriesSinceSnapshot);
        Line(text, "snapshot_log_bytes_since", stateMachine.LogBytesSinceSnapshot);
        Line(text, "snapshot_every_entries", options.Value.SnapshotEveryEntries);
        Line(text, "snapshot_log_bytes", options.Value.SnapshotLogBytes);
        Line(text, "snapshots_refused", stateMachine.SnapshotsRefused);
        Line(text, "wal_checksums", options.Value.LogChecksums ? 1 : 0);
        Line(text, "wal_received_entries_refused", (services.GetService<DotNext.Net.Cluster.Consensus.Raft.IPersistentState>() as DurableWriteAheadLog)?.ReceivedEntriesRefused ?? 0);
        Line(text, "wal_disk_bytes", DirectoryBytes(Path.Combine(Path.GetFullPath(options.Value.DataPath), "wal")));
        Line(text, "snapshot_disk_bytes", DirectoryBytes(Path.Combine(Path.GetFullPath(options.Value.DataPath), "snapshots")));
    }

    private static long DirectoryBytes(string path)
    {
        try
        {
            return new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(static f => f.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0; // the directory is being created or compacted
        }
    }

    private void WriteStats(StringBuilder text)
    {
        var server = services.GetRequiredService<RespServer>();
        Line(text, "total_connections_received", server.TotalConnectionsReceived);
        Line(text, "rejected_connections", server.RejectedConnections);
        Diagnostics.WriteStatTotals(text);
        Line(text, "expired_keys", stateMachine.Inspect(static s => s.ExpiredKeysReclaimed));
        Line(text, "raft_entries_proposed", proposer.EntriesProposed);
        Line(text, "raft_commands_proposed", proposer.CommandsProposed);
        Line(text, "rejected_oom_before_log", proposer.RefusedForMemory);
        Line(text, "raft_batches_applied", stateMachine.BatchesApplied);
        Line(text, "raft_commands_applied", stateMachine.CommandsApplied);
        Line(text, "read_barriers_issued", barrier.BarriersIssued);
        Line(text, "read_indexes_requested", barrier.ReadIndexesRequested);
        Line(text, "read_indexes_served", barrier.ReadIndexesServed);
        Line(text, "raft_follower_log_flushes", (view.Raft.AuditTrail as DurableWriteAheadLog)?.FollowerFlushes ?? 0);
        Line(text, "writes_forwarded", services.GetRequiredService<LeaderForwarder>().Forwarded);
        var peers = services.GetService<PeerListener>();
        Line(text, "peer_connections_accepted", peers?.ConnectionsAccepted ?? 0);
        Line(text, "peer_connections_refused", peers?.ConnectionsRefused ?? 0);
        var raftPort = services.GetService<Hosting.AuthenticatedRaftTransport>();
        Line(text, "raft_connections_accepted", raftPort?.ConnectionsAccepted ?? 0);
        Line(text, "raft_connections_refused", raftPort?.ConnectionsRefused ?? 0);
    }

    private void WriteKeyspace(StringBuilder text)
    {
        var databases = stateMachine.Inspect(static s => s.Databases.Select(static d => (d.Count, d.ExpiringCount)).ToArray());
        for (var index = 0; index < databases.Length; index++)
        {
            var (keys, expires) = databases[index];
            if (keys > 0)
                text.Append(CultureInfo.InvariantCulture, $"db{index}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }

    // Not a Redis section: the replicated lock table (LOCK/RWLOCK/SEMAPHORE), per database that has locks.
    private void WriteLocks(StringBuilder text)
    {
        var (fencing, databases) = stateMachine.Inspect(static s =>
            (s.LastFencingToken, s.Databases.Select(static d => (d.Locks.Count, d.Locks.HolderCount, d.Locks.WaiterCount)).ToArray()));
        Line(text, "last_fencing_token", fencing);
        for (var index = 0; index < databases.Length; index++)
        {
            var (locks, holders, waiters) = databases[index];
            if (locks > 0)
                text.Append(CultureInfo.InvariantCulture, $"db{index}:locks={locks},holders={holders},waiters={waiters}\r\n");
        }
    }

    private void WriteRaft(StringBuilder text)
    {
        var log = view.Raft.AuditTrail;
        Line(text, "role", view.IsLeader ? "leader" : view.LeaderRespAddress is null ? "candidate" : "follower");
        Line(text, "term", view.Term);
        Line(text, "leader", view.LeaderRespAddress ?? "none");
        Line(text, "leader_raft", view.LeaderRaftAddress ?? "none");
        Line(text, "members", string.Join(",", view.Members.Select(static m => m.Resp)));
        Line(text, "commit_index", log.LastCommittedEntryIndex);
        Line(text, "applied_index", AppliedIndex);
        Line(text, "last_log_index", log.LastEntryIndex);
        Line(text, "cluster_time_ms", stateMachine.ClusterTime);
        Line(text, "clock_offset_ms", stateMachine.ClockOffsetMs);
        Line(text, "snapshot_every_entries", options.Value.SnapshotEveryEntries);
        Line(text, "snapshot_log_bytes", options.Value.SnapshotLogBytes);
        var recovery = services.GetRequiredService<NodeRecovery>();
        Line(text, "recovering", recovery.IsRecovering ? 1 : 0);
        Line(text, "recovery_target_index", recovery.TargetIndex);
        Line(text, "recovery_votes_refused", recovery.VotesRefused);
        var stopped = stateMachine.Stopped;
        Line(text, "applier_stopped", stopped is null ? 0 : 1);
        if (stopped is not null)
        {
            Line(text, "applier_stopped_index", stopped.Index);
            Line(text, "applier_stopped_reason", OneLine($"{stopped.Exception}: {stopped.Message}"));
        }
    }

    // INFO is one field per line: an exception's message may hold line breaks.
    private static string OneLine(string text) => text.Replace('\r', ' ').Replace('\n', ' ');

    private static void Line<T>(StringBuilder text, string name, T value)
        where T : notnull
        => text.Append(name).Append(':').Append(CultureInfo.InvariantCulture, $"{value}").Append("\r\n");
}
