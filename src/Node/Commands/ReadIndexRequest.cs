using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// The leader's side of a follower's linearizable read (Raft's ReadIndex): <c>RAFTKV.READINDEX</c> waits for a read
/// barrier here — a replication round that confirms this node still leads, and the apply of every entry it had
/// appended, its current term's first entry included — and answers the index this node has applied. A follower that
/// has applied up to that index can read locally and observe every write acknowledged before it asked.
/// </summary>
/// <remarks>
/// DotNext's follower read barrier asks the leader for its commit index without either check: right after an
/// election the new leader's commit index can lag writes the previous leader acknowledged (it learns them only when it
/// commits an entry of its own term), and the chaos soak caught a follower read returning a counter value below one
/// already acknowledged. The reply travels like <c>RAFTKV.PROPOSE</c>'s, as the MessagePack of a <see cref="Reply"/>.
/// </remarks>
internal static class ReadIndexRequest
{
    public static ReadOnlySpan<byte> Name => "raftkv.readindex"u8;

    public static Task<Reply> HandleAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, ClusterView view, ReadBarrier barrier)
    {
        if (argv.Length != 1)
            return Task.FromResult(CommandParser.WrongArity("raftkv.readindex"));
        return view.IsLeader
            ? ReadIndexAsync(view, barrier)
            : Task.FromResult(ForwardedWrite.ToPeer(view.NotLeaderReply()));
    }

    private static async Task<Reply> ReadIndexAsync(ClusterView view, ReadBarrier barrier)
    {
        Reply reply;
        try
        {
            await barrier.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            if (view.IsLeader && view.Raft.AuditTrail is WriteAheadLog log)
            {
                reply = Reply.FromInteger(log.LastAppliedIndex);
                barrier.CountReadIndexServed();
            }
            else
            {
                reply = view.NotLeaderReply();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            reply = ClusterView.NoLeader;
        }

        return ForwardedWrite.ToPeer(reply);
    }
}
