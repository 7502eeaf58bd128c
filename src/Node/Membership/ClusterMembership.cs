using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Extensions;
using Microsoft.Extensions.Options;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;
using RaftKv.Node.Routing;
using RaftKv.StateMachine;

namespace RaftKv.Node.Membership;

/// <summary>A membership change asked of the cluster.</summary>
public abstract record MemberChange
{
    /// <summary>Add <paramref name="Member"/>: it catches up as a non-voting member first, then becomes a voter.</summary>
    public sealed record Add(MemberEndPoint Member) : MemberChange;

    /// <summary>Remove the member listening on <paramref name="Raft"/> (its Raft URL).</summary>
    public sealed record Remove(string Raft) : MemberChange;
}

/// <summary>
/// Runtime membership, one member at a time, through DotNext's configuration entries (<c>AddMemberAsync</c>,
/// <c>RemoveMemberAsync</c>): any node takes a change and sends it to the leader over the peer channel; the leader runs it.
/// </summary>
/// <remarks>
/// <para>Adding: DotNext replicates the log (or a snapshot) to the new member for <c>raft:warmupRounds</c> rounds while it
/// does not count for the quorum, then appends the configuration entry with it; every node installs a configuration when
/// it applies its entry, and the endpoint carries the member's RESP and peer addresses (<see cref="MemberEndPoint"/>).</para>
/// <para>Removing the leader: it hands over first. It enters standby (steps down and stands for no election), waits for
/// another leader, and sends the removal to it like any follower; should that fail it leaves standby again.</para>
/// <para>One change at a time per leader (DotNext refuses a concurrent one); the answer is given once the leader applied
/// the configuration entry.</para>
/// </remarks>
public sealed partial class ClusterMembership(
    IRaftCluster cluster,
    ClusterView view,
    PeerConnectionSecurity security,
    MembershipWatch watch,
    IOptions<NodeOptions> options,
    ILogger<ClusterMembership> logger)
{
    /// <summary>Peer frame: a membership change, <c>[u8 op][u16 raft][u16 resp][u16 peer]</c> (big-endian lengths, UTF-8).</summary>
    public const byte MemberChangeFrame = 0x05;

    /// <summary>Peer frame, leader → a member it just removed: "you were removed" (empty). Answered with <c>+OK</c>.</summary>
    public const byte RemovedNoticeFrame = 0x06;

    private const byte AddOp = 1;
    private const byte RemoveOp = 2;

    private readonly TimeSpan changeTimeout = options.Value.MemberChangeTimeout;
    private readonly long maxFrameBytes = options.Value.Peer.MaxFrameBytes;
    private int changing;

    /// <summary>The member being added right now (caught up before it votes), or null.</summary>
    public MemberEndPoint? Joining { get; private set; }

    /// <summary>Runs <paramref name="change"/> here if this node leads, else sends it to the leader. The task is the reply.</summary>
    public async Task<Reply> ChangeAsync(MemberChange change, CancellationToken token)
    {
        if (cluster is not RaftCluster raft)
            return Reply.Error("ERR runtime membership needs the TCP Raft transport (tcp:// member addresses); with http:// it is static (RaftKv:Members)");
        if (view.IsLeader)
        {
            if (change is MemberChange.Remove remove && IsSelf(remove.Raft))
                return await HandOverAndRemoveAsync(raft, remove, token).ConfigureAwait(false);
            return await RunAsync(raft, change, token).ConfigureAwait(false);
        }

        return await SendToLeaderAsync(change, token).ConfigureAwait(false);
    }

    /// <summary>The leader's side of a change sent by another member (peer frame <see cref="MemberChangeFrame"/>).</summary>
    /// <exception cref="InvalidDataException">The frame is malformed.</exception>
    public Task<PeerFrame> HandleFrame(in ReadOnlySequence<byte> payload)
    {
        var change = Decode(payload);
        if (!view.IsLeader || cluster is not RaftCluster raft)
            return Task.FromResult(PeerMessages.Encode(WriteOutcome.NotApplied));

        // A removal of this leader sent by another member hands over like one asked here.
        return EncodeAsync(change is MemberChange.Remove remove && IsSelf(remove.Raft)
            ? HandOverAndRemoveAsync(raft, remove, CancellationToken.None)
            : RunAsync(raft, change, CancellationToken.None));

        static async Task<PeerFrame> EncodeAsync(Task<Reply> reply) => PeerMessages.Encode(WriteOutcome.Answered(await reply.ConfigureAwait(false)));
    }

    private async Task<Reply> RunAsync(RaftCluster raft, MemberChange change, CancellationToken token)
    {
        if (Interlocked.Exchange(ref changing, 1) == 1)
            return MemberReplies.ChangeInProgress;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(changeTimeout);
        try
        {
            switch (change)
            {
                case MemberChange.Add add:
                    if (raft.Members.Any(m => m.EndPoint.Equals(add.Member)))
                        return MemberReplies.AlreadyMember(add.Member.Raft);
                    if (raft.Members.Any(m => m.EndPoint is MemberEndPoint known && (known.Resp == add.Member.Resp || (known.Peer.Length > 0 && known.Peer == add.Member.Peer))))
                        return MemberReplies.AddressInUse;
                    LogAdding(logger, add.Member.Raft, add.Member.Resp, add.Member.Peer);
                    Joining = add.Member;
                    if (!await raft.AddMemberAsync(add.Member, timeout.Token).ConfigureAwait(false))
                        return MemberReplies.DidNotCatchUp(add.Member.Raft);
                    LogAdded(logger, add.Member.Raft, raft.Term);
                    return Reply.Ok;
                case MemberChange.Remove remove:
                    var endPoint = MemberEndPoint.ResolveRaft(remove.Raft);
                    if (!raft.Members.Any(m => m.EndPoint.Equals(endPoint)))
                        return MemberReplies.NotAMember(remove.Raft);
                    if (raft.Members.Count <= 1)
                        return MemberReplies.LastMember;
                    LogRemoving(logger, remove.Raft);
                    var removedPeer = raft.Members.Select(static m => m.EndPoint).OfType<MemberEndPoint>().FirstOrDefault(m => m.Equals(endPoint))?.Peer;
                    if (!await raft.RemoveMemberAsync(endPoint, timeout.Token).ConfigureAwait(false))
                        return MemberReplies.NotAMember(remove.Raft);
                    LogRemoved(logger, remove.Raft, raft.Term);

                    // The removed member may never learn the commit of its removal (the leader stops replicating to it
                    // once it applies it): tell it, so it stops serving and stands for no election.
                    if (removedPeer is { Length: > 0 })
                        _ = NotifyRemovedAsync(removedPeer);
                    return Reply.Ok;
                default:
                    return NodeReplies.InternalError;
            }
        }
        catch (FormatException e)
        {
            return MemberReplies.BadAddress(e.Message);
        }
        catch (NotLeaderException)
        {
            // Leadership ended during the change: the configuration entry may or may not have been committed.
            return NodeReplies.Uncertain;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !token.IsCancellationRequested)
        {
            LogTimedOut(logger, change.ToString(), changeTimeout);
            return MemberReplies.TimedOut(changeTimeout);
        }
        catch (Exception e) when (e.GetType().Name == "ConcurrentMembershipModificationException")
        {
            return MemberReplies.ChangeInProgress;
        }
        finally
        {
            Joining = null;
            Volatile.Write(ref changing, 0);
        }
    }

    /// <summary>This node was told by the leader that it was removed: it stops serving and stands for no election.</summary>
    public Task<PeerFrame> HandleRemovedNotice()
    {
        watch.MarkRemoved();
        LogToldRemoved(logger);
        if (cluster is RaftCluster raft)
            _ = raft.EnableStandbyModeAsync(CancellationToken.None).AsTask();
        return Task.FromResult(PeerMessages.Encode(WriteOutcome.Answered(Reply.Ok)));
    }

    private async Task NotifyRemovedAsync(string peer)
    {
        try
        {
            await using var link = new PeerLink(peer, security, TimeSpan.FromSeconds(5), maxFrameBytes, logger);
            var answer = await link.CallAsync(PeerProtocol.Frame(RemovedNoticeFrame, [])).ConfigureAwait(false);
            if (answer.Status != PeerCallStatus.Answered)
                LogNoticeLost(logger, peer);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogNoticeLost(logger, peer);
        }
    }

    // The leader asked to remove itself: it stops leading (standby: no election), and once another member leads it
    // sends the removal there. The cluster stays writable through the change, save for one election.
    private async Task<Reply> HandOverAndRemoveAsync(RaftCluster raft, MemberChange.Remove remove, CancellationToken token)
    {
        if (raft.Members.Count <= 1)
            return MemberReplies.LastMember;
        LogHandingOver(logger, remove.Raft, raft.Term);
        if (!await raft.EnableStandbyModeAsync(token).ConfigureAwait(false))
            return MemberReplies.ChangeInProgress;
        var deadline = DateTime.UtcNow + changeTimeout;
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                if (raft.Leader is { IsRemote: true })
                {
                    var reply = await SendToLeaderAsync(remove, token).ConfigureAwait(false);
                    if (!reply.IsError)
                        watch.MarkRemoved();
                    if (!reply.IsError || !IsRetryable(reply))
                    {
                        if (reply.IsError)
                            await raft.RevertToNormalModeAsync(CancellationToken.None).ConfigureAwait(false);
                        return reply;
                    }
                }

                await Task.Delay(50, token).ConfigureAwait(false);
            }
        }
        catch (Exception) when (!view.IsMember)
        {
            // Removed meanwhile: the change is done.
            return Reply.Ok;
        }

        await raft.RevertToNormalModeAsync(CancellationToken.None).ConfigureAwait(false);
        return MemberReplies.TimedOut(changeTimeout);
    }

    private static bool IsRetryable(Reply reply) => reply is { IsError: true, Text: { } text } && (text.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || text.StartsWith("MOVED", StringComparison.Ordinal));

    private async Task<Reply> SendToLeaderAsync(MemberChange change, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        string? leader;
        while ((leader = view.LeaderPeerAddress) is null || view.LeaderIsLocal)
        {
            if (DateTime.UtcNow > deadline)
                return NodeReplies.NoLeader;
            await Task.Delay(50, token).ConfigureAwait(false);
        }

        // A link of its own: adding a member may take as long as the catch-up, and must not hold up forwarded writes.
        await using var link = new PeerLink(leader, security, changeTimeout + TimeSpan.FromSeconds(5), maxFrameBytes, logger);
        var outcome = PeerMessages.DecodeWrite(await link.CallAsync(Encode(change)).ConfigureAwait(false));
        return outcome.Kind switch
        {
            WriteOutcomeKind.Answered => outcome.Reply!,
            WriteOutcomeKind.NotApplied => NodeReplies.NoLeader,
            _ => NodeReplies.Uncertain,
        };
    }

    private bool IsSelf(string raftAddress)
    {
        try
        {
            return cluster.Members.FirstOrDefault(static m => !m.IsRemote) is { } local && local.EndPoint.Equals(MemberEndPoint.ResolveRaft(raftAddress));
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The peer frame of <paramref name="change"/>.</summary>
    public static byte[] Encode(MemberChange change)
    {
        var (op, parts) = change switch
        {
            MemberChange.Add add => (AddOp, new[] { add.Member.Raft, add.Member.Resp, add.Member.Peer }),
            MemberChange.Remove remove => (RemoveOp, new[] { remove.Raft, "", "" }),
            _ => throw new ArgumentOutOfRangeException(nameof(change)),
        };
        var body = new ArrayBufferWriter<byte>(128);
        body.GetSpan(1)[0] = op;
        body.Advance(1);
        foreach (var part in parts)
        {
            var bytes = Encoding.UTF8.GetBytes(part);
            var span = body.GetSpan(2 + bytes.Length);
            BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)bytes.Length);
            bytes.CopyTo(span[2..]);
            body.Advance(2 + bytes.Length);
        }

        return PeerProtocol.Frame(MemberChangeFrame, body.WrittenSpan);
    }

    /// <summary>Reads a <see cref="MemberChangeFrame"/> payload.</summary>
    /// <exception cref="InvalidDataException">Malformed: unknown op, cut, or an address that is too long or not an address.</exception>
    public static MemberChange Decode(in ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        if (!reader.TryRead(out var op) || op is not (AddOp or RemoveOp))
            throw new InvalidDataException("A membership change with no or an unknown operation.");
        var parts = new string[3];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!reader.TryReadBigEndian(out short length) || length < 0 || length > MemberEndPoint.MaxAddressBytes || reader.Remaining < length)
                throw new InvalidDataException("A membership change with a cut or too long address.");
            var bytes = new byte[length];
            reader.TryCopyTo(bytes);
            reader.Advance(length);
            parts[i] = Encoding.UTF8.GetString(bytes);
        }

        if (!reader.End)
            throw new InvalidDataException("Bytes after a membership change.");
        try
        {
            return op == AddOp ? new MemberChange.Add(MemberEndPoint.Create(parts[0], parts[1], parts[2])) : new MemberChange.Remove(parts[0]);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    [LoggerMessage(EventId = NodeLogEvents.MemberAdding, Level = LogLevel.Warning, Message = "Membership: adding {Raft} (RESP {Resp}, peer {Peer}); it catches up before it votes")]
    private static partial void LogAdding(ILogger logger, string raft, string resp, string peer);

    [LoggerMessage(EventId = NodeLogEvents.MemberAdded, Level = LogLevel.Warning, Message = "Membership: {Raft} is a voting member (term {Term})")]
    private static partial void LogAdded(ILogger logger, string raft, long term);

    [LoggerMessage(EventId = NodeLogEvents.MemberRemoving, Level = LogLevel.Warning, Message = "Membership: removing {Raft}")]
    private static partial void LogRemoving(ILogger logger, string raft);

    [LoggerMessage(EventId = NodeLogEvents.MemberRemoved, Level = LogLevel.Warning, Message = "Membership: {Raft} removed (term {Term})")]
    private static partial void LogRemoved(ILogger logger, string raft, long term);

    [LoggerMessage(EventId = NodeLogEvents.LeaderHandingOver, Level = LogLevel.Warning, Message = "Membership: this leader ({Raft}, term {Term}) is to be removed: it steps down and hands the change to the next leader")]
    private static partial void LogHandingOver(ILogger logger, string raft, long term);

    [LoggerMessage(EventId = NodeLogEvents.ToldRemoved, Level = LogLevel.Error, Message = "Membership: the leader says this node was removed from the cluster")]
    private static partial void LogToldRemoved(ILogger logger);

    [LoggerMessage(EventId = NodeLogEvents.RemovedNoticeLost, Level = LogLevel.Warning, Message = "Membership: the removed member at {Peer} could not be told; stop it by hand")]
    private static partial void LogNoticeLost(ILogger logger, string peer);

    [LoggerMessage(EventId = NodeLogEvents.MemberChangeTimedOut, Level = LogLevel.Error, Message = "Membership: {Change} did not finish within {Timeout}")]
    private static partial void LogTimedOut(ILogger logger, string change, TimeSpan timeout);
}

