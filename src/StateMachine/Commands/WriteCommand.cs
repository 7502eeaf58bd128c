using MessagePack;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// A command that changes state. It travels through the Raft log inside a <see cref="CommandBatch"/> and is applied
/// on every replica at the batch's cluster time.
/// </summary>
/// <remarks>
/// Union tags and member keys are persisted in the log, which outlives the code that wrote it: they are append-only.
/// Never renumber or reuse one; <c>MessagePackContractTests</c> pins them.
/// </remarks>
/// <para>
/// Each family of commands declares its own tags on a partial declaration of this class in its own file
/// (<c>[Union(n, typeof(...))]</c>); tag ranges: 0–63 strings and keys, 64–79 scripting, 80–95 sessions and locks,
/// 96–111 transactions (MULTI/EXEC).
/// </para>
[Union(0, typeof(SetCommand))]
[Union(1, typeof(DelCommand))]
public abstract partial class WriteCommand
{
    /// <summary>
    /// Checks what the command carries — required fields present, enum values known, numbers within what
    /// <see cref="CommandParser"/> accepts — without looking at any state: a command decoded from the log or from a peer
    /// may hold anything MessagePack can encode. Every command the parser produces is valid.
    /// </summary>
    /// <returns>Null when the command may be applied; otherwise the error to answer instead, an
    /// <c>ERR invalid command: ...</c> reply that is the same on every replica.</returns>
    /// <remarks><see cref="KeyValueStore.Apply"/> calls it before <see cref="Apply"/> and answers the error, changing nothing.</remarks>
    public abstract Reply? Validate();

    /// <summary>
    /// Applies the command; must be deterministic and leave state untouched when it returns an error. Called only on a
    /// command whose <see cref="Validate"/> answered null.
    /// </summary>
    internal abstract Reply Apply(in CommandContext context);
}

/// <summary>A command that only reads. It never enters the log; it runs on the serving node after a read barrier.</summary>
public abstract class ReadCommand
{
    /// <summary>Reads state as of the context's time; must not mutate anything.</summary>
    internal abstract Reply Execute(in CommandContext context);
}
