using Microsoft.Extensions.Options;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;
using RaftKv.Node.Security;
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
    AccessControl access,
    IOptions<RespLimits> limits) : IRespRequestHandler
{
    /// <inheritdoc/>
    public void Accepted(RespConnection connection) => access.Establish(connection);

    /// <inheritdoc/>
    public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
    {
        var argv = request.Arguments;

        // server.c processCommand's order: an unknown name and a wrong number of arguments are answered first, then
        // an unauthenticated connection gets NOAUTH for all but AUTH/HELLO/QUIT/RESET, then the user's permissions
        // are checked — before a command is queued in MULTI, parsed for its syntax or routed.
        var spec = argv.IsEmpty ? null : CommandTable.Find(argv[0].Span);
        if (Admit(spec, argv, connection) is { } refused)
            return new(refused);

        // MULTI/EXEC/DISCARD/WATCH/UNWATCH, and every command while MULTI is open (CommandDispatcher.Transactions.cs).
        if (HandleTransaction(argv, connection) is { } transactional)
            return transactional;

        var parsed = spec is null ? ParsedCommand.Unknown : CommandParser.Parse(spec, argv);
        return parsed.Outcome switch
        {
            ParseOutcome.Write => new(router.WriteAsync(parsed.Write!, connection)),
            ParseOutcome.Read => router.ReadAsync(parsed.Read!, connection),
            ParseOutcome.Error => new(parsed.Error!),
            _ => nodeCommands.ExecuteAsync(argv, connection),
        };
    }

    private Reply? Admit(CommandSpec? spec, ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        access.Establish(connection);
        if (spec is null)
            return null; // unknown: the paths below answer it (and refuse a MULTI it was sent in)

        // A wrong number of arguments: the paths below answer it (it changes nothing), as Redis does before NOAUTH.
        if (!CommandParser.HasValidArity(spec.Arity, argv.Length))
            return null;
        if (connection.Authenticated != true)
            return spec.NoAuth ? null : NodeReplies.NoAuth;

        if (access.Authorize(connection, argv) is not { } denied)
            return null;
        return connection.Transaction is { InMulti: true } transaction ? Refuse(transaction, denied) : denied;
    }
}
