using System.Buffers.Text;
using MessagePack;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// The leader's side of follower forwarding: <c>RAFTKV.PROPOSE db command</c>, where <c>command</c> is the MessagePack
/// of a write a follower parsed, is proposed like a client's write; the reply goes back as a bulk string holding the
/// MessagePack of the <see cref="Reply"/>, so the follower hands its client exactly what the state machine computed,
/// in the client's own protocol version.
/// </summary>
/// <remarks>
/// A node that is not the leader answers as it would a client (<c>MOVED</c>/<c>CLUSTERDOWN</c>, serialised the same
/// way) and never forwards again, so a stale view cannot make writes circle between followers.
/// </remarks>
internal static class ForwardedWrite
{
    public static ReadOnlySpan<byte> Name => "raftkv.propose"u8;

    public static Task<Reply> HandleAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, ClusterView view, Proposer proposer)
    {
        if (argv.Length != 3)
            return Task.FromResult(CommandParser.WrongArity("raftkv.propose"));
        if (!Utf8Parser.TryParse(argv[1].Span, out int database, out var consumed) || consumed != argv[1].Length
            || (uint)database >= KeyValueStore.DatabaseCount)
            return Task.FromResult(KeyValueStore.InvalidDatabase);

        WriteCommand command;
        try
        {
            command = MessagePackSerializer.Deserialize<WriteCommand>(argv[2], KeyValueStore.SerializerOptions);
        }
        catch (MessagePackSerializationException)
        {
            return Task.FromResult(Reply.Error("ERR RAFTKV.PROPOSE: not a write this node understands (are all nodes the same version?)"));
        }

        return view.IsLeader || view.LeaderIsLocal
            ? ProposeAsync(command, database, proposer)
            : Task.FromResult(ToPeer(view.NotLeaderReply()));
    }

    // ProposeAsync joins the open batch before it first awaits, so writes arriving in order are proposed in order.
    private static async Task<Reply> ProposeAsync(WriteCommand command, int database, Proposer proposer)
        => ToPeer(await proposer.ProposeAsync(command, database).ConfigureAwait(false));

    /// <summary>A reply as it travels between nodes: a bulk string holding its MessagePack (read by <c>LeaderLink</c>).</summary>
    public static Reply ToPeer(Reply reply) => Reply.FromBulk(ReplySerializer.Serialize(reply));
}
