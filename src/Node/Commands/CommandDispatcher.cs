using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
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
    CommandStats stats,
    SlowLog slowLog,
    IOptions<RespLimits> limits) : IRespRequestHandler
{
    /// <inheritdoc/>
    public void Accepted(RespConnection connection) => access.Establish(connection);

    /// <inheritdoc/>
    /// <remarks>
    /// Each request is counted (<see cref="CommandStats"/>) and, when slow, logged (<see cref="SlowLog"/>) from
    /// dispatch until its reply is ready: for a write that includes the proposal and commit, for a read its barrier.
    /// A request refused before it runs (wrong arity, NOAUTH, an ACL denial, OOM) is a rejected call, one queued in
    /// MULTI is not a call (EXEC is one call of <c>exec</c>).
    /// </remarks>
    public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
    {
        var argv = request.Arguments;
        var started = Stopwatch.GetTimestamp();
        var spec = argv.IsEmpty ? null : CommandTable.Find(argv[0].Span);
        var counted = CommandStats.Resolve(spec, argv);
        var queued = connection.Transaction is { InMulti: true } && counted?.Name is not ("exec" or "discard" or "multi" or "watch" or "quit" or "reset");
        if (Admit(spec, argv, connection) is { } refused)
        {
            stats.Rejected(counted, refused);
            return new(refused);
        }

        var pending = Route(spec, argv, connection);
        if (counted is null || !CommandParser.HasValidArity(counted.Arity, argv.Length) || queued)
            return pending.IsCompletedSuccessfully ? new(CountRefusal(counted, pending.Result)) : CountRefusalAsync(counted, pending);

        if (pending.IsCompletedSuccessfully)
        {
            var reply = pending.Result;
            Complete(counted, started, reply, connection, argv, null);
            return new(reply);
        }

        return CompleteAsync(counted, started, pending, connection, slowLog.IsOn ? SlowLog.Capture(argv) : null);
    }

    private ValueTask<Reply> Route(CommandSpec? spec, ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
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

    // An unknown command or subcommand, a wrong arity, a command queued in MULTI: no call, its error is counted (a
    // known command's as a rejected call).
    private Reply CountRefusal(CommandSpec? counted, Reply reply)
    {
        if (reply.IsError)
            stats.Rejected(counted, reply);
        return reply;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Reply> CountRefusalAsync(CommandSpec? counted, ValueTask<Reply> pending)
        => CountRefusal(counted, await pending.ConfigureAwait(false));

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Reply> CompleteAsync(CommandSpec counted, long started, ValueTask<Reply> pending, RespConnection connection, byte[]? captured)
    {
        var reply = await pending.ConfigureAwait(false);
        Complete(counted, started, reply, connection, [], captured);
        return reply;
    }

    // -OOM is Redis's refusal before a command runs (processCommand); here the proposer answers it, before the log.
    private void Complete(CommandSpec counted, long started, Reply reply, RespConnection connection, ReadOnlySpan<ReadOnlyMemory<byte>> argv, byte[]? captured)
    {
        var elapsed = Stopwatch.GetTimestamp() - started;
        if (reply.IsError && reply.Text!.StartsWith("OOM ", StringComparison.Ordinal))
        {
            stats.Rejected(counted, reply);
            return;
        }

        stats.Called(counted, elapsed, reply);
        var microseconds = CommandStats.TicksToMicroseconds(elapsed);
        if (!slowLog.IsSlow(microseconds) || counted.Name is "exec")
            return;
        captured ??= argv.IsEmpty ? null : SlowLog.Capture(argv);
        if (captured is not null)
            slowLog.Add(captured, microseconds, Address(connection.RemoteEndPoint), connection.Name ?? "");
    }

    private static string Address(EndPoint? endPoint) => endPoint switch
    {
        IPEndPoint ip => ip.ToString(),
        null => "",
        _ => endPoint.ToString() ?? "",
    };

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
