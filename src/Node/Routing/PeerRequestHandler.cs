using System.Buffers;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using MessagePack;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;

namespace RaftKv.Node.Routing;

/// <summary>
/// The leader's side of the peer channel. A forwarded write is decoded as untrusted input, checked and limited by
/// this node's own rules (<see cref="WriteLimits"/>), and proposed like a client's write; its outcome goes back typed.
/// A read-index request (Raft's ReadIndex) runs this node's read barrier — a replication round that confirms it still
/// leads, and the apply of every entry it had appended, its term's first entry included — and answers its applied
/// index: a follower that has applied up to it observes every write acknowledged before it asked. Any member answers
/// the start-up probe's LogState with its commit index (a starting member with an empty data directory learns whether
/// the cluster has data it lacks).
/// </summary>
/// <remarks>
/// A node that is not the leader answers NotApplied and never forwards again, so a stale view cannot make writes
/// circle between followers.
/// </remarks>
public sealed partial class PeerRequestHandler(
    ClusterView view,
    Proposer proposer,
    ReadBarrier barrier,
    WriteLimits limits,
    RaftStateMachine stateMachine,
    Membership.ClusterMembership membership,
    ILogger<PeerRequestHandler> logger) : IPeerRequestHandler
{
    /// <inheritdoc/>
    public Task<PeerFrame>? Handle(byte type, in ReadOnlySequence<byte> payload) => type switch
    {
        PeerMessages.Propose => Propose(payload, withUser: false),
        PeerMessages.ProposeAs => Propose(payload, withUser: true),
        PeerMessages.ReadIndex when payload.IsEmpty => ReadIndexAsync(),
        PeerMessages.ReadIndex => throw new InvalidDataException("ReadIndex carries no payload."),
        PeerMessages.LogState when payload.IsEmpty => Task.FromResult(PeerMessages.EncodeLogState(view.Raft.AuditTrail.LastCommittedEntryIndex)),
        PeerMessages.LogState => throw new InvalidDataException("LogState carries no payload."),
        Membership.ClusterMembership.MemberChangeFrame => membership.HandleFrame(payload),
        Membership.ClusterMembership.RemovedNoticeFrame when payload.IsEmpty => membership.HandleRemovedNotice(),
        Membership.ClusterMembership.RemovedNoticeFrame => throw new InvalidDataException("RemovedNotice carries no payload."),
        _ => null,
    };

    private Task<PeerFrame> Propose(in ReadOnlySequence<byte> payload, bool withUser)
    {
        int database;
        string user;
        StateMachine.Commands.WriteCommand command;
        try
        {
            (database, user, command) = PeerMessages.ReadPropose(payload, withUser);
        }
        catch (MessagePackSerializationException e)
        {
            // Framing was intact, the command is not one this node can read (a newer member, or garbage from a member
            // with a bug): a definite answer, nothing was taken.
            LogUnreadable(logger, e.Message);
            return Task.FromResult(PeerMessages.Encode(WriteOutcome.Answered(NodeReplies.UnreadableForwardedWrite)));
        }

        if (limits.Check(command) is { } refusal)
            return Task.FromResult(PeerMessages.Encode(WriteOutcome.Answered(refusal)));
        if (!view.IsLeader && !view.LeaderIsLocal)
            return Task.FromResult(PeerMessages.Encode(WriteOutcome.NotApplied));

        // ProposeAsync joins the open batch before it first awaits, so writes arriving in order are proposed in order.
        return EncodeAsync(proposer.ProposeAsync(limits.Apply(command), database, user));

        static async Task<PeerFrame> EncodeAsync(Task<WriteOutcome> outcome) => PeerMessages.Encode(await outcome.ConfigureAwait(false));
    }

    private async Task<PeerFrame> ReadIndexAsync()
    {
        // A leader whose applier stopped cannot run a barrier (it would wait for applies that never come): "not the
        // leader", so the follower asks again once a member that applies leads.
        if (!view.IsLeader || stateMachine.Stopped is not null)
            return PeerMessages.EncodeReadIndex(null);
        try
        {
            await barrier.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            if (view.IsLeader && view.Raft.AuditTrail is WriteAheadLog log)
            {
                barrier.CountReadIndexServed();
                return PeerMessages.EncodeReadIndex(log.LastAppliedIndex);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogReadIndexFailed(logger, e.GetType().Name);
        }

        return PeerMessages.EncodeReadIndex(null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A forwarded write could not be decoded: {Problem}")]
    private static partial void LogUnreadable(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A read-index request failed ({Reason})")]
    private static partial void LogReadIndexFailed(ILogger logger, string reason);
}
