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
/// 96–111 transactions (MULTI/EXEC), 112–127 configuration of the replicated state (<c>maxmemory</c>), 128–143 ACL users.
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
    /// Applies the command, unless <c>maxmemory</c> refuses it: a command that can grow used memory (Redis's
    /// <c>denyoom</c>, see <see cref="MemoryGrowth"/>) answers <c>-OOM</c> and changes nothing when
    /// <c>used_memory + growth &gt; maxmemory</c>. Called only on a command whose <see cref="Validate"/> answered null.
    /// </summary>
    /// <remarks>
    /// The one entry point of every write — at the top of an entry, inside <c>SESSION.EXEC</c>, <c>EXEC</c> and scripts —
    /// so the memory limit holds wherever a write runs. The check looks at the command and the state only, before
    /// anything is allocated, so every replica refuses the same write.
    /// </remarks>
    internal Reply Apply(in CommandContext context)
        => context.Store.MaxMemory > 0 && MemoryGrowth(context) is { } growth && !context.Store.Admits(growth)
            ? RedisErrors.OutOfMemory
            : ApplyCore(context);

    /// <summary>
    /// For a command that may grow used memory (Redis's <c>denyoom</c>: SET, APPEND, SETRANGE, INCR, SESSION.OPEN...),
    /// the most bytes of <c>used_memory</c> it can add, judged from its arguments and the state before it runs and
    /// without allocating; 0 when that is not known in advance (the command then checks
    /// <see cref="KeyValueStore.Admits"/> itself before it stores). Null for a command <c>maxmemory</c> never refuses
    /// (DEL, EXPIRE, FLUSHALL, LOCK.RELEASE...). Asked only while a <c>maxmemory</c> is set.
    /// </summary>
    internal virtual long? MemoryGrowth(in CommandContext context) => null;

    /// <summary>
    /// Applies the command; must be deterministic and leave state untouched when it returns an error. Called through
    /// <see cref="Apply"/> only.
    /// </summary>
    private protected abstract Reply ApplyCore(in CommandContext context);
}

/// <summary>A command that only reads. It never enters the log; it runs on the serving node after a read barrier.</summary>
public abstract class ReadCommand
{
    /// <summary>Reads state as of the context's time; must not mutate anything.</summary>
    internal abstract Reply Execute(in CommandContext context);
}
