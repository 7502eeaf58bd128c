using System.Buffers.Text;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;

namespace RaftKv.Node.Commands;

/// <summary>
/// A follower's side of the leader's durability barrier: <c>RAFTKV.DURABLE index</c> waits until this node has applied
/// (hence committed) the entry at <c>index</c> and its write-ahead log's checkpoint covers it, then answers
/// <c>:index</c> (MessagePack in a bulk string, as every internal reply). After that, a crash of this node cannot take
/// the entry back.
/// </summary>
/// <remarks>
/// DotNext 6.12's write-ahead log keeps across a restart only the entries up to its last checkpointed commit index,
/// while a follower acknowledges entries to the leader as soon as it has appended them. Raft's commit rule therefore
/// does not, on its own, make an acknowledged write survive a crash of a majority; see <see cref="DurabilityBarrier"/>.
/// </remarks>
internal static class DurableCheck
{
    public static ReadOnlySpan<byte> Name => "raftkv.durable"u8;

    public static Task<Reply> HandleAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, ClusterView view, LogCheckpoint checkpoint, TimeSpan timeout)
    {
        if (argv.Length != 2)
            return Task.FromResult(StateMachine.Commands.CommandParser.WrongArity("raftkv.durable"));
        if (!Utf8Parser.TryParse(argv[1].Span, out long index, out var consumed) || consumed != argv[1].Length || index < 0)
            return Task.FromResult(Reply.Error("ERR value is not an integer or out of range"));
        if (view.Raft.AuditTrail is not WriteAheadLog wal)
            return Task.FromResult(Reply.Error("ERR this node's log is not a write-ahead log"));
        return ConfirmAsync(wal, checkpoint, index, timeout);
    }

    private static async Task<Reply> ConfirmAsync(WriteAheadLog wal, LogCheckpoint checkpoint, long index, TimeSpan timeout)
    {
        using var expiry = new CancellationTokenSource(timeout);
        try
        {
            await wal.WaitForApplyAsync(index, expiry.Token).ConfigureAwait(false);
            await checkpoint.WaitUntilCoversAsync(index, expiry.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return Reply.FromBulk(ReplySerializer.Serialize(Reply.Error($"TRYAGAIN entry {index} not committed here yet")));
        }

        return Reply.FromBulk(ReplySerializer.Serialize(Reply.FromInteger(index)));
    }
}
