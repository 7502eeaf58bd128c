using RaftKv.Client.Commands;

namespace RaftKv.Client;

/// <summary>
/// Commands that run together in one <c>MULTI</c>/<c>EXEC</c> — one Raft log entry, applied at one cluster time with
/// nothing in between — if every <see cref="Condition"/> holds: StackExchange.Redis's <c>ITransaction</c>. Each
/// command's task completes once <see cref="ExecuteAsync(CancellationToken)"/> has its outcome.
/// </summary>
/// <remarks>
/// <para>
/// It runs on a connection of its own to the node the shared connection uses (the leader): <c>WATCH</c> and
/// <c>MULTI</c> are state of a connection, which the shared one cannot hold for one caller. A connection on which
/// <c>EXEC</c> answered is kept for later transactions (up to four idle); any other is closed. Errors are per command and nothing rolls back, as in Redis: a command's error fails its own
/// task; the others still ran.
/// </para>
/// <para>
/// What <see cref="ExecuteAsync(CancellationToken)"/> can end in: true (committed; every task has its reply); false
/// (a condition did not hold, or a watched key changed before <c>EXEC</c>: nothing ran, every task is cancelled);
/// <see cref="RaftKvServerException"/> (refused, e.g. <c>EXECABORT</c> after a command was refused while queued:
/// nothing ran); <see cref="RaftKvTimeoutException"/> (never sent <c>EXEC</c> within the operation timeout: nothing
/// ran); <see cref="RaftKvUnknownOutcomeException"/> (<c>EXEC</c> was sent and its reply lost, or
/// <c>-UNCERTAIN</c>: it may have committed, once). Refusals that a retry fixes (<c>-MOVED</c>, <c>-CLUSTERDOWN</c>,
/// a connection lost before <c>EXEC</c> left) retry the whole transaction, conditions included, on another connection.
/// <c>EXEC</c> cannot travel in a session, so its lost reply is never retried: never applied twice, never reported as
/// not committed.
/// </para>
/// <para>Create, fill and execute a transaction from one thread; it is used once.</para>
/// </remarks>
public sealed class RaftKvTransaction : RaftKvCommands
{
    private readonly RaftKvConnection connection;
    private readonly List<Condition> conditions = [];
    private readonly List<QueuedCommand> queued = [];
    private bool executed;

    internal RaftKvTransaction(RaftKvConnection connection) => this.connection = connection;

    /// <summary>How many commands are queued.</summary>
    public int Count => queued.Count;

    /// <summary>Adds a condition every one of which must hold for the transaction to commit.</summary>
    public void AddCondition(Condition condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        EnsureOpen();
        conditions.Add(condition);
    }

    /// <summary>Runs the transaction: checks the conditions, then <c>MULTI</c>, the queued commands and <c>EXEC</c>.</summary>
    /// <returns>True when it committed; false when a condition did not hold or a watched key changed (nothing ran).</returns>
    /// <exception cref="InvalidOperationException">The transaction was executed already.</exception>
    /// <exception cref="OperationCanceledException">The caller cancelled; after <c>EXEC</c> was sent it may have committed.</exception>
    public async Task<bool> ExecuteAsync(CancellationToken cancellationToken = default)
    {
        EnsureOpen();
        executed = true;
        try
        {
            var committed = await connection.RunTransactionAsync(conditions, queued, cancellationToken).ConfigureAwait(false);
            if (!committed)
            {
                foreach (var command in queued)
                    command.Cancel();
            }

            return committed;
        }
        catch (Exception e)
        {
            foreach (var command in queued)
                command.Fail(e);
            throw;
        }
    }

    private protected override Task<T> SubmitAsync<T>(RaftKvCommand command, Func<RespValue, T> convert, CancellationToken cancellationToken)
    {
        EnsureOpen();
        var entry = new QueuedCommand<T>(command, convert, cancellationToken);
        queued.Add(entry);
        return entry.Task;
    }

    private void EnsureOpen()
    {
        if (executed)
            throw new InvalidOperationException("This transaction was executed already; create a new one.");
    }
}
