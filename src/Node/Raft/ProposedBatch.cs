using RaftKv.Node.Routing;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Raft;

/// <summary>
/// Writes gathered into one log entry, and the promise of their outcomes. It rides the entry as its context, so the
/// proposing node's apply hands the replies straight back; one completion source serves the whole batch.
/// </summary>
internal sealed class ProposedBatch(int capacity)
{
    private readonly List<WriteCommand> commands = new(Math.Min(capacity, 64));
    private List<byte>? databases;
    private List<string>? users;
    private readonly TaskCompletionSource<BatchResult> result = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Count => commands.Count;

    public bool IsFull => commands.Count >= capacity;

    /// <summary>Completes when apply computed the replies, or the batch ended another way.</summary>
    public Task<BatchResult> Result => result.Task;

    /// <summary>
    /// Adds a command for database <paramref name="database"/>, run as ACL user <paramref name="user"/>; returns its
    /// position, also that of its reply.
    /// </summary>
    public int Add(WriteCommand command, int database, string user = AclTable.DefaultUserName)
    {
        if (users is null && user != AclTable.DefaultUserName)
        {
            // The first command of another user than default makes the batch carry a user per command.
            users = new List<string>(commands.Count + 1);
            users.AddRange(Enumerable.Repeat(AclTable.DefaultUserName, commands.Count));
        }

        users?.Add(user);
        if (database != 0 && databases is null)
        {
            // The first command outside database 0 makes the batch carry a database per command.
            databases = new List<byte>(commands.Count + 1);
            databases.AddRange(Enumerable.Repeat((byte)0, commands.Count));
        }

        databases?.Add((byte)database);
        commands.Add(command);
        return commands.Count - 1;
    }

    public CommandBatch Seal(long timestamp) => new() { Timestamp = timestamp, Commands = [.. commands], Databases = databases?.ToArray(), Users = users?.ToArray() };

    /// <summary>When apply computed the replies (a <see cref="TimeProvider.GetTimestamp"/>), or 0 before.</summary>
    public long AppliedAt { get; private set; }

    /// <summary>
    /// Completes with the replies computed by apply at <paramref name="appliedAt"/> (a timestamp of the node's
    /// <see cref="TimeProvider"/>); false if the batch already ended another way.
    /// </summary>
    public bool Complete(Reply[] computed, long appliedAt)
    {
        AppliedAt = appliedAt;
        return result.TrySetResult(new(computed, WriteOutcomeKind.Answered));
    }

    /// <summary>
    /// Ends every command of the batch with the same outcome: <see cref="WriteOutcomeKind.NotApplied"/> (it never
    /// entered the log) or <see cref="WriteOutcomeKind.Unknown"/>. A no-op once apply answered.
    /// </summary>
    public bool Fail(WriteOutcomeKind outcome) => result.TrySetResult(new(null, outcome));

    /// <summary>The replies, or (when null) how the batch ended without them.</summary>
    public readonly record struct BatchResult(Reply[]? Replies, WriteOutcomeKind Failure)
    {
        /// <summary>The outcome of the command at <paramref name="position"/>.</summary>
        public WriteOutcome At(int position) => Replies is { } replies ? WriteOutcome.Answered(replies[position]) : new(Failure, null);
    }
}
