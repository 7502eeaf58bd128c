using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace RaftKv.Node.Raft;

/// <summary>
/// DotNext 6.12's write-ahead log, made to keep Raft's persistence rule: a follower writes the entries it receives to
/// disk (and records them in the log's checkpoint) before it acknowledges them.
/// </summary>
/// <remarks>
/// <para>
/// DotNext's follower appends AppendEntries to its memory-mapped pages and answers at once; the background flusher
/// makes them durable a little later. The log restarts from its checkpoint file (commit index, last flushed index),
/// so until that flush a crash forgets entries this node already acknowledged. When every node crashed together
/// (kill -9 of all three, power loss), a leader could have committed an entry that only it still had on disk: the
/// restarted followers elected one of themselves, wrote something else at that index, and the old leader, which
/// believed the index committed, kept its own entry — acknowledged writes lost and one replica different for good.
/// </para>
/// <para>
/// The leader side needs nothing: 6.12's <c>CommitAsync</c> already waits until the leader's own log is flushed up to
/// the commit index. With this class a follower's acknowledgement means "on my disk" too, so a committed entry is on
/// the disks of a majority, which is what Raft's election rule needs to keep it.
/// </para>
/// <para>
/// DotNext calls the multi-entry <c>AppendAsync</c> only from the follower's AppendEntries handler, under its
/// transition lock, so the flush below never has a concurrent waiter (<c>FlushAsync</c> waits on an event that allows
/// a single waiter in 6.12; a second concurrent caller crashes the process). Nothing else in RaftKv calls it.
/// </para>
/// <para>
/// This re-implements one member of <see cref="IAuditTrail{TEntry}"/>; every other member maps to the base class.
/// </para>
/// </remarks>
#pragma warning disable DOTNEXT001 // WriteAheadLog is marked experimental in 6.12; it is the log DotNext ships.
internal sealed class DurableWriteAheadLog(WriteAheadLog.Options configuration, IStateMachine stateMachine)
    : WriteAheadLog(configuration, stateMachine), IAuditTrail<IRaftLogEntry>
#pragma warning restore DOTNEXT001
{
    private long followerFlushes;

    /// <summary>How many times this node flushed received entries before acknowledging them.</summary>
    public long FollowerFlushes => Interlocked.Read(ref followerFlushes);

    async ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntry>(ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted, CancellationToken token)
    {
        await AppendAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        await FlushAsync(token).ConfigureAwait(false);
        Interlocked.Increment(ref followerFlushes);
    }
}
