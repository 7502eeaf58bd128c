using RaftKv.Client.Commands;

namespace RaftKv.Client;

/// <summary>
/// Commands held until <see cref="Execute"/> sends them together, in the order queued, pipelined on the connection's
/// one socket — StackExchange.Redis's <c>IBatch</c>. Each command keeps its own task, which completes when its reply
/// arrives; a batch is not a transaction (see <see cref="RaftKvTransaction"/>).
/// </summary>
/// <remarks>
/// Every command is delivered as it would be alone: reads plain, writes exactly once in the connection's session,
/// each retried on its own after a failover. So, as with <c>IBatch</c>, nothing is atomic, and a command retried after
/// a leader change may take effect after commands queued behind it. Create, fill and execute a batch from one thread;
/// it is used once.
/// </remarks>
public sealed class RaftKvBatch : RaftKvCommands
{
    private readonly RaftKvConnection connection;
    private readonly List<QueuedCommand> queued = [];
    private bool executed;

    internal RaftKvBatch(RaftKvConnection connection) => this.connection = connection;

    /// <summary>How many commands are queued.</summary>
    public int Count => queued.Count;

    /// <summary>Sends every queued command; their tasks complete as the replies arrive.</summary>
    /// <exception cref="InvalidOperationException">The batch was executed already.</exception>
    public void Execute()
    {
        EnsureOpen();
        executed = true;
        foreach (var command in queued)
            command.StartOn(connection);
        queued.Clear();
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
            throw new InvalidOperationException("This batch was executed already; create a new one.");
    }
}
