using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Options;

namespace RaftKv.Node.Raft;

/// <summary>
/// Recovery mode: a node whose data was replaced (an emptied data directory) or lost follows, appends, applies and
/// answers reads, but neither votes nor stands for election until its log has caught up with what the cluster had
/// committed. Raft's safety assumes a voter never forgets its log and its vote; a node that did could elect a leader
/// missing entries it had acknowledged, or vote twice in one term.
/// </summary>
/// <remarks>
/// <para>
/// The target is the highest of the leader's commit index as first told to this node after the start (the first
/// commit the follower's AppendEntries asks of the log), the members' commit indexes answered to the start-up probe,
/// and the index the marker names. Caught up means this node's commit index reached it.
/// </para>
/// <para>
/// On leaving, the node first records a vote for the current leader in the current term (so it cannot vote for a
/// second candidate in the term it joined in), then deletes the marker durably, then votes again; last it leaves
/// DotNext's standby mode, which kept it from becoming a candidate (its own vote would have counted).
/// </para>
/// </remarks>
public sealed partial class NodeRecovery(IOptions<NodeOptions> options, TimeProvider time, IServiceProvider services, ILogger<NodeRecovery> logger)
{
    private readonly TaskCompletionSource left = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool recovering;
    private long knownIndex;
    private long firstCommitTold = -1;
    private long votesRefused;

    /// <summary>True while this node refuses to vote.</summary>
    public bool IsRecovering => recovering;

    /// <summary>The commit index this node must reach before it votes again (so far: later knowledge may raise it).</summary>
    public long TargetIndex => Math.Max(Interlocked.Read(ref knownIndex), Interlocked.Read(ref firstCommitTold));

    /// <summary>Vote requests refused because this node was recovering, since start.</summary>
    public long VotesRefused => Interlocked.Read(ref votesRefused);

    /// <summary>Completes when this node has left recovery (never, if it was not in it at start).</summary>
    public Task Left => left.Task;

    private string DataPath => Path.GetFullPath(options.Value.DataPath);

    /// <summary>
    /// Decides at start, before the log is opened, whether this node recovers: a marker left by an earlier start
    /// says so; otherwise an empty data directory recovers when <c>RaftKv:Storage:Recover</c> asks for it or when a
    /// member answered the start-up probe with a log that is not empty (<paramref name="membersCommitted"/>: the highest
    /// commit index the members answered, null when none answered).
    /// </summary>
    /// <exception cref="NodeStartupException"><c>Recover</c> is set on a data directory that holds a log, or the marker is unreadable.</exception>
    public void Decide(long? membersCommitted)
    {
        var dataPath = DataPath;
        var members = membersCommitted ?? 0;
        if (RecoveryMarker.Read(dataPath) is { } marker)
        {
            Resume(marker.Reason, Math.Max(marker.KnownIndex, members));
            return;
        }

        var empty = IsEmpty(dataPath);

        // A node joining a running cluster never was a member: it has nothing to forget, and it votes only once the
        // configuration entry that adds it has reached its log (DotNext keeps it frozen until then).
        if (options.Value.Join && empty && !Membership.MemberConfigurationStorage.Exists(dataPath))
            return;
        if (options.Value.Storage.Recover)
        {
            if (!empty)
            {
                throw new NodeStartupException(
                    $"RaftKv:Storage:Recover=true, but the data directory '{dataPath}' holds a log or a snapshot: recovery replaces a node's data. "
                    + "Empty the directory to replace it, or start without the setting to keep it.");
            }

            Enter("explicit (RaftKv:Storage:Recover)", members);
        }
        else if (empty && members > 0)
        {
            Enter("empty data directory, the members' logs are not", members);
        }
    }

    /// <summary>
    /// Enters recovery because this node found data it once had lost: <paramref name="index"/> is an index it knows it
    /// had committed. Call before the Raft member starts (the marker is written and synced before any vote).
    /// </summary>
    public void Enter(string reason, long index)
    {
        new RecoveryMarker(reason, index, time.GetUtcNow()).Write(DataPath);
        Resume(reason, index);
    }

    /// <summary>Whether a vote may be granted now; counts and logs a refusal.</summary>
    internal bool AllowsVote()
    {
        if (!recovering)
            return true;
        Interlocked.Increment(ref votesRefused);
        LogVoteRefused(logger, TargetIndex);
        return false;
    }

    /// <summary>
    /// The follower's log was asked to commit up to <paramref name="requested"/> (DotNext's AppendEntries handler, under
    /// its transition lock, with the sender recorded as leader) and now has <paramref name="committed"/> committed.
    /// </summary>
    internal async ValueTask OnCommitAsync(IPersistentState log, long requested, long committed, CancellationToken token)
    {
        Interlocked.CompareExchange(ref firstCommitTold, requested, -1);
        var target = TargetIndex;
        if (committed < target || services.GetService<IRaftCluster>()?.Leader is not { } leader)
            return;

        // The vote first: once the marker is gone a restart would not refuse votes any more.
        await log.UpdateVotedForAsync(leader.Id, token).ConfigureAwait(false);
        try
        {
            RecoveryMarker.Delete(DataPath);
        }
        catch (IOException e)
        {
            // Still recovering: the next commit tries again.
            LogMarkerNotDeleted(logger, e.Message);
            return;
        }

        recovering = false;
        LogLeft(logger, committed, target, leader.EndPoint.ToString() ?? "?", log.Term);
        left.TrySetResult();
    }

    private void Resume(string reason, long index)
    {
        Interlocked.Exchange(ref knownIndex, index);
        recovering = true;
        LogEntered(logger, reason, index);
    }

    // Empty: neither a log (wal/) nor a snapshot (snapshots/) holds a file.
    private static bool IsEmpty(string dataPath)
        => !HasFiles(Path.Combine(dataPath, "wal")) && !HasFiles(Path.Combine(dataPath, "snapshots"));

    private static bool HasFiles(string directory)
        => Directory.Exists(directory) && Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Any();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery: this node's data was replaced or lost ({Reason}); it follows but does not vote until its log has caught up (known committed index {Index})")]
    private static partial void LogEntered(ILogger logger, string reason, long index);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery: refused a vote, this node's log has not caught up (target index {Target})")]
    private static partial void LogVoteRefused(ILogger logger, long target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery: caught up (commit index {Committed} >= target {Target}); recorded a vote for the leader {Leader} in term {Term} and votes again")]
    private static partial void LogLeft(ILogger logger, long committed, long target, string leader, long term);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recovery: caught up, but the marker could not be deleted ({Problem}); still not voting")]
    private static partial void LogMarkerNotDeleted(ILogger logger, string problem);
}