/// <summary>The replies of the MEMBER.* commands.</summary>
public static class MemberReplies
{
    /// <summary>Another change runs on the leader.</summary>
    public static Reply ChangeInProgress { get; } = Reply.Error("ERR another membership change is in progress: one member at a time");

    /// <summary>The only member cannot be removed.</summary>
    public static Reply LastMember { get; } = Reply.Error("ERR cannot remove the last member of the cluster");

    /// <summary>The RESP or peer address is another member's.</summary>
    public static Reply AddressInUse { get; } = Reply.Error("ERR the RESP or peer address is already another member's");

    /// <summary>Already in the configuration.</summary>
    public static Reply AlreadyMember(string raft) => Reply.Error($"ERR {raft} is already a member");

    /// <summary>Not in the configuration.</summary>
    public static Reply NotAMember(string raft) => Reply.Error($"ERR {raft} is not a member");

    /// <summary>The new member did not keep up during its warm-up rounds.</summary>
    public static Reply DidNotCatchUp(string raft) => Reply.Error(
        $"ERR {raft} did not catch up with the leader: is it running with --join (RaftKv:Join=true) and the cluster secret, and reachable from the leader? "
        + "A state whose snapshot cannot cross within raft:rpcTimeout never installs (docs/membership.md)");

    /// <summary>The change did not finish in time (it may still finish: check MEMBER.LIST).</summary>
    public static Reply TimedOut(TimeSpan timeout) => Reply.Error($"UNCERTAIN the membership change did not finish within {timeout.TotalSeconds:0} s: check MEMBER.LIST");

    /// <summary>An address argument is not one.</summary>
    public static Reply BadAddress(string problem) => Reply.Error("ERR " + problem);

    /// <summary>A command on a node that is not (or no longer) a member.</summary>
    public static Reply NotAMemberHere(bool wasMember) => Reply.Error(wasMember
        ? "CLUSTERDOWN this node was removed from the cluster (MEMBER.REMOVE): it serves nothing; stop it"
        : "CLUSTERDOWN this node is not a member yet: it waits to be added (MEMBER.ADD on any member)");
}
