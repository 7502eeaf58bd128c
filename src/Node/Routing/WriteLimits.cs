using Microsoft.Extensions.Options;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Routing;

/// <summary>
/// This node's limits on what a write may carry into the log. Applied where a write is proposed, so the leader's
/// limits decide: a follower's forwarded write is checked and limited again on the leader, never trusted.
/// </summary>
/// <remarks><c>proto-max-bulk-len</c> is read live from <see cref="ClientLimits"/>, so <c>CONFIG SET</c> applies to the next write.</remarks>
public sealed class WriteLimits(IOptions<RespLimits> limits, ClientLimits clientLimits)
{
    private readonly int maxTransactionCommands = limits.Value.MaxTransactionCommands;

    /// <summary>
    /// Null when <paramref name="command"/> (decoded from a peer, so not necessarily made by our parser) may be
    /// proposed; otherwise the error to answer. The state machine checks the same again at apply.
    /// </summary>
    public Reply? Check(WriteCommand command)
        => command.Validate() ?? command switch
        {
            TransactionCommand transaction when transaction.Commands.Length > maxTransactionCommands => NodeReplies.TooManyQueued(maxTransactionCommands),
            _ => null,
        };

    /// <summary>
    /// <paramref name="command"/> carrying this node's <c>proto-max-bulk-len</c> where it can grow a string (see
    /// <see cref="IStringLengthLimited"/>): the limit travels in the log so every replica judges it alike.
    /// </summary>
    public WriteCommand Apply(WriteCommand command) => Apply(command, clientLimits.MaxBulkLength);

    private static WriteCommand Apply(WriteCommand command, long maxStringLength) => command switch
    {
        IStringLengthLimited limited when limited.MaxLength != maxStringLength => limited.WithMaxLength(maxStringLength),
        TransactionCommand transaction when transaction.MaxStringLength != maxStringLength
            => new TransactionCommand { Commands = transaction.Commands, Conditions = transaction.Conditions, MaxStringLength = maxStringLength },
        SessionExecCommand session when Apply(session.Command, maxStringLength) is var inner && inner != session.Command => session.With(inner),
        _ => command,
    };

    /// <summary>The longest string a write may make (<c>proto-max-bulk-len</c>).</summary>
    public long MaxStringLength => clientLimits.MaxBulkLength;
}
