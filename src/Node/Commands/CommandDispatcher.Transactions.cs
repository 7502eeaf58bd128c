using System.Text;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

// MULTI / EXEC / DISCARD / WATCH / UNWATCH, with Redis 7.0's replies. While MULTI is open, a connection's commands are
// checked and queued here instead of run. EXEC proposes what was queued as one TransactionCommand through Write, so it
// keeps its place among the connection's reads and writes and reaches the leader like any write (CommandRouter). WATCH is a read —
// after the connection's earlier writes, through the read barrier — that records what each key is; EXEC carries those
// records into the log, and the state machine runs the commands only if every key is still as recorded.
public sealed partial class CommandDispatcher
{
    private readonly int maxTransactionCommands = limits.Value.MaxTransactionCommands;
    private readonly int maxWatchedKeys = limits.Value.MaxWatchedKeys;

    /// <summary>The reply to a transaction command, or to any command while MULTI is open; null for everything else.</summary>
    private ValueTask<Reply>? HandleTransaction(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        var verb = TransactionCommands.Identify(argv);
        var transaction = connection.Transaction;
        var inMulti = transaction is { InMulti: true };
        if (verb == TransactionVerb.None)
            return inMulti ? Queue(argv, transaction!) : null;

        // Redis checks the number of arguments first. Inside MULTI a wrong one fails the transaction, even for these;
        // for EXEC it ends the transaction there and then, and the watches with it, MULTI or not.
        var spec = TransactionCommands.SpecOf(verb);
        if (!CommandParser.HasValidArity(spec.Arity, argv.Length))
        {
            var wrongArity = CommandParser.WrongArity(spec.Name);
            if (verb == TransactionVerb.Exec)
            {
                connection.Transaction = null;
                return new(NodeReplies.ExecAbortBecause(wrongArity));
            }

            return new(inMulti ? Refuse(transaction!, wrongArity) : wrongArity);
        }

        return verb switch
        {
            TransactionVerb.Multi => new(inMulti ? NodeReplies.NestedMulti : Multi(connection)),
            TransactionVerb.Exec => inMulti ? Exec(connection, transaction!) : new(NodeReplies.ExecWithoutMulti),
            TransactionVerb.Discard => new(inMulti ? Discard(connection) : NodeReplies.DiscardWithoutMulti),
            TransactionVerb.Watch => inMulti ? new(NodeReplies.WatchInsideMulti) : Watch(argv, connection),
            _ => inMulti ? Queue(argv, transaction!) : new(Unwatch(connection)),
        };
    }

    private static Reply Multi(RespConnection connection)
    {
        (connection.Transaction ??= new ConnectionTransaction()).BeginMulti();
        return Reply.Ok;
    }

    // Queues a command sent inside MULTI, or refuses it as Redis would before queuing (the name, the number of
    // arguments, commands a transaction cannot hold); a refusal makes EXEC answer EXECABORT. QUIT and RESET run at once.
    private ValueTask<Reply>? Queue(ReadOnlySpan<ReadOnlyMemory<byte>> argv, ConnectionTransaction transaction)
    {
        switch (TransactionCommand.CheckQueued(argv, out var error))
        {
            case QueueCheck.Refuse:
                return new(Refuse(transaction, error!));
            case QueueCheck.NotTransactional:
                var spec = NodeCommandSpec(argv);
                if (spec is null)
                    return new(Refuse(transaction, NodeReplies.UnknownCommand(argv)));
                if (!CommandParser.HasValidArity(spec.Arity, argv.Length))
                    return new(Refuse(transaction, CommandParser.WrongArity(spec.Name)));
                if (spec.Name is "quit" or "reset")
                    return null;

                // The node's own commands (INFO, CLIENT, HELLO...) read or change state outside the log; the state
                // machine cannot answer them inside EXEC.
                return new(Refuse(transaction, TransactionCommand.NotAllowed));
        }

        if (transaction.Queued.Count >= maxTransactionCommands)
            return new(Refuse(transaction, NodeReplies.TooManyQueued(maxTransactionCommands)));

        transaction.Enqueue(argv);
        return new(NodeReplies.Queued);
    }

    private static Reply Refuse(ConnectionTransaction transaction, Reply error)
    {
        transaction.Abort();
        return error;
    }

    private static CommandSpec? NodeCommandSpec(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv.IsEmpty)
            return null;
        foreach (var spec in NodeCommands.Specs)
        {
            if (Ascii.EqualsIgnoreCase(argv[0].Span, spec.Name))
                return spec;
        }

        return null;
    }

    private ValueTask<Reply> Exec(RespConnection connection, ConnectionTransaction transaction)
    {
        // EXEC ends the transaction and forgets the watched keys, whatever it answers.
        connection.Transaction = null;
        if (transaction.IsAborted)
            return new(NodeReplies.ExecAbort);
        if (transaction.Queued.Count == 0 && transaction.Watched.Count == 0)
            return new(Reply.EmptyArray);

        var command = new TransactionCommand
        {
            Commands = [.. transaction.Queued],
            Conditions = [.. transaction.Watched],
        };
        var reply = router.WriteAsync(command, connection);

        // A SELECT inside the transaction leaves the connection in that database, as in Redis. The commands sent after
        // EXEC are handled before its outcome is known, so the switch happens now: also when a changed watched key
        // makes EXEC run nothing (where Redis would stay in the database EXEC started in).
        connection.Database = TransactionCommand.DatabaseAfter(command.Commands, connection.Database);
        return new(reply);
    }

    private static Reply Discard(RespConnection connection)
    {
        // DISCARD drops the queue and, as in Redis, the watched keys.
        connection.Transaction = null;
        return Reply.Ok;
    }

    private ValueTask<Reply> Watch(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        var transaction = connection.Transaction ?? new ConnectionTransaction();
        if (transaction.Watch(connection.Database, argv[1..], maxWatchedKeys) is not { } added)
            return new(NodeReplies.TooManyWatched(maxWatchedKeys));

        connection.Transaction = transaction;
        if (added.Count == 0)
            return new(Reply.Ok);

        // What the keys are is read like any read: after this connection's earlier writes, through the read barrier.
        // EXEC's write waits for this read (the connection's write gate), so it carries complete records. A read that
        // fails leaves its keys unknown, and an EXEC watching them runs nothing.
        return router.ReadAsync(new WatchCommand(added), connection);
    }

    private static Reply Unwatch(RespConnection connection)
    {
        // Outside MULTI the connection's transaction state is only its watched keys.
        connection.Transaction = null;
        return Reply.Ok;
    }
}
