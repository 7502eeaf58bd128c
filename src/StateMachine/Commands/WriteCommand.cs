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
[Union(0, typeof(SetCommand))]
[Union(1, typeof(DelCommand))]
public abstract class WriteCommand
{
    /// <summary>Applies the command; must be deterministic and leave state untouched when it returns an error.</summary>
    internal abstract Reply Apply(KeyValueStore store, long now);
}

/// <summary>A command that only reads. It never enters the log; it runs on the serving node after a read barrier.</summary>
public abstract class ReadCommand
{
    /// <summary>Reads state as of <paramref name="now"/>; must not mutate anything.</summary>
    internal abstract Reply Execute(KeyValueStore store, long now);
}
