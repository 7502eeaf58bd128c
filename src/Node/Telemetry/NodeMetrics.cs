using System.Diagnostics.Metrics;

namespace RaftKv.Node.Telemetry;

/// <summary>
/// The node's own meter (<c>RaftKv.Node</c>) and the instruments recorded where things happen: latencies on the write
/// and read paths, batch sizes on apply, the follower's flush. Counters the node already keeps for <c>INFO</c> are
/// observed rather than counted twice (<see cref="ObservedMetrics"/>).
/// </summary>
/// <remarks>
/// The meter comes from the host's <see cref="IMeterFactory"/>, so each node of an in-process test cluster has its own
/// (exported with <c>MeterScope.Local</c>). Recording allocates nothing: no tags, or a tag cached here. An instrument
/// nobody listens to costs one branch.
/// </remarks>
public sealed class NodeMetrics
{
    /// <summary>The meter's name; the state machine has none (it does no metrics I/O: the node reads its counters).</summary>
    public const string MeterName = "RaftKv.Node";

    // Seconds, from half a millisecond (a fast local commit) to ten seconds (ForwardTimeout): OpenTelemetry's default
    // boundaries are meant for milliseconds and would put every write in the first bucket.
    private static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    };

    // Lock waits run from a hand-off (milliseconds) to a client's whole timeout (seconds to minutes).
    private static readonly InstrumentAdvice<double> WaitBuckets = new()
    {
        HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    };

    private static readonly InstrumentAdvice<int> BatchBuckets = new()
    {
        HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    };

    private static readonly KeyValuePair<string, object?> OnLeader = new("path", "leader");
    private static readonly KeyValuePair<string, object?> ByReadIndex = new("path", "read_index");

    private readonly Histogram<double> proposalToCommit;
    private readonly Histogram<double> commitToReply;
    private readonly Histogram<double> readBarrier;
    private readonly Histogram<int> commandsPerEntry;
    private readonly Histogram<double> followerFlush;
    private readonly Counter<long> leaderChanges;
    private readonly Histogram<double> lockWait;
    private readonly Histogram<double> lockHandOff;

    /// <summary>Creates the meter and its recorded instruments.</summary>
    public NodeMetrics(IMeterFactory factory)
    {
        Meter = factory.Create(MeterName);
        proposalToCommit = Meter.CreateHistogram("raftkv.write.proposal_to_commit.duration", "s",
            "From a log entry's append on the leader to its commit and apply there (one per entry)", advice: LatencyBuckets);
        commitToReply = Meter.CreateHistogram("raftkv.write.commit_to_reply.duration", "s",
            "From a write's apply on the leader to its reply being handed to its connection (one per write)", advice: LatencyBuckets);
        readBarrier = Meter.CreateHistogram("raftkv.read.barrier.duration", "s",
            "A linearizable read barrier: the leader's own round (path=leader) or a follower's read index and wait for apply (path=read_index)",
            advice: LatencyBuckets);
        commandsPerEntry = Meter.CreateHistogram("raftkv.apply.commands_per_entry", "{command}",
            "Commands in each applied log entry that carried a batch (group commit's batch size)", advice: BatchBuckets);
        followerFlush = Meter.CreateHistogram("raftkv.follower.flush.duration", "s",
            "A follower's flush of received entries to disk before it acknowledges them", advice: LatencyBuckets);
        lockWait = Meter.CreateHistogram("raftkv.lock.wait.duration", "s",
            "How long a client's blocked lock acquire waited on this node, by outcome (granted, timed_out, released, uncertain, abandoned)",
            advice: WaitBuckets);
        lockHandOff = Meter.CreateHistogram("raftkv.lock.handoff.duration", "s",
            "From the leader's stamp of the entry that freed a lock to this node handing the grant to the waiting client",
            advice: LatencyBuckets);
        leaderChanges = Meter.CreateCounter<long>("raftkv.raft.leader_changes", "{change}",
            "Leader changes this node observed (a new leader, or none)");
    }

    /// <summary>The meter, for the observed instruments.</summary>
    public Meter Meter { get; }

    /// <summary>Records a log entry's append-to-apply time on the leader.</summary>
    public void ProposalCommitted(TimeSpan elapsed) => proposalToCommit.Record(elapsed.TotalSeconds);

    /// <summary>Records one write's apply-to-reply time.</summary>
    public void ReplyHandedOver(TimeSpan elapsed) => commitToReply.Record(elapsed.TotalSeconds);

    /// <summary>Records a read barrier's duration.</summary>
    public void ReadBarrierPassed(TimeSpan elapsed, bool onLeader) => readBarrier.Record(elapsed.TotalSeconds, onLeader ? OnLeader : ByReadIndex);

    /// <summary>Records the number of commands of an applied entry.</summary>
    public void EntryApplied(int commands) => commandsPerEntry.Record(commands);

    /// <summary>Records a follower flush.</summary>
    public void FollowerFlushed(TimeSpan elapsed) => followerFlush.Record(elapsed.TotalSeconds);

    /// <summary>Counts a leader change.</summary>
    public void LeaderChanged() => leaderChanges.Add(1);

    /// <summary>A blocked lock acquire ended after <paramref name="elapsed"/>, with <paramref name="outcome"/>.</summary>
    public void LockWaitEnded(TimeSpan elapsed, string outcome) => lockWait.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>A waiter here was granted a lock <paramref name="elapsed"/> after the freeing entry was stamped.</summary>
    public void LockHandedOff(TimeSpan elapsed) => lockHandOff.Record(elapsed.TotalSeconds);
}
