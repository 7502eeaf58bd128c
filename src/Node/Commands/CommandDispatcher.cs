using Microsoft.Extensions.Options;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// Turns each client request into what it is: a transaction step (MULTI/EXEC/WATCH, and anything queued while MULTI
/// is open), a data read or write — handed to the <see cref="CommandRouter"/> —, a parse error answered at once, or a
/// node command answered here. Nothing that arrives on the RESP port is an internal message: the members talk over
/// their own channel (<c>Peers/</c>).
/// </summary>
public sealed partial class CommandDispatcher(
    CommandRouter router,
    NodeCommands nodeCommands,
    IOptions<RespLimits> limits) : IRespRequestHandler
{
    /// <inheritdoc/>
    public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
    {
        var argv = request.Arguments;

        // MULTI/EXEC/DISCARD/WATCH/UNWATCH, and every command while MULTI is open (CommandDispatcher.Transactions.cs).
        if (HandleTransaction(argv, connection) is { } transactional)
            return transactional;

        var parsed = CommandParser.Parse(argv);
        return parsed.Outcome switch
        {
            ParseOutcome.Write => new(router.WriteAsync(parsed.Write!, connection)),
            ParseOutcome.Read => router.ReadAsync(parsed.Read!, connection),
            ParseOutcome.Error => new(parsed.Error!),
            _ => nodeCommands.ExecuteAsync(argv, connection),
        };
    }
}
